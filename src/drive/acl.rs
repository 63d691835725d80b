//! Access entries (ACEs) on a share's root and on entries, and effective access.
//!
//! Rules, chosen to be simple to explain:
//! - An entry's effective ACEs are its own plus those of every folder above it up to the share root, stopping
//!   above the first entry (itself included) whose `inherit` is false.
//! - The caller's principals are the user and every group [`Membership`] lists for it.
//! - `manage` includes `write`, which includes `read`. The best matching `allow` gives a level; then any matching
//!   `deny` wins over every allow, wherever it sits: denying a permission also denies those above it (deny
//!   `write` leaves at most `read`; deny `read` leaves nothing).
//! - The `inherited` flag and `source` are kept as the connectors report them; they do not change evaluation.
//! - Admins: a [`Caller`] with `admin: true` has `manage` everywhere (the appliance's admins own its data). The
//!   API decides who counts as an admin.
//! - [`Drive::authorize`] answers `NotFound` to a caller with no access at all, so a path's existence does not
//!   leak, and `PermissionDenied` to one who may look but not do.

use std::fmt;
use std::str::FromStr;

use redb::{ReadableDatabase, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::Drive;
use super::codec::{Dec, Enc};
use super::entries::{EntryRef, find};
use super::error::{DriveError, DriveResult};
use super::paths::DrivePath;
use super::shares::Share;
use super::tables::{ACES, CHILDREN, ENTRIES, EntryRecord, SHARES};
use super::tree::{WriteTables, get_child, load_share};
use crate::ids::{GroupId, ShareId, UserId};

/// A user or a group, printed with its prefix (`usr_…` / `grp_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalId {
    User(UserId),
    Group(GroupId),
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => u.fmt(f),
            Self::Group(g) => g.fmt(f),
        }
    }
}

impl FromStr for PrincipalId {
    type Err = DriveError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with(UserId::PREFIX) {
            s.parse().map(Self::User).map_err(|e| DriveError::InvalidArgument(e.to_string()))
        } else {
            s.parse().map(Self::Group).map_err(|e| DriveError::InvalidArgument(e.to_string()))
        }
    }
}

impl Serialize for PrincipalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PrincipalId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a principal may do; ordered, each level including the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Read,
    Write,
    /// Includes MANAGE_PERMISSIONS (changing ACEs, creating a connector on the share).
    Manage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AceType {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AceSource {
    Smb,
    Sharepoint,
    Manual,
}

/// One access entry, in the spec's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ace {
    pub principal_id: PrincipalId,
    pub permission: Permission,
    #[serde(rename = "type")]
    pub kind: AceType,
    #[serde(default)]
    pub inherited: bool,
    pub source: AceSource,
}

/// Owner, ACEs and `inherit` flag for one entry (see [`Drive::set_permissions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPermissions {
    pub entry: crate::ids::EntryId,
    /// `None`: no owner (a file nobody in ScaiDrive owns).
    pub owner: Option<UserId>,
    pub aces: Vec<Ace>,
    pub inherit: bool,
}

/// Group membership, implemented by the appliance over its user and group tables.
pub trait Membership {
    fn groups_of(&self, user: UserId) -> Vec<GroupId>;
}

/// No groups at all (tests, system callers).
impl Membership for () {
    fn groups_of(&self, _: UserId) -> Vec<GroupId> {
        Vec::new()
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub admin: bool,
}

/// The outcome of evaluation: the highest permission held, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Access {
    pub permission: Option<Permission>,
    pub read: bool,
    pub write: bool,
    pub manage: bool,
}

impl Access {
    fn of(permission: Option<Permission>) -> Self {
        let has = |p| permission.is_some_and(|held| held >= p);
        Self { permission, read: has(Permission::Read), write: has(Permission::Write), manage: has(Permission::Manage) }
    }

    pub fn allows(&self, p: Permission) -> bool {
        self.permission.is_some_and(|held| held >= p)
    }
}

const ACE_V: u8 = 1;

fn encode(aces: &[Ace]) -> Vec<u8> {
    let mut e = Enc::new(ACE_V);
    e.varint(aces.len() as u64);
    for a in aces {
        match a.principal_id {
            PrincipalId::User(u) => e.u8(1).bytes(&u.to_bytes()),
            PrincipalId::Group(g) => e.u8(2).bytes(&g.to_bytes()),
        };
        e.u8(a.permission as u8).u8(u8::from(a.kind == AceType::Deny)).u8(u8::from(a.inherited)).u8(a.source as u8);
    }
    e.finish()
}

