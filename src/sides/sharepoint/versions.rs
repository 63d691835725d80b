//! SharePoint version history -> drive versions (GRAPH.md 8), with `sync_versions`.
//!
//! The sync engine writes an item's newest content as the drive entry's current content; this pass adds the
//! older SharePoint versions beneath it, newest first, each beneath the one before
//! (`Drive::insert_version_beneath`), and remembers which version labels the drive holds. A later SharePoint
//! version arrives as the engine's next overwrite (the drive keeps the replaced content as a version on its
//! own), so a later pass only records its label; versions made between two runs that the engine never saw as
//! current are imported beneath the current one, in order.
//!
//! Rules, decided by [`plan`] (pure):
//! - Only versions newer than the newest one already remembered are imported: SharePoint's history only grows
//!   at the top, so an unknown label below a known one means history was rewritten (versions deleted, then
//!   renumbered) and cannot be placed in order; it is left alone.
//! - Before importing, the drive's current content must be SharePoint's newest version (its quickXorHash,
//!   computed from the local content, equals the item's): otherwise the engine has not synced that content yet
//!   (a conflict, a change since the listing) and the history would go beneath the wrong content, so the pass
//!   waits for a later run.
//! - A version whose content the drive already holds directly beneath (the engine kept it when it overwrote
//!   the file, or a run broke off after importing it) is recognised by its content and not added twice; it
//!   costs one download, only in those cases.
//! - Turning `sync_versions` on after earlier runs imports the history beneath the current content; versions
//!   the engine kept from earlier overwrites stay below (their contents are recognised only when adjacent).

use serde::Deserialize;
use time::OffsetDateTime;

use super::permissions::IdentitySet;

/// `driveItemVersion`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphVersion {
    /// The label (`"3.0"`, minor `"2.1"`): unique per item.
    pub id: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_modified_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_modified_by: Option<IdentitySet>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// What to do with one item's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPlan {
    /// Labels to download and import, oldest first.
    pub import: Vec<String>,
    /// The newest label (SharePoint's current content), if any.
    pub current: Option<String>,
    /// The labels the drive holds once the plan is carried out.
    pub known: Vec<String>,
}

impl VersionPlan {
    /// Nothing to download, only (possibly) labels to remember.
    pub fn is_noop(&self) -> bool {
        self.import.is_empty()
    }
}

/// Plans an item's history: `listed` newest first as Graph lists it (the current version included), `known`
/// the labels already in the drive.
pub fn plan(listed: &[GraphVersion], known: &[String]) -> VersionPlan {
    let is_known = |label: &str| known.iter().any(|k| k == label);
    let current = listed.first().map(|v| v.id.clone());
    // Past versions above the newest remembered one (all of them when none is remembered).
    let mut import: Vec<String> =
        listed.iter().skip(1).take_while(|v| !is_known(&v.id)).map(|v| v.id.clone()).collect();
    import.reverse();
    let mut out: Vec<String> = known.to_vec();
    out.extend(import.iter().cloned());
    out.extend(current.iter().filter(|c| !is_known(c)).cloned());
    VersionPlan { import, current, known: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(labels: &[&str]) -> Vec<GraphVersion> {
        labels
            .iter()
            .map(|l| GraphVersion {
                id: l.to_string(),
                last_modified_date_time: None,
                last_modified_by: None,
                size: None,
            })
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_first_pass_imports_every_older_version_oldest_first() {
        let p = plan(&listed(&["3.0", "2.0", "1.0"]), &[]);
        assert_eq!(p.import, strings(&["1.0", "2.0"]));
        assert_eq!(p.current.as_deref(), Some("3.0"));
        assert_eq!(p.known, strings(&["1.0", "2.0", "3.0"]));
    }

    #[test]
    fn a_later_version_the_engine_wrote_is_only_remembered() {
        let p = plan(&listed(&["4.0", "3.0", "2.0", "1.0"]), &strings(&["1.0", "2.0", "3.0"]));
        assert!(p.is_noop());
        assert_eq!(p.known, strings(&["1.0", "2.0", "3.0", "4.0"]));
        let again = plan(&listed(&["4.0", "3.0", "2.0", "1.0"]), &p.known);
        assert!(again.is_noop());
        assert_eq!(again.known, p.known, "nothing is added twice");
    }

    #[test]
    fn versions_made_between_two_runs_are_imported_beneath_the_current_one() {
        let p = plan(&listed(&["6.0", "5.0", "4.0", "3.0", "2.0", "1.0"]), &strings(&["1.0", "2.0", "3.0"]));
        assert_eq!(p.import, strings(&["4.0", "5.0"]));
        assert_eq!(p.known, strings(&["1.0", "2.0", "3.0", "4.0", "5.0", "6.0"]));
    }

    #[test]
    fn an_unknown_label_below_a_known_one_is_left_alone_and_an_empty_history_is_nothing() {
        let p = plan(&listed(&["3.0", "2.0", "1.5", "1.0"]), &strings(&["2.0", "3.0"]));
        assert!(p.is_noop());
        let empty = plan(&[], &[]);
        assert!(empty.is_noop() && empty.current.is_none() && empty.known.is_empty());
    }
}
