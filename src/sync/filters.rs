//! Include and exclude filters, and the attribute settings (hidden, system, reparse points).
//!
//! `{"extensions": [...], "patterns": [...]}`: extensions match the last suffix case-insensitively without the
//! dot; patterns are globs (`*`, `?`, `[...]`) matched against the name, or against the root-relative path when
//! they contain `/`. A file is synced when it passes the include list (empty passes all) and matches no exclude.
//! Excludes also prune folders; includes apply to files only, so a folder is walked whatever its name.
//! Globs are case-insensitive, like the SMB and SharePoint names they mostly describe.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::entry::{Entry, Kind};
use super::path::SyncPath;

/// The API shape of `include_patterns` / `exclude_patterns`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSet {
    #[serde(default)]
    pub extensions: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
}

impl PatternSet {
    pub fn is_empty(&self) -> bool {
        self.extensions.is_empty() && self.patterns.is_empty()
    }
}

/// A pattern that is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{pattern}' is not a valid pattern: {reason}")]
pub struct FilterError {
    pub pattern: String,
    pub reason: String,
}

struct Compiled {
    extensions: Vec<String>,
    names: GlobSet,
    paths: GlobSet,
    empty: bool,
}

impl Compiled {
    fn new(set: &PatternSet) -> Result<Self, FilterError> {
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in &set.patterns {
            let glob = GlobBuilder::new(pattern.trim_start_matches('/'))
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .map_err(|e| FilterError { pattern: pattern.clone(), reason: e.kind().to_string() })?;
            if pattern.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        let build =
            |b: GlobSetBuilder| b.build().map_err(|e| FilterError { pattern: String::new(), reason: e.to_string() });
        Ok(Self {
            extensions: set.extensions.iter().map(|e| e.trim_start_matches('.').to_lowercase()).collect(),
            names: build(names)?,
            paths: build(paths)?,
            empty: set.is_empty(),
        })
    }

    fn matches_patterns(&self, path: &SyncPath) -> bool {
        (!self.names.is_empty() && self.names.is_match(path.name()))
            || (!self.paths.is_empty() && self.paths.is_match(path.as_str()))
    }

    fn matches_extension(&self, path: &SyncPath) -> bool {
        if self.extensions.is_empty() {
            return false;
        }
        match path.name().rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => {
                let ext = ext.to_lowercase();
                self.extensions.contains(&ext)
            }
            _ => false,
        }
    }
}

/// Why an entry is left out of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Filtered out by the include/exclude lists: silently not tracked.
    Filtered,
    /// Hidden or system attribute while the setting is off: silently not tracked.
    Attribute,
    /// A symlink, junction or other reparse point: reported (`SYMLINK_SKIPPED`), never followed.
    ReparsePoint,
}

/// The compiled filters of a run.
pub struct Filters {
    include: Compiled,
    exclude: Compiled,
    sync_hidden: bool,
    sync_system: bool,
}

impl Filters {
    pub fn new(
        include: &PatternSet,
        exclude: &PatternSet,
        sync_hidden: bool,
        sync_system: bool,
    ) -> Result<Self, FilterError> {
        Ok(Self { include: Compiled::new(include)?, exclude: Compiled::new(exclude)?, sync_hidden, sync_system })
    }

    /// Whether any include or exclude pattern is set (otherwise no path is left out by name).
    pub fn filters_paths(&self) -> bool {
        !self.include.empty || !self.exclude.empty
    }

    /// Whether the path is left out by name or path. Folders only meet the exclude list.
    pub fn path_skip(&self, path: &SyncPath, kind: Kind) -> Option<Skip> {
        if self.exclude.matches_patterns(path) || (kind == Kind::File && self.exclude.matches_extension(path)) {
            return Some(Skip::Filtered);
        }
        let included = kind == Kind::Folder
            || self.include.empty
            || self.include.matches_extension(path)
            || self.include.matches_patterns(path);
        if included { None } else { Some(Skip::Filtered) }
    }

    /// Whether a side's entry is left out by its attributes.
    pub fn attribute_skip(&self, entry: &Entry) -> Option<Skip> {
        if entry.attrs.reparse_point {
            Some(Skip::ReparsePoint)
        } else if (entry.attrs.hidden && !self.sync_hidden) || (entry.attrs.system && !self.sync_system) {
            Some(Skip::Attribute)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ext: &[&str], pat: &[&str]) -> PatternSet {
        PatternSet {
            extensions: ext.iter().map(|s| s.to_string()).collect(),
            patterns: pat.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn include_extensions_match_the_last_suffix_case_insensitively() {
        let f = Filters::new(&set(&["pdf", ".DOCX"], &[]), &PatternSet::default(), false, false).unwrap();
        assert_eq!(f.path_skip(&"a/Report.PDF".into(), Kind::File), None);
        assert_eq!(f.path_skip(&"a/b.docx".into(), Kind::File), None);
        assert_eq!(f.path_skip(&"a/b.pdf.txt".into(), Kind::File), Some(Skip::Filtered));
        assert_eq!(f.path_skip(&"pdf".into(), Kind::File), Some(Skip::Filtered));
        assert_eq!(f.path_skip(&"any-folder".into(), Kind::Folder), None);
    }

    #[test]
    fn patterns_without_slash_match_names_and_with_slash_match_paths() {
        let f = Filters::new(&PatternSet::default(), &set(&["tmp"], &["~*", "build/*"]), false, false).unwrap();
        assert_eq!(f.path_skip(&"deep/~lock".into(), Kind::File), Some(Skip::Filtered));
        assert_eq!(f.path_skip(&"build".into(), Kind::Folder), None);
        assert_eq!(f.path_skip(&"build/out".into(), Kind::Folder), Some(Skip::Filtered));
        assert_eq!(f.path_skip(&"src/build/out".into(), Kind::Folder), None);
        assert_eq!(f.path_skip(&"x.TMP".into(), Kind::File), Some(Skip::Filtered));
        assert_eq!(f.path_skip(&"x.tmp".into(), Kind::Folder), None);
    }

    #[test]
    fn a_bad_glob_is_a_clear_error() {
        let err = Filters::new(&set(&[], &["[abc"]), &PatternSet::default(), false, false).err();
        assert_eq!(err.map(|e| e.pattern), Some("[abc".to_string()));
    }
}
