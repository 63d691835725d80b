//! `NtAcl`: a file's owner, group and DACL in plain values (SIDs, masks, flags), so the pure
//! ACL translation (issue 7) needs no `smb` crate types. Reading only: the sync does not write
//! ACLs back to SMB.

use serde::{Deserialize, Serialize};
use smb::{AceValue, SecurityDescriptor};

use super::client::SmbClient;
use super::errors::SmbError;
use super::lsa::Sid;

/// What an ACE does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AceKind {
    Allow,
    Deny,
    /// Object ACEs (Active Directory objects); on files they should not occur.
    AllowObject,
    DenyObject,
    /// Conditional (callback) ACEs: the condition is not evaluated here.
    AllowCallback,
    DenyCallback,
    /// Audit, label and other ACE types that grant and deny nothing (raw ACE type).
    Other(u8),
}

impl AceKind {
    /// Whether the ACE can take rights away (a translation must never ignore these).
    pub fn denies(self) -> bool {
        matches!(self, AceKind::Deny | AceKind::DenyObject | AceKind::DenyCallback)
    }
}

/// ACE header flags (MS-DTYP 2.4.4.1).
pub mod ace_flags {
    pub const OBJECT_INHERIT: u8 = 0x01;
    pub const CONTAINER_INHERIT: u8 = 0x02;
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    pub const INHERIT_ONLY: u8 = 0x08;
    pub const INHERITED: u8 = 0x10;
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NtAce {
    pub kind: AceKind,
    /// `ace_flags` bits.
    pub flags: u8,
    /// The access mask, generic bits as stored (map them before reducing to read/write/full).
    pub mask: u32,
    /// The trustee; `None` only for ACE types without one.
    pub sid: Option<Sid>,
}

impl NtAce {
    pub fn inherited(&self) -> bool {
        self.flags & ace_flags::INHERITED != 0
    }

    /// Applies to a container's children only, not to the object itself.
    pub fn inherit_only(&self) -> bool {
        self.flags & ace_flags::INHERIT_ONLY != 0
    }
}

/// Owner, group and DACL of one file or folder. Serde gives the permission records their encoding: a run keeps
/// each entry's ACL so a mapping added later is applied without reading the ACL again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NtAcl {
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    /// `None`: no DACL at all, which grants everyone everything. `Some(vec![])`: nobody.
    pub dacl: Option<Vec<NtAce>>,
    /// Inheritance from the parent is broken (`SE_DACL_PROTECTED`).
    pub dacl_protected: bool,
    pub dacl_auto_inherited: bool,
}

fn sid_of(s: &smb::SID) -> Option<Sid> {
    s.to_string().parse().ok()
}

fn mask_of(bytes: [u8; 4]) -> u32 {
    u32::from_le_bytes(bytes)
}

impl NtAcl {
    /// The plain form of a security descriptor read with the crate.
    pub fn from_descriptor(sd: &SecurityDescriptor) -> NtAcl {
        let dacl = if sd.control.dacl_present() {
            Some(sd.dacl.as_ref().map(|acl| acl.ace.iter().map(ace_of).collect()).unwrap_or_default())
        } else {
            None
        };
        NtAcl {
            owner: sd.owner_sid.as_ref().and_then(sid_of),
            group: sd.group_sid.as_ref().and_then(sid_of),
            dacl,
            dacl_protected: sd.control.dacl_protected(),
            dacl_auto_inherited: sd.control.dacl_auto_inherited(),
        }
    }
}