fn decode(buf: &[u8]) -> DriveResult<Vec<Ace>> {
    const T: &str = "drive_aces";
    let bad = || DriveError::Corrupt(T);
    let mut d = Dec::new(buf, T, ACE_V)?;
    let n = d.varint()?;
    let mut out = Vec::new();
    for _ in 0..n {
        let principal_id = match d.u8()? {
            1 => PrincipalId::User(UserId::from_bytes(d.arr()?)),
            2 => PrincipalId::Group(GroupId::from_bytes(d.arr()?)),
            _ => return Err(bad()),
        };
        let permission = match d.u8()? {
            0 => Permission::Read,
            1 => Permission::Write,
            2 => Permission::Manage,
            _ => return Err(bad()),
        };
        let kind = if d.u8()? == 1 { AceType::Deny } else { AceType::Allow };
        let inherited = d.u8()? == 1;
        let source = match d.u8()? {
            0 => AceSource::Smb,
            1 => AceSource::Sharepoint,
            2 => AceSource::Manual,
            _ => return Err(bad()),
        };
        out.push(Ace { principal_id, permission, kind, inherited, source });
    }
    Ok(out)
}

/// Writes an entry's ACE list (an empty list removes the row).
pub(super) fn store_aces(txn: &WriteTransaction, entry: crate::ids::EntryId, aces: &[Ace]) -> DriveResult<()> {
    let mut table = txn.open_table(ACES)?;
    if aces.is_empty() {
        table.remove(entry.to_bytes())?;
    } else {
        table.insert(entry.to_bytes(), encode(aces).as_slice())?;
    }
    Ok(())
}

/// The deny-before-allow evaluation over ACE lists from the entry upwards.
fn evaluate<'a>(lists: impl Iterator<Item = &'a Ace>, principals: &[PrincipalId]) -> Access {
    let mut allowed: Option<Permission> = None;
    let mut denied: Option<Permission> = None;
    for ace in lists.filter(|a| principals.contains(&a.principal_id)) {
        match ace.kind {
            AceType::Allow => allowed = allowed.max(Some(ace.permission)),
            AceType::Deny => denied = Some(denied.map_or(ace.permission, |d| d.min(ace.permission))),
        }
    }
    let capped = match (allowed, denied) {
        (_, Some(Permission::Read)) => None,
        (Some(a), Some(Permission::Write)) => Some(a.min(Permission::Read)),
        (Some(a), Some(Permission::Manage)) => Some(a.min(Permission::Write)),
        (a, _) => a,
    };
    Access::of(capped)
}

impl Drive {
    /// An entry's own ACEs and whether it inherits from the folders above (`inherit`).
    pub fn aces(&self, share_id: ShareId, target: &EntryRef) -> DriveResult<(Vec<Ace>, bool)> {
        let txn = self.db().begin_read()?;
        let (entries, children, shares) =
            (txn.open_table(ENTRIES)?, txn.open_table(CHILDREN)?, txn.open_table(SHARES)?);
        let (_, _, record) = find(&entries, &children, &shares, share_id, target)?;
        let aces = match txn.open_table(ACES)?.get(record.id.to_bytes())? {
            Some(v) => decode(v.value())?,
            None => Vec::new(),
        };
        Ok((aces, !record.inherit_broken))
    }

