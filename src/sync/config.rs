//! The connector settings the engine acts on, with the API's spellings.

use serde::{Deserialize, Serialize};

use super::filters::PatternSet;

/// Which way changes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Changes on either side replicate; conflicts follow the strategy.
    Bidirectional,
    /// `smb_to_scaidrive` / `sharepoint_to_scaidrive`: the drive mirrors the source for every tracked path.
    SourceToDrive,
    /// `scaidrive_to_smb` / `scaidrive_to_sharepoint`: the source mirrors the drive.
    DriveToSource,
}

impl Direction {
    /// Parses the API's `sync_direction`.
    pub fn from_api(s: &str) -> Option<Self> {
        match s {
            "bidirectional" => Some(Self::Bidirectional),
            "smb_to_scaidrive" | "sharepoint_to_scaidrive" => Some(Self::SourceToDrive),
            "scaidrive_to_smb" | "scaidrive_to_sharepoint" => Some(Self::DriveToSource),
            _ => None,
        }
    }
}

/// What happens when both sides changed a path differently (bidirectional only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// The newer modification time wins; a tie goes to the source.
    LastWriterWins,
    /// The source's content keeps the name; the drive's moves to `name (conflict).ext` on both sides.
    KeepBoth,
    /// `SCAIDRIVE_WINS`.
    DriveWins,
    /// `SMB_WINS` / `SHAREPOINT_WINS`.
    SourceWins,
    /// Nothing moves; a conflict record is opened for an admin (the default).
    Manual,
}

impl Strategy {
    /// Parses the API's `conflict_resolution`.
    pub fn from_api(s: &str) -> Option<Self> {
        match s {
            "LAST_WRITER_WINS" => Some(Self::LastWriterWins),
            "KEEP_BOTH" => Some(Self::KeepBoth),
            "SCAIDRIVE_WINS" => Some(Self::DriveWins),
            "SMB_WINS" | "SHAREPOINT_WINS" => Some(Self::SourceWins),
            "MANUAL" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// Everything the reconcile needs to know about the connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSettings {
    pub include_patterns: PatternSet,
    pub exclude_patterns: PatternSet,
    pub sync_hidden_files: bool,
    pub sync_system_files: bool,
    /// A run that would delete more than this share of the tracked files on either side stops first.
    pub max_delete_percent: u8,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            include_patterns: PatternSet::default(),
            exclude_patterns: PatternSet::default(),
            sync_hidden_files: false,
            sync_system_files: false,
            max_delete_percent: 50,
        }
    }
}

/// One run's configuration.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub direction: Direction,
    pub strategy: Strategy,
    pub settings: SyncSettings,
    /// Rerun past the safety guard (an admin's explicit choice).
    pub force: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            direction: Direction::Bidirectional,
            strategy: Strategy::Manual,
            settings: SyncSettings::default(),
            force: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_spellings_parse() {
        assert_eq!(Direction::from_api("sharepoint_to_scaidrive"), Some(Direction::SourceToDrive));
        assert_eq!(Direction::from_api("scaidrive_to_smb"), Some(Direction::DriveToSource));
        assert_eq!(Strategy::from_api("SHAREPOINT_WINS"), Some(Strategy::SourceWins));
        assert_eq!(Strategy::from_api("SCAIDRIVE_WINS"), Some(Strategy::DriveWins));
        assert_eq!(Strategy::from_api("manual"), None);
    }
}
