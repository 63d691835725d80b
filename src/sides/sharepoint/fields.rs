//! Column values <-> an entry's metadata (GRAPH.md 9), with `sync_metadata`. The planning here is pure: the
//! values SharePoint holds, the values the drive holds, and the values both held after the last sync (the base)
//! go in; what to write on each side comes out.
//!
//! - **Where they land**: each synced column is one metadata key, [`METADATA_PREFIX`] + the column's internal
//!   name (`sharepoint.Department`), holding the field's JSON value as Graph gives it. Flat keys let a user
//!   change one column with a metadata `PATCH` (merge) without resending the others; keys without the prefix
//!   are the user's own and never touched.
//! - **Which columns**: those the library's column list shows (`hidden: false`), system ones included
//!   (`Author`, `Modified`, ...), except `FileLeafRef`: the name is the sync engine's business (a rename through
//!   fields would move the file behind its back).
//! - **Which go back** (bidirectional and `scaidrive_to_sharepoint`): only writable columns (`readOnly: false`)
//!   of plain types (text, number, boolean, dateTime, choice, currency). Lookup, person and calculated columns
//!   need ids Graph writes differently, so they are treated as read-only. A read-only column always follows
//!   SharePoint: a drive edit of one is overwritten by SharePoint's value.
//! - **Both changed** (bidirectional, a writable column edited on both sides since the base): the connector's
//!   conflict strategy decides for that column: `scaidrive_wins` keeps the drive's value; `manual` moves
//!   nothing and reports it until the two agree; `sharepoint_wins`, `last_writer_wins` and `keep_both` take
//!   SharePoint's (a column holds one value, and the drive has no per-key times to compare, so the tie goes to
//!   the source as it does for content). Every such column is reported.
//! - In `scaidrive_to_sharepoint`, a drive value changed since the base goes to SharePoint (and wins a clash); in
//!   `sharepoint_to_scaidrive` nothing goes back.
//! - JSON `null` counts as "no value": clearing a column removes its key, removing a key clears the column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sync::config::{Direction, Strategy};

/// The metadata key prefix of SharePoint columns.
pub const METADATA_PREFIX: &str = "sharepoint.";

/// A `columnDefinition`, with the type facets that decide whether values can go back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDefinition {
    pub name: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(flatten)]
    pub facets: Map<String, Value>,
}

/// Type facets whose values are written as they are read.
const PLAIN_TYPES: [&str; 6] = ["text", "number", "boolean", "dateTime", "choice", "currency"];

/// The library's columns as the sync sees them: which sync, and which of those may be written back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Synced column -> writable.
    columns: BTreeMap<String, bool>,
}

impl Schema {
    pub fn from_columns(columns: &[ColumnDefinition]) -> Self {
        let columns = columns
            .iter()
            .filter(|c| !c.hidden && c.name != "FileLeafRef")
            .map(|c| {
                let plain = PLAIN_TYPES.iter().any(|t| c.facets.contains_key(*t));
                (c.name.clone(), !c.read_only && plain)
            })
            .collect();
        Schema { columns }
    }

    pub fn syncs(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    pub fn writable(&self, column: &str) -> bool {
        self.columns.get(column).copied().unwrap_or(false)
    }
}

/// SharePoint's `fields` reduced to the synced columns, without nulls.
pub fn synced_fields(schema: &Schema, fields: &Map<String, Value>) -> Map<String, Value> {
    fields.iter().filter(|(k, v)| schema.syncs(k) && !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The synced columns as the drive's metadata holds them (prefix removed, nulls dropped).
pub fn from_metadata(schema: &Schema, metadata: &Map<String, Value>) -> Map<String, Value> {
    metadata
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(METADATA_PREFIX)?, v)))
        .filter(|(k, v)| schema.syncs(k) && !v.is_null())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// What one entry's columns need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPlan {
    /// A metadata merge patch for the drive (prefixed keys; `null` removes a key).
    pub to_drive: Map<String, Value>,
    /// A fields `PATCH` for SharePoint (`null` clears a column).
    pub to_sharepoint: Map<String, Value>,
    /// The values both sides hold once the plan is carried out (the next base).
    pub base: Map<String, Value>,
    /// Columns changed on both sides since the base.
    pub conflicts: Vec<String>,
}

enum Winner {
    SharePoint,
    Drive,
    Nobody,
}

