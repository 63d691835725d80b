//! What a side reports about one file or folder, and what the base remembers of it.
//!
//! Each side describes an entry in its own terms: an identity that survives renames (SMB file id, Graph item id,
//! drive entry id), size, modification time, an opaque change tag, attributes and, when it has one, a native
//! content hash. The engine compares a side only with its own earlier record (never an SMB time with a drive
//! time), so precision and clock differences between sides do not cause false changes.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::path::SyncPath;

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Folder,
}

/// The attributes the engine acts on (SMB DOS attributes; Graph and the drive report none of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attributes {
    pub hidden: bool,
    pub system: bool,
    /// Symlink, junction or another reparse point: reported, never followed or synced.
    pub reparse_point: bool,
}

/// Which content hash a side computes natively. The engine compares hashes of the same kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKind {
    /// The drive's hash, and the one that crosses sides.
    Sha256,
    /// SharePoint's only hash (base64 text).
    QuickXor,
}

/// A content hash as a side reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentHash {
    pub kind: HashKind,
    pub value: Box<str>,
}

impl ContentHash {
    pub fn sha256(digest: Sha256Digest) -> Self {
        Self { kind: HashKind::Sha256, value: digest.to_string().into_boxed_str() }
    }

    /// The SHA-256 digest, when this is one.
    pub fn as_sha256(&self) -> Option<Sha256Digest> {
        if self.kind != HashKind::Sha256 {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&*self.value, &mut out).ok()?;
        Some(Sha256Digest(out))
    }
}

/// A SHA-256 digest: what the base records of a file's content, and how contents are compared across sides.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&*text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Sha256Digest(out))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", &hex::encode(self.0)[..12])
    }
}

/// One entry of a side's listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: SyncPath,
    /// Survives renames and moves: SMB file id, Graph item id, drive entry id.
    pub id: Box<str>,
    pub kind: Kind,
    /// Bytes; 0 for folders.
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub modified: OffsetDateTime,
    /// Opaque; changes when the side changes the entry (SMB: file id + change time; Graph: cTag or
    /// quickXorHash; drive: content hash). Best when it changes on content changes only.
    pub tag: Box<str>,
    pub attrs: Attributes,
    /// The side's native hash when its listing carries one.
    pub hash: Option<ContentHash>,
}

impl Entry {
    /// What the base keeps of this entry.
    pub fn state(&self) -> SideState {
        SideState {
            id: self.id.clone(),
            kind: self.kind,
            size: self.size,
            modified: self.modified,
            tag: self.tag.clone(),
            hash: self.hash.clone(),
        }
    }

    /// Whether the entry is as the base recorded it: the cheap check that decides whether anything is hashed.
    pub fn matches(&self, state: &SideState) -> bool {
        self.kind == state.kind
            && self.size == state.size
            && self.modified == state.modified
            && self.tag == state.tag
            && self.id == state.id
    }

    /// The SHA-256 of the content when the listing carries it.
    pub fn sha256(&self) -> Option<Sha256Digest> {
        self.hash.as_ref().and_then(ContentHash::as_sha256)
    }

    /// The same entry under another path (after a move on its side).
    pub fn relocated(&self, path: &SyncPath) -> Entry {
        Entry { path: path.clone(), ..self.clone() }
    }

    pub fn is_folder(&self) -> bool {
        self.kind == Kind::Folder
    }
}

/// One side of a base record: the entry as it stood after the last successful sync of the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideState {
    pub id: Box<str>,
    pub kind: Kind,
    pub size: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub modified: OffsetDateTime,
    pub tag: Box<str>,
    pub hash: Option<ContentHash>,
}

/// The file-state record of a tracked path: both sides as they stood after its last successful sync. Serde
/// gives the file-state store its encoding (key it by [`SyncPath::sort_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecord {
    pub path: SyncPath,
    pub source: SideState,
    pub drive: SideState,
    /// SHA-256 of the content both sides held; `None` for folders.
    pub sha256: Option<Sha256Digest>,
}

impl BaseRecord {
    pub fn kind(&self) -> Kind {
        self.drive.kind
    }

    pub fn side(&self, side: SideId) -> &SideState {
        match side {
            SideId::Source => &self.source,
            SideId::Drive => &self.drive,
        }
    }

    pub fn relocated(&self, path: &SyncPath) -> BaseRecord {
        BaseRecord { path: path.clone(), ..self.clone() }
    }
}

/// Which side of the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SideId {
    /// The external side: SMB share or SharePoint library.
    Source,
    /// The ScaiDrive target path.
    Drive,
}

impl SideId {
    pub fn other(self) -> SideId {
        match self {
            SideId::Source => SideId::Drive,
            SideId::Drive => SideId::Source,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SideId::Source => "source",
            SideId::Drive => "drive",
        }
    }
}

impl fmt::Display for SideId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_record_round_trips_through_json_for_the_file_state_store() {
        let state = |id: &str| SideState {
            id: id.into(),
            kind: Kind::File,
            size: 3,
            modified: OffsetDateTime::from_unix_timestamp_nanos(1_780_000_000_123_456_700).unwrap(),
            tag: "t1".into(),
            hash: Some(ContentHash::sha256(Sha256Digest::of(b"abc"))),
        };
        let record = BaseRecord {
            path: SyncPath::new("Docs/Ä.txt"),
            source: state("s1"),
            drive: state("d1"),
            sha256: Some(Sha256Digest::of(b"abc")),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"Docs/Ä.txt\""), "{json}");
        assert_eq!(serde_json::from_str::<BaseRecord>(&json).unwrap(), record);
    }
}
