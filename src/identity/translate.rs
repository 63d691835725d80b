//! NT ACL -> ScaiDrive ACEs: a pure function over plain values (`NtAcl`), no I/O.
//!
//! The one rule behind every choice here: **never grant more in ScaiDrive than SMB does**. ScaiDrive's model is
//! three ordered levels (`read` < `write` < `manage`) with "deny wins" (`drive::acl`), which cannot express every
//! NT DACL, so where the two disagree the translation grants less, never more.
//!
//! Levels of an NT access mask (generic bits mapped to file bits first, MS-DTYP 2.4.3 / `FILE_GENERIC_*`):
//! - `read`: FILE_READ_DATA (LIST_DIRECTORY on folders).
//! - `write`: `read` plus FILE_WRITE_DATA or FILE_APPEND_DATA (ADD_FILE / ADD_SUBDIRECTORY).
//! - `manage`: `write` plus WRITE_DAC or WRITE_OWNER (full control, or anyone who can rewrite the ACL).
//!   A write-only mask (no READ_DATA) is no level at all: ScaiDrive `write` would add `read`.
//!
//! Allow ACEs: per principal, the masks of its allow ACEs that apply to the object are united, then reduced to a
//! level. Deny ACEs: a deny that touches a bit a level needs denies that level (and so every level above it):
//! READ_DATA, READ_CONTROL or SYNCHRONIZE -> deny `read` (Samba refuses even opening for read when READ_CONTROL
//! or SYNCHRONIZE is denied, as a deny built from FILE_GENERIC_WRITE does), WRITE_DATA/APPEND_DATA -> deny
//! `write`, WRITE_DAC/WRITE_OWNER -> deny `manage`. ScaiDrive denies always win, where NT lets an earlier allow
//! win over a later deny (non-canonical order): the translation is then stricter than SMB, never looser.
//!
//! Well-known SIDs (an explicit mapping of the SID always wins over the meaning below):
//! - Everyone (S-1-1-0), Authenticated Users (S-1-5-11), BUILTIN\Users (S-1-5-32-545): the store has no "all
//!   users" principal. An allow is skipped with a warning (map the SID to a ScaiDrive group to keep it); a deny
//!   applies to everybody, so it caps every allow of the result (exact).
//! - BUILTIN\Administrators (S-1-5-32-544), SYSTEM (S-1-5-18): skipped without a warning when they allow:
//!   ScaiDrive admins hold `manage` everywhere anyway, and SYSTEM is the server itself.
//! - CREATOR OWNER (S-1-3-0), CREATOR GROUP (S-1-3-1): placeholders that only shape what children inherit; they
//!   never match anyone on the object itself, so they are skipped.
//! - OWNER RIGHTS (S-1-3-4): the object's owner, when the owner is mapped; skipped with a warning otherwise.
//! - The owner's implicit READ_CONTROL | WRITE_DAC is not translated (it is not a level of its own, and
//!   turning it into `manage` would grant more than the DACL shows).
//!
//! Any deny whose trustee cannot be mapped (an unmapped group, Administrators, an unknown SID) may hit members
//! ScaiDrive cannot see, so it caps every allow of the result, with a warning: safe, and loud.
//!
//! An allow whose trustee cannot be mapped (not a well-known SID) goes to the connector's service account
//! (`fallback`) at the same level, with a warning, as the spec says ("unmapped SMB principals ... fall back to the
//! connector service account"), and as the SharePoint translation does: a file with broken inheritance stays
//! reachable by the account that syncs it rather than by nobody. That is not more than SMB grants: the service
//! account reads and writes the whole share to sync it. Denies never go to the fallback (they cap everybody).
//!
//! Special DACLs: no DACL at all grants everyone everything: like Everyone, not expressible, so no ACE is added
//! (warning) and the parent's ACEs are inherited; an empty DACL grants nobody anything: no ACE, inheritance off.
//!
//! Inheritance: ACEs marked INHERITED become `inherited: true` ScaiDrive ACEs; INHERIT_ONLY ACEs do not apply to
//! the object and are skipped. The object's DACL already holds its inherited entries, so its ScaiDrive list is
//! complete on its own. ScaiDrive's `inherit` flag would add the parent's ACEs on top, which can grant more (a
//! "this folder only" allow on the parent). So `inherit` is true only when the DACL is not protected **and** the
//! result already covers every allow of the parent's ScaiDrive list (`parent: Some(..)`), so inheriting changes
//! nothing. At the connector's root (`parent: None`) `inherit` follows the protected bit alone: the ACEs above
//! it are the admin's, set in ScaiDrive on purpose.

use std::collections::BTreeMap;

use crate::drive::{Ace, AceSource, AceType, Permission, PrincipalId};
use crate::sides::smb::acl::{AceKind, NtAcl};
use crate::sides::smb::lsa::Sid;

