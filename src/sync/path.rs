//! Paths relative to the connector root, and the one order every listing and the base are sorted in.
//!
//! The order compares the case-folded path first and the exact path second, component by component (a `/`
//! sorts below every other byte). That gives three things the merge relies on:
//! - a folder comes before everything under it, and everything under it is contiguous;
//! - names that differ only in case sit next to each other (a "fold group"), so a case-insensitive side can be
//!   matched against a case-sensitive one by looking at one small group at a time;
//! - both sides and the base agree on it, whatever their own case rules are.
//!
//! A side that cannot list in this order (a database keyed otherwise, a transport that pages by folder) sorts
//! per folder with [`SyncPath::cmp`]; a store that keys by bytes uses [`SyncPath::sort_key`], whose byte order
//! is the same order.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A `/`-separated path relative to the connector root, without leading or trailing `/`. The root itself is
/// never listed. Holds its case-folded form too, computed once, because ordering compares it on every step.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SyncPath {
    exact: Box<str>,
    /// `None` when the exact form is already folded (the common, all-lowercase ASCII case): saves an allocation.
    folded: Option<Box<str>>,
}

/// Case-folds a name or path for comparison: NFC, then lowercase. ASCII takes a fast path.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) }
    } else {
        let lowered: String = s.nfc().flat_map(char::to_lowercase).collect();
        if lowered == s { Cow::Borrowed(s) } else { Cow::Owned(lowered) }
    }
}

/// Byte order with `/` below everything: component-wise order on UTF-8 (which sorts like code points).
fn cmp_components(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => rank(a[i]).cmp(&rank(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

fn rank(b: u8) -> u8 {
    if b == b'/' { 0 } else { b }
}

impl SyncPath {
    /// Builds a path from its text. Empty components, `.` and `..` are not paths a side should ever list; they
    /// are kept as given (callers validate names through [`crate::sync::names`]).
    pub fn new(path: impl Into<String>) -> Self {
        let exact: String = path.into();
        let folded = match fold(&exact) {
            Cow::Borrowed(_) => None,
            Cow::Owned(f) => Some(f.into_boxed_str()),
        };
        Self { exact: exact.into_boxed_str(), folded }
    }

    pub fn as_str(&self) -> &str {
        &self.exact
    }

    /// The case-folded form used to match names on case-insensitive sides.
    pub fn folded(&self) -> &str {
        self.folded.as_deref().unwrap_or(&self.exact)
    }

    /// The last component.
    pub fn name(&self) -> &str {
        self.exact.rsplit('/').next().unwrap_or(&self.exact)
    }

    /// The parent folder, `None` for a top-level entry.
    pub fn parent(&self) -> Option<SyncPath> {
        self.exact.rfind('/').map(|i| SyncPath::new(&self.exact[..i]))
    }

    /// The components, root first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.exact.split('/')
    }

    /// Whether `self` is a strict ancestor of `other`, by exact names.
    pub fn is_ancestor_of(&self, other: &SyncPath) -> bool {
        other.exact.len() > self.exact.len()
            && other.exact.starts_with(&*self.exact)
            && other.exact.as_bytes()[self.exact.len()] == b'/'
    }

    /// Whether `self` is a strict ancestor of `other` after case folding.
    pub fn is_folded_ancestor_of(&self, other: &SyncPath) -> bool {
        let (a, b) = (self.folded(), other.folded());
        b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/'
    }

    /// `other` with the ancestor `from` replaced by `to`; `None` when `from` is not an ancestor of `self`.
    pub fn rebase(&self, from: &SyncPath, to: &SyncPath) -> Option<SyncPath> {
        if from.is_ancestor_of(self) {
            Some(SyncPath::new(format!("{}{}", to.exact, &self.exact[from.exact.len()..])))
        } else {
            None
        }
    }

    /// The same folder with another last component.
    pub fn with_name(&self, name: &str) -> SyncPath {
        match self.exact.rfind('/') {
            Some(i) => SyncPath::new(format!("{}/{}", &self.exact[..i], name)),
            None => SyncPath::new(name),
        }
    }

    /// Bytes whose plain byte order is the order of [`Ord`]: folded path, a 0 byte, exact path, with `/` mapped
    /// to 1. For stores that keep the base keyed by bytes (redb). Names must not contain bytes 0 or 1, which
    /// no side accepts (control characters).
    pub fn sort_key(&self) -> Vec<u8> {
        let map = |b: u8| if b == b'/' { 1 } else { b };
        let mut key = Vec::with_capacity(self.folded().len() + self.exact.len() + 1);
        key.extend(self.folded().bytes().map(map));
        key.push(0);
        key.extend(self.exact.bytes().map(map));
        key
    }

    /// Whether two paths are the same name on a case-insensitive side.
    pub fn same_folded(&self, other: &SyncPath) -> bool {
        self.folded() == other.folded()
    }
}

impl Ord for SyncPath {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.folded.is_none() && other.folded.is_none() {
            // Both already folded: the folded comparison is the exact one.
            return cmp_components(&self.exact, &other.exact);
        }
        cmp_components(self.folded(), other.folded()).then_with(|| cmp_components(&self.exact, &other.exact))
    }
}

impl PartialOrd for SyncPath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SyncPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.exact)
    }
}

impl fmt::Debug for SyncPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.exact)
    }
}

impl serde::Serialize for SyncPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.exact)
    }
}

impl<'de> serde::Deserialize<'de> for SyncPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(SyncPath::new(s.into_owned()))
    }
}

impl From<&str> for SyncPath {
    fn from(s: &str) -> Self {
        SyncPath::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<&str>) -> Vec<String> {
        let mut p: Vec<SyncPath> = v.drain(..).map(SyncPath::new).collect();
        p.sort();
        p.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_folder_sorts_before_its_children_and_they_stay_together() {
        assert_eq!(sorted(vec!["a-b", "a/z", "a", "a/b/c", "ab"]), vec!["a", "a/b/c", "a/z", "a-b", "ab"]);
    }

    #[test]
    fn names_differing_in_case_sit_next_to_each_other() {
        assert_eq!(sorted(vec!["a/x", "B", "A/x", "a", "A", "b"]), vec!["A", "a", "A/x", "a/x", "B", "b"]);
    }

    #[test]
    fn sort_key_bytes_order_like_paths() {
        let mut paths: Vec<SyncPath> =
            ["a", "A", "a/b", "a-b", "A/b", "Z", "é", "É/x", "a b"].into_iter().map(SyncPath::new).collect();
        paths.sort();
        let keys: Vec<Vec<u8>> = paths.iter().map(SyncPath::sort_key).collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort();
        assert_eq!(keys, sorted_keys);
    }

    #[test]
    fn rebase_moves_descendants_only() {
        let p = SyncPath::new("old/sub/f.txt");
        assert_eq!(p.rebase(&"old".into(), &"new".into()), Some(SyncPath::new("new/sub/f.txt")));
        assert_eq!(p.rebase(&"ol".into(), &"new".into()), None);
        assert!(SyncPath::new("A").is_folded_ancestor_of(&"a/b".into()));
    }

    #[test]
    fn folding_handles_unicode_and_composition() {
        assert_eq!(SyncPath::new("Ä.txt").folded(), "ä.txt");
        assert_eq!(SyncPath::new("A\u{308}.txt").folded(), "ä.txt");
    }
}