fn ace_of(ace: &smb::ACE) -> NtAce {
    let flags = ace.ace_flags.into_bytes()[0];
    let (kind, mask, sid) = match &ace.value {
        AceValue::AccessAllowed(a) => (AceKind::Allow, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid)),
        AceValue::AccessDenied(a) => (AceKind::Deny, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid)),
        AceValue::AccessAllowedObject(a) => (AceKind::AllowObject, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid)),
        AceValue::AccessDeniedObject(a) => (AceKind::DenyObject, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid)),
        AceValue::AccessAllowedCallback(a) => {
            (AceKind::AllowCallback, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid))
        }
        AceValue::AccessDeniedCallback(a) => {
            (AceKind::DenyCallback, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid))
        }
        AceValue::AccessAllowedCallbackObject(a) => {
            (AceKind::AllowCallback, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid))
        }
        AceValue::AccessDeniedCallbackObject(a) => {
            (AceKind::DenyCallback, mask_of(a.access_mask.into_bytes()), sid_of(&a.sid))
        }
        other => (AceKind::Other(other.get_type() as u8), 0, None),
    };
    NtAce { kind, flags, mask, sid }
}

impl SmbClient {
    /// Owner, group and DACL of `rel`, in plain values.
    pub async fn acl(&self, rel: &str) -> Result<NtAcl, SmbError> {
        Ok(NtAcl::from_descriptor(&self.security(rel).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb::{ACE, ACL, AccessAce, AccessMask, AceFlags, AclRevision, SecurityDescriptorControl};
    use std::str::FromStr;

    fn ace(value: AceValue, flags: AceFlags) -> ACE {
        ACE { ace_flags: flags, value }
    }

    fn access(mask: u32, sid: &str) -> AccessAce {
        AccessAce {
            access_mask: AccessMask::from_bytes(mask.to_le_bytes()),
            sid: smb::SID::from_str(sid).expect("sid"),
        }
    }

    #[test]
    fn a_descriptor_becomes_plain_sids_masks_and_flags() {
        let sd = SecurityDescriptor {
            sbz1: 0,
            control: SecurityDescriptorControl::new()
                .with_self_relative(true)
                .with_dacl_present(true)
                .with_dacl_protected(true),
            owner_sid: Some(smb::SID::from_str("S-1-5-21-1-2-3-1000").expect("sid")),
            group_sid: Some(smb::SID::from_str("S-1-5-21-1-2-3-513").expect("sid")),
            sacl: None,
            dacl: Some(ACL {
                acl_revision: AclRevision::Nt4,
                ace: vec![
                    ace(AceValue::AccessDenied(access(0x116, "S-1-5-21-1-2-3-1001")), AceFlags::new()),
                    ace(
                        AceValue::AccessAllowed(access(0x001f_01ff, "S-1-1-0")),
                        AceFlags::new().with_object_inherit(true).with_container_inherit(true).with_inherited(true),
                    ),
                ],
            }),
        };
        let acl = NtAcl::from_descriptor(&sd);
        assert_eq!(acl.owner.map(|s| s.to_string()).as_deref(), Some("S-1-5-21-1-2-3-1000"));
        assert!(acl.dacl_protected);
        let dacl = acl.dacl.expect("dacl");
        assert_eq!(dacl.len(), 2);
        assert_eq!((dacl[0].kind, dacl[0].mask), (AceKind::Deny, 0x116));
        assert!(dacl[0].kind.denies() && !dacl[0].inherited());
        assert_eq!(dacl[1].sid.as_ref().map(|s| s.to_string()).as_deref(), Some("S-1-1-0"));
        assert_eq!(dacl[1].flags, ace_flags::OBJECT_INHERIT | ace_flags::CONTAINER_INHERIT | ace_flags::INHERITED);
        assert!(dacl[1].inherited() && !dacl[1].inherit_only());
    }

    #[test]
    fn no_dacl_and_an_empty_dacl_differ() {
        let mut sd = SecurityDescriptor {
            sbz1: 0,
            control: SecurityDescriptorControl::new().with_self_relative(true),
            owner_sid: None,
            group_sid: None,
            sacl: None,
            dacl: None,
        };
        assert_eq!(NtAcl::from_descriptor(&sd).dacl, None, "no DACL: everyone may do everything");
        sd.control = sd.control.with_dacl_present(true);
        sd.dacl = Some(ACL { acl_revision: AclRevision::Nt4, ace: vec![] });
        assert_eq!(NtAcl::from_descriptor(&sd).dacl, Some(vec![]), "empty DACL: nobody");
    }
}