/// NT access-mask bits the translation looks at (MS-DTYP 2.4.3, file and directory rights).
pub mod mask {
    pub const READ_DATA: u32 = 0x1;
    pub const WRITE_DATA: u32 = 0x2;
    pub const APPEND_DATA: u32 = 0x4;
    pub const READ_CONTROL: u32 = 0x2_0000;
    pub const WRITE_DAC: u32 = 0x4_0000;
    pub const WRITE_OWNER: u32 = 0x8_0000;
    pub const SYNCHRONIZE: u32 = 0x10_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const GENERIC_READ: u32 = 0x8000_0000;
    pub const FILE_GENERIC_READ: u32 = 0x12_0089;
    pub const FILE_GENERIC_WRITE: u32 = 0x12_0116;
    pub const FILE_GENERIC_EXECUTE: u32 = 0x12_00A0;
    pub const FILE_ALL_ACCESS: u32 = 0x1F_01FF;
}

/// Generic bits replaced by the file rights they stand for (the file object's generic mapping).
pub fn map_generic(m: u32) -> u32 {
    let mut out = m & !(mask::GENERIC_ALL | mask::GENERIC_EXECUTE | mask::GENERIC_WRITE | mask::GENERIC_READ);
    for (generic, specific) in [
        (mask::GENERIC_READ, mask::FILE_GENERIC_READ),
        (mask::GENERIC_WRITE, mask::FILE_GENERIC_WRITE),
        (mask::GENERIC_EXECUTE, mask::FILE_GENERIC_EXECUTE),
        (mask::GENERIC_ALL, mask::FILE_ALL_ACCESS),
    ] {
        if m & generic != 0 {
            out |= specific;
        }
    }
    out
}

/// The ScaiDrive level an (already mapped) NT mask amounts to, if any.
pub fn level_of(m: u32) -> Option<Permission> {
    if m & mask::READ_DATA == 0 {
        return None;
    }
    if m & (mask::WRITE_DATA | mask::APPEND_DATA) == 0 {
        return Some(Permission::Read);
    }
    if m & (mask::WRITE_DAC | mask::WRITE_OWNER) == 0 {
        return Some(Permission::Write);
    }
    Some(Permission::Manage)
}

/// The lowest level an (already mapped) deny mask takes away, if any (see the module docs).
pub fn denied_level_of(m: u32) -> Option<Permission> {
    if m & (mask::READ_DATA | mask::READ_CONTROL | mask::SYNCHRONIZE) != 0 {
        Some(Permission::Read)
    } else if m & (mask::WRITE_DATA | mask::APPEND_DATA) != 0 {
        Some(Permission::Write)
    } else if m & (mask::WRITE_DAC | mask::WRITE_OWNER) != 0 {
        Some(Permission::Manage)
    } else {
        None
    }
}

/// What a well-known SID means here (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellKnown {
    /// Everyone, Authenticated Users, BUILTIN\Users.
    AllUsers,
    /// BUILTIN\Administrators, SYSTEM.
    Administrators,
    /// CREATOR OWNER, CREATOR GROUP.
    CreatorPlaceholder,
    OwnerRights,
}

pub fn well_known(sid: &Sid) -> Option<WellKnown> {
    match (sid.authority, sid.sub_authorities.as_slice()) {
        (1, [0]) | (5, [11]) | (5, [32, 545]) => Some(WellKnown::AllUsers),
        (5, [32, 544]) | (5, [18]) => Some(WellKnown::Administrators),
        (3, [0]) | (3, [1]) => Some(WellKnown::CreatorPlaceholder),
        (3, [4]) => Some(WellKnown::OwnerRights),
        _ => None,
    }
}

/// Something the translation could not carry over exactly; the job log lists these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An allow for everybody (Everyone, Authenticated Users, BUILTIN\Users) or no DACL at all: not granted.
    AllUsersNotGranted { sid: Option<Sid> },
    /// An allow for a principal with no mapping: not granted.
    UnmappedAllow { sid: Sid },
    /// A deny for a principal ScaiDrive cannot see: applied to everybody instead.
    DenyAppliedToAll { sid: Sid },
    /// The owner has no mapping (the caller applies the fallback).
    UnmappedOwner { sid: Option<Sid> },
    /// Conditional or object ACEs: the condition is not evaluated; allows are skipped, denies applied to all.
    UnsupportedAce { kind: AceKind },
}

/// The ScaiDrive form of one object's NT ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Translation {
    /// The owner's principal when it maps; `None`: fall back (and see `warnings`).
    pub owner: Option<PrincipalId>,
    pub aces: Vec<Ace>,
    /// The ScaiDrive `inherit` flag for `Drive::set_aces`.
    pub inherit: bool,
    pub warnings: Vec<Warning>,
}

