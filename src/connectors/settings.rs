//! Settings every connector has (target, direction, conflicts, filters, schedule), as the API spells them, and
//! their validation. Validation collects every problem at once, so one answer lists all the bad fields.

use serde::{Deserialize, Serialize};

use crate::drive::DrivePath;
use crate::ids::ShareId;
use crate::sync::filters::{Filters, PatternSet};
use crate::sync::{Direction, RunConfig, Strategy, SyncSettings};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Collects problems while a request is validated.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Problem { field: field.to_owned(), message: message.into() });
    }

    /// The value, or a "required" problem.
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.add(field, "is required");
        }
        value
    }

    /// Trimmed text of 1..=max characters without control characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
        value.to_owned()
    }

    pub fn into_result<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }
}

/// The settings shared by SMB and SharePoint connectors, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonSettings {
    pub name: String,
    pub description: Option<String>,
    pub target_share_id: ShareId,
    /// Path inside the target share; created on the first run if missing.
    pub target_path: String,
    /// `bidirectional`, `smb_to_scaidrive`, `scaidrive_to_smb` (or the SharePoint spellings).
    pub sync_direction: String,
    /// `LAST_WRITER_WINS`, `KEEP_BOTH`, `SCAIDRIVE_WINS`, `SMB_WINS`/`SHAREPOINT_WINS`, `MANUAL`.
    pub conflict_resolution: String,
    pub sync_permissions: bool,
    pub sync_hidden_files: bool,
    pub sync_system_files: bool,
    pub include_patterns: PatternSet,
    pub exclude_patterns: PatternSet,
    /// Minutes between scheduled runs; 0 disables them.
    pub sync_interval_minutes: u32,
    /// A run that would delete more than this share of the tracked files stops before changing anything.
    pub max_delete_percent: u8,
    /// Bandwidth cap for this connector's transfers; none when absent.
    pub max_bytes_per_second: Option<u64>,
}

/// The common fields of a create or update request; absent fields keep their value (or take the default).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CommonInput {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<String>)]
    pub target_share_id: Option<String>,
    pub target_path: Option<String>,
    pub sync_direction: Option<String>,
    pub conflict_resolution: Option<String>,
    pub sync_permissions: Option<bool>,
    pub sync_hidden_files: Option<bool>,
    pub sync_system_files: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub include_patterns: Option<PatternSet>,
    #[schema(value_type = Option<Object>)]
    pub exclude_patterns: Option<PatternSet>,
    pub sync_interval_minutes: Option<u32>,
    pub max_delete_percent: Option<u8>,
    pub max_bytes_per_second: Option<u64>,
}

/// The source side's name in the API's spellings (`smb` or `sharepoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spellings {
    pub to_drive: &'static str,
    pub from_drive: &'static str,
    pub source_wins: &'static str,
}

pub const SMB: Spellings =
    Spellings { to_drive: "smb_to_scaidrive", from_drive: "scaidrive_to_smb", source_wins: "SMB_WINS" };
pub const SHAREPOINT: Spellings = Spellings {
    to_drive: "sharepoint_to_scaidrive",
    from_drive: "scaidrive_to_sharepoint",
    source_wins: "SHAREPOINT_WINS",
};

/// A week: the longest schedule interval accepted.
const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

