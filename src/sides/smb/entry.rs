//! `SmbEntry`: what the SMB side knows about one file or folder (from a listing or a stat).

use time::OffsetDateTime;

/// DOS attributes the sync engine acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmbAttributes {
    pub directory: bool,
    pub hidden: bool,
    pub system: bool,
    pub readonly: bool,
    pub archive: bool,
    /// A symbolic link, junction or other reparse point (Windows servers; Samba follows links).
    pub reparse_point: bool,
}

impl SmbAttributes {
    pub(crate) fn from_smb(a: &smb::FileAttributes) -> Self {
        SmbAttributes {
            directory: a.directory(),
            hidden: a.hidden(),
            system: a.system(),
            readonly: a.readonly(),
            archive: a.archive(),
            reparse_point: a.reparse_point(),
        }
    }
}

/// One file or folder on the share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbEntry {
    /// Connector-relative, `/`-separated, no leading slash (`""` for the root itself).
    pub path: String,
    /// Last component of `path`, as the server spells it.
    pub name: String,
    pub size: u64,
    pub created: OffsetDateTime,
    /// Last content write (what users call "modified").
    pub modified: OffsetDateTime,
    /// Last metadata or content change (ACL, attributes, rename): moves with ACL-only edits.
    pub changed: OffsetDateTime,
    pub accessed: OffsetDateTime,
    pub attributes: SmbAttributes,
    /// Raw reparse tag when `attributes.reparse_point` (e.g. 0xA000000C for a symlink).
    pub reparse_tag: Option<u32>,
    /// The server's file id (inode number on Samba, NTFS file reference on Windows); stable
    /// across renames, so a move can be recognised.
    pub file_id: u64,
}

impl SmbEntry {
    pub fn is_dir(&self) -> bool {
        self.attributes.directory
    }
}

/// 100-ns ticks between 1601-01-01 (FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i128 = 116_444_736_000_000_000;

/// FILETIME ticks to a UTC time; 0 ("not set") and out-of-range values become the Unix epoch.
pub fn filetime_to_datetime(ticks: u64) -> OffsetDateTime {
    if ticks == 0 {
        return OffsetDateTime::UNIX_EPOCH;
    }
    let nanos = (ticks as i128 - FILETIME_UNIX_OFFSET) * 100;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A UTC time to FILETIME ticks (truncated to 100 ns); times before 1601 become 0.
pub fn datetime_to_filetime(t: OffsetDateTime) -> u64 {
    let ticks = t.unix_timestamp_nanos() / 100 + FILETIME_UNIX_OFFSET;
    u64::try_from(ticks).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn filetime_round_trips_to_100_ns() {
        // Value and date from the smb-dtyp test suite (2025-01-20 15:36:20.2776324 UTC).
        let ticks = 133_818_609_802_776_324;
        let t = filetime_to_datetime(ticks);
        assert_eq!(t, datetime!(2025-01-20 15:36:20.2776324 UTC));
        assert_eq!(datetime_to_filetime(t), ticks);
    }

    #[test]
    fn unset_filetime_reads_as_the_unix_epoch() {
        assert_eq!(filetime_to_datetime(0), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(datetime_to_filetime(datetime!(1500-01-01 0:00 UTC)), 0);
    }
}