/// Translates `acl`. `map` gives the ScaiDrive principal of a SID (explicit, email or name mapping), `fallback`
/// the service account that takes unmapped principals' allows (see the module docs). `parent` is the parent's
/// stored ScaiDrive ACE list, `None` at the connector's root.
pub fn translate(
    acl: &NtAcl,
    map: &dyn Fn(&Sid) -> Option<PrincipalId>,
    fallback: Option<PrincipalId>,
    parent: Option<&[Ace]>,
) -> Translation {
    let owner = acl.owner.as_ref().and_then(map);
    let mut warnings = Vec::new();
    if owner.is_none() {
        warnings.push(Warning::UnmappedOwner { sid: acl.owner.clone() });
    }
    let Some(dacl) = &acl.dacl else {
        // SMB grants everyone everything: whatever the parent's ACEs grant is less, so inheriting them is safe.
        warnings.push(Warning::AllUsersNotGranted { sid: None });
        return Translation { owner, aces: Vec::new(), inherit: true, warnings };
    };

    // Per (principal, inherited): united allow masks; per principal: lowest denied level; a cap for all.
    let mut allows: BTreeMap<(String, bool), (PrincipalId, u32)> = BTreeMap::new();
    let mut denies: BTreeMap<(String, bool), (PrincipalId, Permission)> = BTreeMap::new();
    let mut cap_all: Option<Permission> = None;
    let lower = |a: Option<Permission>, b: Permission| Some(a.map_or(b, |a| a.min(b)));

    for ace in dacl.iter().filter(|a| !a.inherit_only()) {
        let m = map_generic(ace.mask);
        let Some(sid) = &ace.sid else { continue };
        let supported = matches!(ace.kind, AceKind::Allow | AceKind::Deny);
        if !supported {
            if ace.kind.denies() {
                if let Some(level) = denied_level_of(m) {
                    cap_all = lower(cap_all, level);
                    warnings.push(Warning::UnsupportedAce { kind: ace.kind });
                }
            } else if !matches!(ace.kind, AceKind::Other(_)) && level_of(m).is_some() {
                warnings.push(Warning::UnsupportedAce { kind: ace.kind });
            }
            continue;
        }
        let known = well_known(sid);
        let principal = match known {
            Some(WellKnown::OwnerRights) => map(sid).or(owner),
            _ => map(sid),
        };
        if ace.kind.denies() {
            let Some(level) = denied_level_of(m) else { continue };
            match principal {
                Some(p) => {
                    let slot = denies.entry((p.to_string(), ace.inherited())).or_insert((p, level));
                    slot.1 = slot.1.min(level);
                }
                // CREATOR placeholders match no one on the object itself.
                None if known == Some(WellKnown::CreatorPlaceholder) => {}
                None => {
                    cap_all = lower(cap_all, level);
                    if known != Some(WellKnown::AllUsers) {
                        warnings.push(Warning::DenyAppliedToAll { sid: sid.clone() });
                    }
                }
            }
            continue;
        }
        match (principal, known) {
            (Some(p), _) => allows.entry((p.to_string(), ace.inherited())).or_insert((p, 0)).1 |= m,
            (None, Some(WellKnown::AllUsers)) if level_of(m).is_some() => {
                warnings.push(Warning::AllUsersNotGranted { sid: Some(sid.clone()) })
            }
            (None, Some(WellKnown::Administrators | WellKnown::CreatorPlaceholder)) => {}
            (None, _) if level_of(m).is_some() => {
                warnings.push(Warning::UnmappedAllow { sid: sid.clone() });
                if let Some(f) = fallback {
                    allows.entry((f.to_string(), ace.inherited())).or_insert((f, 0)).1 |= m;
                }
            }
            (None, _) => {}
        }
    }

    let mut aces = Vec::new();
    for ((_, inherited), (p, level)) in &denies {
        aces.push(ace(*p, *level, AceType::Deny, *inherited));
    }
    for ((_, inherited), (p, m)) in &allows {
        let capped = match (level_of(*m), cap_all) {
            (_, Some(Permission::Read)) | (None, _) => None,
            (Some(l), Some(Permission::Write)) => Some(l.min(Permission::Read)),
            (Some(l), Some(Permission::Manage)) => Some(l.min(Permission::Write)),
            (Some(l), None) => Some(l),
        };
        if let Some(level) = capped {
            aces.push(ace(*p, level, AceType::Allow, *inherited));
        }
    }
    let inherit = !acl.dacl_protected && !dacl.is_empty() && covers(&aces, parent);
    Translation { owner, aces, inherit, warnings }
}

fn ace(principal_id: PrincipalId, permission: Permission, kind: AceType, inherited: bool) -> Ace {
    Ace { principal_id, permission, kind, inherited, source: AceSource::Smb }
}

/// Whether inheriting `parent` on top of `aces` grants nothing more: every allow of the parent is matched by an
/// allow of at least its level for the same principal. The parent's denies only take away, so they do not count.
fn covers(aces: &[Ace], parent: Option<&[Ace]>) -> bool {
    let Some(parent) = parent else { return true };
    parent.iter().filter(|a| a.kind == AceType::Allow).all(|pa| {
        aces.iter()
            .any(|a| a.kind == AceType::Allow && a.principal_id == pa.principal_id && a.permission >= pa.permission)
    })
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