impl CommonInput {
    /// The names of the fields this request sets (for the audit log, never the values).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let present = [
            ("name", self.name.is_some()),
            ("description", self.description.is_some()),
            ("target_path", self.target_path.is_some()),
            ("sync_direction", self.sync_direction.is_some()),
            ("conflict_resolution", self.conflict_resolution.is_some()),
            ("sync_permissions", self.sync_permissions.is_some()),
            ("sync_hidden_files", self.sync_hidden_files.is_some()),
            ("sync_system_files", self.sync_system_files.is_some()),
            ("include_patterns", self.include_patterns.is_some()),
            ("exclude_patterns", self.exclude_patterns.is_some()),
            ("sync_interval_minutes", self.sync_interval_minutes.is_some()),
            ("max_delete_percent", self.max_delete_percent.is_some()),
            ("max_bytes_per_second", self.max_bytes_per_second.is_some()),
        ];
        present.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect()
    }

    /// Validates a create request. Defaults: `target_path` `/`; the one-way mode into ScaiDrive (nothing in
    /// ScaiDrive can then damage the source: the safe start the spec recommends); `MANUAL` conflicts; a run every
    /// 15 minutes; hidden and system files skipped; at most 50% deletes per run.
    pub fn create(self, spell: Spellings, problems: &mut Problems) -> Option<CommonSettings> {
        let name = problems.required("name", self.name.as_deref()).map(|n| problems.text("name", n, 200));
        let share = problems
            .required("target_share_id", self.target_share_id.as_deref())
            .and_then(|id| parse_share(id, problems));
        let defaults = CommonSettings {
            name: name.unwrap_or_default(),
            description: None,
            // A placeholder only while other fields are checked: a missing share is already a problem.
            target_share_id: share.unwrap_or_default(),
            target_path: "/".into(),
            sync_direction: spell.to_drive.into(),
            conflict_resolution: "MANUAL".into(),
            sync_permissions: false,
            sync_hidden_files: false,
            sync_system_files: false,
            include_patterns: PatternSet::default(),
            exclude_patterns: PatternSet::default(),
            sync_interval_minutes: 15,
            max_delete_percent: 50,
            max_bytes_per_second: None,
        };
        let merged = self.apply_to(defaults, spell, problems);
        (problems.0.is_empty()).then_some(merged)
    }

    /// Applies an update over the current settings. `target_share_id` is immutable: the caller checks it first.
    pub fn apply_to(self, mut current: CommonSettings, spell: Spellings, problems: &mut Problems) -> CommonSettings {
        if let Some(name) = &self.name {
            current.name = problems.text("name", name, 200);
        }
        if let Some(description) = self.description {
            current.description =
                (!description.trim().is_empty()).then(|| problems.text("description", &description, 2000));
        }
        if let Some(path) = self.target_path {
            match DrivePath::parse(&path) {
                Ok(path) => current.target_path = path.as_str().to_owned(),
                Err(e) => problems.add("target_path", e.to_string()),
            }
        }
        if let Some(direction) = self.sync_direction {
            let allowed = ["bidirectional", spell.to_drive, spell.from_drive];
            if allowed.contains(&direction.as_str()) {
                current.sync_direction = direction;
            } else {
                problems.add("sync_direction", format!("must be one of {}", allowed.join(", ")));
            }
        }
        if let Some(strategy) = self.conflict_resolution {
            let allowed = ["LAST_WRITER_WINS", "KEEP_BOTH", "SCAIDRIVE_WINS", spell.source_wins, "MANUAL"];
            if allowed.contains(&strategy.as_str()) {
                current.conflict_resolution = strategy;
            } else {
                problems.add("conflict_resolution", format!("must be one of {}", allowed.join(", ")));
            }
        }
        current.sync_permissions = self.sync_permissions.unwrap_or(current.sync_permissions);
        current.sync_hidden_files = self.sync_hidden_files.unwrap_or(current.sync_hidden_files);
        current.sync_system_files = self.sync_system_files.unwrap_or(current.sync_system_files);
        if let Some(include) = self.include_patterns {
            current.include_patterns = include;
        }
        if let Some(exclude) = self.exclude_patterns {
            current.exclude_patterns = exclude;
        }
        for (field, set) in
            [("include_patterns", &current.include_patterns), ("exclude_patterns", &current.exclude_patterns)]
        {
            if let Err(e) = Filters::new(set, &PatternSet::default(), false, false) {
                problems.add(field, e.to_string());
            }
            if set.extensions.iter().any(|e| e.is_empty() || e.contains(['/', '\\', '*'])) {
                problems.add(field, "extensions are bare suffixes such as \"pdf\"");
            }
        }
        if let Some(minutes) = self.sync_interval_minutes {
            if minutes > MAX_INTERVAL_MINUTES {
                problems.add(
                    "sync_interval_minutes",
                    format!("must be at most {MAX_INTERVAL_MINUTES} (a week); 0 disables"),
                );
            } else {
                current.sync_interval_minutes = minutes;
            }
        }
        if let Some(percent) = self.max_delete_percent {
            if (1..=100).contains(&percent) {
                current.max_delete_percent = percent;
            } else {
                problems.add("max_delete_percent", "must be between 1 and 100");
            }
        }
        if let Some(rate) = self.max_bytes_per_second {
            if rate < 64 * 1024 {
                problems.add("max_bytes_per_second", "must be at least 65536");
            } else {
                current.max_bytes_per_second = Some(rate);
            }
        }
        current
    }
}