    /// Replaces an entry's (or, at `/`, the share's) ACEs and its `inherit` flag.
    pub fn set_aces(&self, share_id: ShareId, target: &EntryRef, aces: &[Ace], inherit: bool) -> DriveResult<()> {
        let txn = self.db().begin_write()?;
        {
            let mut t = WriteTables::open(&txn)?;
            let (_, loc, mut record) = find(&t.entries, &t.children, &t.shares, share_id, target)?;
            if record.inherit_broken == inherit {
                record.inherit_broken = !inherit;
                t.update_entry(loc.parent, &loc.name, &record)?;
            }
            store_aces(&txn, record.id, aces)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Sets owner, ACEs and `inherit` of several entries in one transaction (a connector's permission pass: one
    /// commit per batch instead of one per entry). An entry that is gone meanwhile is skipped and returned, so
    /// the caller can retry it next run; any other failure writes nothing.
    pub fn set_permissions(
        &self,
        share_id: ShareId,
        batch: &[EntryPermissions],
    ) -> DriveResult<Vec<crate::ids::EntryId>> {
        let txn = self.db().begin_write()?;
        let mut missing = Vec::new();
        {
            let mut t = WriteTables::open(&txn)?;
            for p in batch {
                let (_, loc, mut record) =
                    match find(&t.entries, &t.children, &t.shares, share_id, &EntryRef::Id(p.entry)) {
                        Ok(found) => found,
                        Err(DriveError::NotFound(_)) => {
                            missing.push(p.entry);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                if record.inherit_broken == p.inherit || record.owner != p.owner {
                    record.inherit_broken = !p.inherit;
                    record.owner = p.owner;
                    t.update_entry(loc.parent, &loc.name, &record)?;
                }
                store_aces(&txn, record.id, &p.aces)?;
            }
        }
        txn.commit()?;
        Ok(missing)
    }

    /// What `principal` may do at `path` (or at its deepest existing folder when nothing is there yet).
    pub fn effective_access(
        &self,
        share_id: ShareId,
        path: &DrivePath,
        principal: PrincipalId,
        membership: &dyn Membership,
    ) -> DriveResult<Access> {
        let mut principals = vec![principal];
        if let PrincipalId::User(u) = principal {
            principals.extend(membership.groups_of(u).into_iter().map(PrincipalId::Group));
        }
        let txn = self.db().begin_read()?;
        let (children, shares, aces) = (txn.open_table(CHILDREN)?, txn.open_table(SHARES)?, txn.open_table(ACES)?);
        load_share(&shares, share_id)?;
        // Root to the deepest existing entry on the path.
        let mut chain: Vec<EntryRecord> =
            vec![get_child(&children, share_id.to_bytes(), "")?.ok_or_else(|| DriveError::Corrupt("drive_children"))?];
        for name in path.components() {
            let Some(last) = chain.last() else { break };
            if !last.is_folder() {
                break;
            }
            match get_child(&children, last.id.to_bytes(), name)? {
                Some(next) => chain.push(next),
                None => break,
            }
        }
        let mut lists = Vec::new();
        for record in chain.iter().rev() {
            if let Some(v) = aces.get(record.id.to_bytes())? {
                lists.extend(decode(v.value())?);
            }
            if record.inherit_broken {
                break;
            }
        }
        Ok(evaluate(lists.iter(), &principals))
    }

    /// Checks that `caller` holds `needed` at `path`: `NotFound` when it holds nothing there (so the path's
    /// existence does not leak), `PermissionDenied` when it holds less.
    pub fn authorize(
        &self,
        share_id: ShareId,
        path: &DrivePath,
        caller: Caller,
        needed: Permission,
        membership: &dyn Membership,
    ) -> DriveResult<Access> {
        if caller.admin {
            return Ok(Access::of(Some(Permission::Manage)));
        }
        let access = self.effective_access(share_id, path, PrincipalId::User(caller.user), membership)?;
        if !access.read {
            return Err(DriveError::NotFound(format!("'{path}'")));
        }
        if !access.allows(needed) {
            return Err(DriveError::PermissionDenied(format!("{needed:?} access to '{path}' is needed")));
        }
        Ok(access)
    }

    /// The shares `caller` can read at their root.
    pub fn readable_shares(&self, caller: Caller, membership: &dyn Membership) -> DriveResult<Vec<Share>> {
        let mut out = Vec::new();
        for share in self.shares()? {
            if caller.admin
                || self.effective_access(share.id, &DrivePath::root(), PrincipalId::User(caller.user), membership)?.read
            {
                out.push(share);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ace(p: PrincipalId, permission: Permission, kind: AceType) -> Ace {
        Ace { principal_id: p, permission, kind, inherited: false, source: AceSource::Manual }
    }

    #[test]
    fn deny_beats_allow_and_caps_the_levels_above() {
        let u = PrincipalId::User(UserId::new());
        let g = PrincipalId::Group(GroupId::new());
        let aces = [ace(u, Permission::Manage, AceType::Allow), ace(g, Permission::Write, AceType::Deny)];
        assert_eq!(evaluate(aces.iter(), &[u]).permission, Some(Permission::Manage));
        assert_eq!(evaluate(aces.iter(), &[u, g]).permission, Some(Permission::Read));
        let read_denied = [ace(u, Permission::Manage, AceType::Allow), ace(u, Permission::Read, AceType::Deny)];
        assert_eq!(evaluate(read_denied.iter(), &[u]).permission, None);
    }

    #[test]
    fn aces_round_trip_through_the_codec_and_json() {
        let aces = vec![
            ace(PrincipalId::User(UserId::new()), Permission::Read, AceType::Allow),
            Ace {
                inherited: true,
                source: AceSource::Smb,
                ..ace(PrincipalId::Group(GroupId::new()), Permission::Write, AceType::Deny)
            },
        ];
        assert_eq!(decode(&encode(&aces)).unwrap(), aces);
        let json = serde_json::to_value(&aces[1]).unwrap();
        assert_eq!(json["type"], "deny");
        assert_eq!(json["source"], "smb");
        assert!(json["principal_id"].as_str().unwrap().starts_with("grp_"));
        assert_eq!(serde_json::from_value::<Ace>(json).unwrap(), aces[1]);
    }
}
