//! SID <-> name lookups (MS-LSAT) over the `lsarpc` named pipe on `IPC$`.
//!
//! The `smb` crate has no LSA client, and its RPC layer speaks only NDR64, which Samba refuses,
//! so the few messages we need are built here by hand with NDR20:
//! - `ndr`: NDR20 primitives, unique pointers, unicode strings, SIDs.
//! - `pdu`: DCE/RPC connection-oriented PDUs (bind, bind_ack/nak, request, response, fault).
//! - `calls`: the stubs of LsarOpenPolicy2, LsarLookupSids, LsarLookupNames and LsarClose.
//! - `client`: the pipe I/O (`LsaClient`), on the same SMB session as the share.
//!
//! The codec is pure and tested against byte sequences; the client is tested against Samba.

pub mod calls;
pub mod client;
pub mod ndr;
pub mod pdu;

pub use calls::{LookedUpName, LookedUpSid};
pub use client::LsaClient;

use std::fmt;
use std::str::FromStr;

/// A failure to encode, decode or carry out an LSA exchange.
#[derive(Debug, thiserror::Error)]
pub enum LsaError {
    #[error("malformed DCE/RPC data: {0}")]
    Malformed(&'static str),
    #[error("a name is too long for an RPC_UNICODE_STRING")]
    TooLong,
    #[error("the server refused to bind the LSA interface (reason {0})")]
    BindRejected(u16),
    #[error("the server answered with an RPC fault {0:#010x}")]
    Fault(u32),
    #[error("the LSA call failed with status {0:#010x}")]
    Status(u32),
    #[error("the response does not fit one fragment")]
    Fragmented,
    #[error("not a SID: {0:?}")]
    BadSid(String),
    #[error(transparent)]
    Smb(#[from] super::errors::SmbError),
}

/// A security identifier (`S-1-5-21-…`), as LSA carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    pub revision: u8,
    /// The 48-bit identifier authority.
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-", self.revision)?;
        // MS-DTYP 2.4.2.1: authorities of 2^32 and above are printed in hex.
        if self.authority >= 1 << 32 {
            write!(f, "0x{:012X}", self.authority)?;
        } else {
            write!(f, "{}", self.authority)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl FromStr for Sid {
    type Err = LsaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LsaError::BadSid(s.to_string());
        let mut parts = s.trim().split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) {
            return Err(bad());
        }
        let revision = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let auth = parts.next().ok_or_else(bad)?;
        let authority = match auth.strip_prefix("0x").or_else(|| auth.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).map_err(|_| bad())?,
            None => auth.parse().map_err(|_| bad())?,
        };
        if authority >= 1 << 48 {
            return Err(bad());
        }
        let sub_authorities = parts.map(|p| p.parse::<u32>().map_err(|_| bad())).collect::<Result<Vec<_>, _>>()?;
        if sub_authorities.len() > 15 {
            return Err(bad());
        }
        Ok(Sid { revision, authority, sub_authorities })
    }
}

/// Stored (the permission records keep each entry's ACL) in its string form, `S-1-5-21-…`.
impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Sid {
    /// This SID with one more sub-authority (a domain SID plus a RID).
    pub fn with_rid(&self, rid: u32) -> Sid {
        let mut s = self.clone();
        s.sub_authorities.push(rid);
        s
    }
}

/// What kind of principal a SID names (`SID_NAME_USE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SidKind {
    User,
    Group,
    Domain,
    Alias,
    WellKnownGroup,
    DeletedAccount,
    Invalid,
    Unknown,
    Computer,
    Label,
}

impl SidKind {
    pub fn from_wire(v: u16) -> SidKind {
        match v {
            1 => SidKind::User,
            2 => SidKind::Group,
            3 => SidKind::Domain,
            4 => SidKind::Alias,
            5 => SidKind::WellKnownGroup,
            6 => SidKind::DeletedAccount,
            7 => SidKind::Invalid,
            9 => SidKind::Computer,
            10 => SidKind::Label,
            _ => SidKind::Unknown,
        }
    }

    /// Whether this is a group-like principal (groups, aliases, well-known groups).
    pub fn is_group(self) -> bool {
        matches!(self, SidKind::Group | SidKind::Alias | SidKind::WellKnownGroup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_parse_and_print_back() {
        for s in ["S-1-5-21-3623811015-3361044348-30300820-1013", "S-1-1-0", "S-1-5-32-544", "S-1-22-1-1000", "S-1-5"] {
            let sid: Sid = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(sid.to_string(), s);
        }
        let big: Sid = "S-1-0x123456789ABC-1".parse().expect("hex authority");
        assert_eq!(big.authority, 0x1234_5678_9ABC);
        assert_eq!(big.to_string(), "S-1-0x123456789ABC-1");
    }

    #[test]
    fn things_that_are_not_sids_are_refused() {
        for s in ["", "S", "X-1-5", "S-1-x", "S-1-5-21-99999999999", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"] {
            assert!(s.parse::<Sid>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn a_domain_sid_with_a_rid_is_the_account_sid() {
        let d: Sid = "S-1-5-21-1-2-3".parse().expect("sid");
        assert_eq!(d.with_rid(1000).to_string(), "S-1-5-21-1-2-3-1000");
    }
}