fn parse_share(text: &str, problems: &mut Problems) -> Option<ShareId> {
    text.parse().map_err(|e: crate::ids::IdParseError| problems.add("target_share_id", e.to_string())).ok()
}

impl CommonSettings {
    /// What the engine runs with.
    pub fn run_config(&self, force: bool) -> RunConfig {
        RunConfig {
            direction: Direction::from_api(&self.sync_direction).unwrap_or(Direction::SourceToDrive),
            strategy: Strategy::from_api(&self.conflict_resolution).unwrap_or(Strategy::Manual),
            settings: SyncSettings {
                include_patterns: self.include_patterns.clone(),
                exclude_patterns: self.exclude_patterns.clone(),
                sync_hidden_files: self.sync_hidden_files,
                sync_system_files: self.sync_system_files,
                max_delete_percent: self.max_delete_percent,
            },
            force,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(problems: &Problems) -> Vec<&str> {
        problems.0.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn create_lists_every_bad_field_at_once() {
        let input = CommonInput {
            sync_direction: Some("sideways".into()),
            conflict_resolution: Some("SHAREPOINT_WINS".into()),
            sync_interval_minutes: Some(100_000),
            include_patterns: Some(PatternSet { extensions: vec![], patterns: vec!["[".into()] }),
            ..Default::default()
        };
        let mut problems = Problems::default();
        assert!(input.create(SMB, &mut problems).is_none());
        assert_eq!(
            fields(&problems),
            [
                "name",
                "target_share_id",
                "sync_direction",
                "conflict_resolution",
                "include_patterns",
                "sync_interval_minutes"
            ]
        );
    }

    #[test]
    fn create_fills_safe_defaults() {
        let input = CommonInput {
            name: Some(" Finance ".into()),
            target_share_id: Some(ShareId::new().to_string()),
            ..Default::default()
        };
        let mut problems = Problems::default();
        let settings = input.create(SMB, &mut problems).unwrap();
        assert_eq!(settings.name, "Finance");
        assert_eq!(settings.sync_direction, "smb_to_scaidrive");
        assert_eq!(settings.conflict_resolution, "MANUAL");
        assert_eq!(settings.target_path, "/");
        let run = settings.run_config(false);
        assert_eq!(run.direction, Direction::SourceToDrive);
        assert_eq!(run.strategy, Strategy::Manual);
    }

    #[test]
    fn sharepoint_spellings_are_not_smb_spellings() {
        let input = CommonInput { sync_direction: Some("smb_to_scaidrive".into()), ..Default::default() };
        let mut problems = Problems::default();
        input.apply_to(base(), SHAREPOINT, &mut problems);
        assert_eq!(fields(&problems), ["sync_direction"]);
    }

    fn base() -> CommonSettings {
        let mut problems = Problems::default();
        let input = CommonInput {
            name: Some("x".into()),
            target_share_id: Some(ShareId::new().to_string()),
            ..Default::default()
        };
        input.create(SMB, &mut problems).unwrap()
    }
}