/// Plans one entry's columns (see the module docs for the rules).
pub fn plan(
    schema: &Schema,
    base: &Map<String, Value>,
    sharepoint: &Map<String, Value>,
    drive: &Map<String, Value>,
    direction: Direction,
    strategy: Strategy,
) -> FieldPlan {
    let mut out = FieldPlan::default();
    let mut keys: Vec<&String> = base.keys().chain(sharepoint.keys()).chain(drive.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys.into_iter().filter(|k| schema.syncs(k)) {
        let present = |m: &Map<String, Value>| m.get(key).filter(|v| !v.is_null()).cloned();
        let (s, d, b) = (present(sharepoint), present(drive), present(base));
        if s == d {
            if let Some(v) = s {
                out.base.insert(key.clone(), v);
            }
            continue;
        }
        let both_changed = s != b && d != b;
        let winner = if !schema.writable(key) {
            Winner::SharePoint
        } else {
            match direction {
                Direction::SourceToDrive => Winner::SharePoint,
                Direction::DriveToSource if d != b => Winner::Drive,
                Direction::DriveToSource => Winner::SharePoint,
                Direction::Bidirectional if !both_changed => {
                    if d != b {
                        Winner::Drive
                    } else {
                        Winner::SharePoint
                    }
                }
                Direction::Bidirectional => {
                    out.conflicts.push(key.clone());
                    match strategy {
                        Strategy::DriveWins => Winner::Drive,
                        Strategy::Manual => Winner::Nobody,
                        Strategy::SourceWins | Strategy::LastWriterWins | Strategy::KeepBoth => Winner::SharePoint,
                    }
                }
            }
        };
        let value = match winner {
            Winner::SharePoint => {
                out.to_drive.insert(format!("{METADATA_PREFIX}{key}"), s.clone().unwrap_or(Value::Null));
                s
            }
            Winner::Drive => {
                out.to_sharepoint.insert(key.clone(), d.clone().unwrap_or(Value::Null));
                d
            }
            // The old base stays, so the clash is seen again until the two sides agree.
            Winner::Nobody => b,
        };
        if let Some(v) = value {
            out.base.insert(key.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn schema() -> Schema {
        let columns: Vec<ColumnDefinition> = serde_json::from_value(json!([
            {"name": "Title", "readOnly": false, "text": {}},
            {"name": "Dept", "readOnly": false, "choice": {}},
            {"name": "Owner", "readOnly": false, "personOrGroup": {}},
            {"name": "Author", "readOnly": true, "personOrGroup": {}},
            {"name": "Modified", "readOnly": true, "dateTime": {}},
            {"name": "FileLeafRef", "readOnly": false, "text": {}},
            {"name": "Secret", "hidden": true, "text": {}},
        ]))
        .unwrap();
        Schema::from_columns(&columns)
    }

    #[test]
    fn the_schema_syncs_visible_columns_and_writes_back_only_plain_writable_ones() {
        let s = schema();
        assert!(s.syncs("Author") && !s.writable("Author"));
        assert!(s.syncs("Dept") && s.writable("Dept"));
        assert!(s.syncs("Owner") && !s.writable("Owner"), "person columns need lookup ids to write");
        assert!(!s.syncs("FileLeafRef") && !s.syncs("Secret"));
        let fields =
            map(json!({"Title": "Plan", "FileLeafRef": "plan.docx", "Secret": "x", "@odata.etag": "e", "Dept": null}));
        assert_eq!(synced_fields(&s, &fields), map(json!({"Title": "Plan"})));
        let meta =
            map(json!({"sharepoint.Dept": "Sales", "sharepoint.Nope": 1, "mine": "kept", "sharepoint.Title": null}));
        assert_eq!(from_metadata(&s, &meta), map(json!({"Dept": "Sales"})));
    }

    #[test]
    fn a_first_sync_brings_every_column_into_the_drive() {
        let sp = map(json!({"Title": "Plan", "Author": "Alice", "Dept": "Sales"}));
        let p = plan(&schema(), &Map::new(), &sp, &Map::new(), Direction::Bidirectional, Strategy::Manual);
        assert_eq!(
            p.to_drive,
            map(json!({"sharepoint.Title": "Plan", "sharepoint.Author": "Alice", "sharepoint.Dept": "Sales"}))
        );
        assert!(p.to_sharepoint.is_empty() && p.conflicts.is_empty());
        assert_eq!(p.base, sp);
    }

    #[test]
    fn a_drive_edit_of_a_writable_column_goes_back_and_of_a_read_only_one_is_undone() {
        let base = map(json!({"Dept": "Sales", "Author": "Alice"}));
        let drive = map(json!({"Dept": "Legal", "Author": "Mallory"}));
        let p = plan(&schema(), &base, &base, &drive, Direction::Bidirectional, Strategy::Manual);
        assert_eq!(p.to_sharepoint, map(json!({"Dept": "Legal"})));
        assert_eq!(p.to_drive, map(json!({"sharepoint.Author": "Alice"})));
        assert_eq!(p.base, map(json!({"Dept": "Legal", "Author": "Alice"})));
        // One way into the drive: nothing goes back, SharePoint's value returns.
        let p = plan(&schema(), &base, &base, &drive, Direction::SourceToDrive, Strategy::Manual);
        assert!(p.to_sharepoint.is_empty());
        assert_eq!(p.to_drive, map(json!({"sharepoint.Dept": "Sales", "sharepoint.Author": "Alice"})));
    }

    #[test]
    fn removing_a_key_clears_the_column_and_clearing_the_column_removes_the_key() {
        let base = map(json!({"Dept": "Sales", "Title": "T"}));
        let sp = map(json!({"Dept": "Sales", "Title": null}));
        let drive = map(json!({"Title": "T"}));
        let p = plan(&schema(), &base, &sp, &drive, Direction::Bidirectional, Strategy::Manual);
        assert_eq!(p.to_sharepoint, map(json!({"Dept": null})));
        assert_eq!(p.to_drive, map(json!({"sharepoint.Title": null})));
        assert!(p.base.is_empty());
    }

    #[test]
    fn a_column_changed_on_both_sides_follows_the_strategy() {
        let base = map(json!({"Dept": "Sales"}));
        let (sp, drive) = (map(json!({"Dept": "HR"})), map(json!({"Dept": "Legal"})));
        let run = |strategy| plan(&schema(), &base, &sp, &drive, Direction::Bidirectional, strategy);
        let p = run(Strategy::DriveWins);
        assert_eq!((p.to_sharepoint, p.conflicts), (map(json!({"Dept": "Legal"})), vec!["Dept".to_string()]));
        for strategy in [Strategy::SourceWins, Strategy::LastWriterWins, Strategy::KeepBoth] {
            let p = run(strategy);
            assert_eq!(p.to_drive, map(json!({"sharepoint.Dept": "HR"})));
            assert!(p.to_sharepoint.is_empty());
        }
        let p = run(Strategy::Manual);
        assert!(p.to_drive.is_empty() && p.to_sharepoint.is_empty());
        assert_eq!((p.base, p.conflicts), (base.clone(), vec!["Dept".to_string()]));
    }
}
