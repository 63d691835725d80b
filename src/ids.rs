//! Prefixed identifiers (`cnn_01J…`, `shr_01J…`): a ULID behind a short prefix that says what kind of object it
//! names. Each kind is its own type, so a share id can never be passed where a user id is expected.
//!
//! Stored as the 16 raw ULID bytes (compact redb keys that sort by creation time); printed and parsed with the
//! prefix. Parsing checks the prefix, so `usr_…` given where a `shr_…` is expected is a clear error.
//!
//! New ids come from one process-wide monotonic generator: `Ulid::new()` orders only to the millisecond, but
//! versions are listed newest first by id, and ids made in a burst should land at the end of their B-tree in
//! order, which keeps redb's pages full (random order within a millisecond split them half empty).

use std::fmt;
use std::str::FromStr;

use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::{Generator, Ulid};

static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// The next id, greater than every id made before in this process.
fn next_ulid() -> Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    // `generate` fails only when 2^80 ids were made in one millisecond; a plain ULID is then still unique.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind} id (expected {prefix}_ followed by 26 base32 characters)")]
pub struct IdParseError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Ulid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id, ordered after every id made earlier by this process.
            pub fn new() -> Self {
                Self(next_ulid())
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Ulid::from_bytes(bytes))
            }

            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let error = || IdParseError { kind: $kind, prefix: $prefix, value: s.to_owned() };
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(error)?;
                Ulid::from_string(rest).map(Self).map_err(|_| error())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(/// A connector (SMB or SharePoint).
    ConnectorId, "cnn", "connector");
prefixed_id!(/// A sync job: one run of a connector, or a skipped scheduled run.
    JobId, "job", "job");
prefixed_id!(/// An identity mapping of a connector.
    MappingId, "map", "identity mapping");
prefixed_id!(/// A ScaiDrive share.
    ShareId, "shr", "share");
prefixed_id!(/// A file or folder of a share; survives renames and moves.
    EntryId, "ent", "entry");
prefixed_id!(/// A stored version of a file's content.
    VersionId, "ver", "version");
prefixed_id!(/// A trash record of a deleted entry.
    TrashId, "trs", "trash");
prefixed_id!(/// A user.
    UserId, "usr", "user");
prefixed_id!(/// A group.
    GroupId, "grp", "group");
prefixed_id!(/// A sync conflict awaiting or having had a resolution.
    ConflictId, "cfl", "conflict");
prefixed_id!(/// An API or SCIM bearer token (the id, never the secret).
    TokenId, "tok", "token");
prefixed_id!(/// An audit event.
    EventId, "evt", "event");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_prints_with_its_prefix_and_parses_back() {
        let id = ShareId::new();
        let text = id.to_string();
        assert!(text.starts_with("shr_"));
        assert_eq!(text.len(), 30);
        assert_eq!(text.parse::<ShareId>(), Ok(id));
    }

    #[test]
    fn ids_made_in_a_burst_come_out_in_order() {
        let ids: Vec<_> = (0..10_000).map(|_| EntryId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn id_of_another_kind_is_refused() {
        let user = UserId::new().to_string();
        let err = user.parse::<ShareId>().unwrap_err();
        assert_eq!(err.kind, "share");
        assert!("shr_notaulid".parse::<ShareId>().is_err());
        assert!("shr01J3H".parse::<ShareId>().is_err());
    }

    #[test]
    fn ids_round_trip_through_json_and_bytes() {
        let id = EntryId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<EntryId>(&json).unwrap(), id);
        assert_eq!(EntryId::from_bytes(id.to_bytes()), id);
    }
}
