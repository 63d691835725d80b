//! Entry paths and names: validation, NFC normalisation and the store's path order.
//!
//! A [`DrivePath`] is absolute inside its share (`/` is the root), `/`-separated, every component NFC normalised and
//! valid under [`validate_name`]. Two spellings that normalise to the same string (NFD `e\u{301}` and NFC `é`) are
//! the same path, so they can never become two entries. Names are case-sensitive, like ScaiDrive.
//!
//! Path order (used by subtree listings for the sync engine) is component-wise byte order: the order of a
//! depth-first walk that visits each folder's children sorted by name bytes. `/a/b/c` therefore sorts before
//! `/a/b c`, unlike a plain string comparison; [`path_order`] is the comparison to merge against.

use std::cmp::Ordering;
use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::error::{DriveError, DriveResult};

/// The longest name a component may have, in UTF-8 bytes after normalisation.
pub const MAX_NAME_BYTES: usize = 255;

/// A validated, normalised, absolute path inside a share.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DrivePath(String);

impl DrivePath {
    /// The share root, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Validates and normalises `raw`. A single trailing `/` is accepted (`/a/` is `/a`); any other empty
    /// component, `.`, `..`, or a name that breaks [`validate_name`] is refused.
    pub fn parse(raw: &str) -> DriveResult<Self> {
        let invalid = |reason| DriveError::InvalidPath { path: raw.to_owned(), reason };
        let rest = raw.strip_prefix('/').ok_or_else(|| invalid("a path must start with '/'"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Ok(Self::root());
        }
        let mut out = String::with_capacity(raw.len());
        for component in rest.split('/') {
            if component.is_empty() {
                return Err(invalid("a path may not contain an empty component ('//')"));
            }
            out.push('/');
            out.push_str(&validate_name(component)?);
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The components from the root down (none for the root).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The last component, or `None` for the root.
    pub fn name(&self) -> Option<&str> {
        if self.is_root() { None } else { self.0.rsplit('/').next() }
    }

    /// The containing folder, or `None` for the root.
    pub fn parent(&self) -> Option<DrivePath> {
        if self.is_root() {
            return None;
        }
        match self.0.rfind('/') {
            Some(0) | None => Some(Self::root()),
            Some(i) => Some(Self(self.0[..i].to_owned())),
        }
    }

    /// This path with one more component; `name` must already be valid (it comes from the store or from
    /// [`validate_name`]).
    pub fn child(&self, name: &str) -> DrivePath {
        let base = if self.is_root() { "" } else { self.0.as_str() };
        let mut out = String::with_capacity(base.len() + 1 + name.len());
        out.push_str(base);
        out.push('/');
        out.push_str(name);
        Self(out)
    }

    /// True when `other` is this path or lies beneath it.
    pub fn contains(&self, other: &DrivePath) -> bool {
        self.is_root()
            || other.0 == self.0
            || (other.0.starts_with(&self.0) && other.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }
}

impl fmt::Display for DrivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DrivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Checks one name against the store's rules and returns its NFC form.
///
/// Refused: empty, `.`, `..`, `/`, NUL or any control character, over [`MAX_NAME_BYTES`] bytes once normalised.
pub fn validate_name(name: &str) -> DriveResult<String> {
    let invalid = |reason| DriveError::InvalidName { name: name.to_owned(), reason };
    if name.is_empty() {
        return Err(invalid("a name may not be empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("'.' and '..' are not names"));
    }
    if name.contains('/') {
        return Err(invalid("a name may not contain '/'"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("a name may not contain NUL or control characters"));
    }
    let normalised: String = name.nfc().collect();
    if normalised.len() > MAX_NAME_BYTES {
        return Err(invalid("a name may be at most 255 bytes"));
    }
    Ok(normalised)
}

/// Component-wise byte order of two normalised paths: the order subtree listings come in.
pub fn path_order(a: &str, b: &str) -> Ordering {
    fn split(p: &str) -> impl Iterator<Item = &[u8]> {
        p.split('/').filter(|c| !c.is_empty()).map(str::as_bytes)
    }
    split(a).cmp(split(b))
}

/// The name a restored entry takes when its own is taken: `report (restored).pdf`, then `report (restored 2).pdf`.
pub fn restored_name(name: &str, attempt: u32) -> String {
    let suffix = if attempt <= 1 { " (restored)".to_owned() } else { format!(" (restored {attempt})") };
    // Keep the extension last so the file still opens with the same program; a leading dot is a hidden
    // file's name, not an extension.
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{}{suffix}{}", &name[..dot], &name[dot..]),
        _ => format!("{name}{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> &'static str {
        DrivePath::parse(raw).err().map(|e| e.code()).unwrap_or("OK")
    }

    #[test]
    fn dot_components_empty_components_and_relative_paths_are_refused() {
        assert_eq!(code("/a/../b"), "INVALID_NAME");
        assert_eq!(code("/a/./b"), "INVALID_NAME");
        assert_eq!(code("/.."), "INVALID_NAME");
        assert_eq!(code("/a//b"), "INVALID_PATH");
        assert_eq!(code("a/b"), "INVALID_PATH");
        assert_eq!(code(""), "INVALID_PATH");
        assert_eq!(code("/a/"), "OK");
        assert_eq!(code("/"), "OK");
    }

    #[test]
    fn nul_control_characters_and_long_names_are_refused() {
        assert_eq!(code("/a\0b"), "INVALID_NAME");
        assert_eq!(code("/a\nb"), "INVALID_NAME");
        assert_eq!(code("/a\u{7f}b"), "INVALID_NAME");
        assert_eq!(code(&format!("/{}", "x".repeat(255))), "OK");
        assert_eq!(code(&format!("/{}", "x".repeat(256))), "INVALID_NAME");
        // 128 two-byte characters: 256 bytes although only 128 characters.
        assert_eq!(code(&format!("/{}", "é".repeat(128))), "INVALID_NAME");
    }

    #[test]
    fn nfd_and_nfc_spellings_are_the_same_path() {
        let nfd = DrivePath::parse("/cafe\u{301}/x").unwrap();
        let nfc = DrivePath::parse("/caf\u{e9}/x").unwrap();
        assert_eq!(nfd, nfc);
        assert_eq!(nfd.as_str(), "/caf\u{e9}/x");
    }

    #[test]
    fn names_differing_in_case_stay_distinct() {
        assert_ne!(DrivePath::parse("/A").unwrap(), DrivePath::parse("/a").unwrap());
    }

    #[test]
    fn parent_name_child_and_contains_agree() {
        let p = DrivePath::parse("/a/b/c.txt").unwrap();
        assert_eq!(p.name(), Some("c.txt"));
        assert_eq!(p.parent().unwrap().as_str(), "/a/b");
        assert_eq!(DrivePath::parse("/a").unwrap().parent(), Some(DrivePath::root()));
        assert_eq!(DrivePath::root().child("x").as_str(), "/x");
        let a = DrivePath::parse("/a").unwrap();
        assert!(a.contains(&p));
        assert!(!a.contains(&DrivePath::parse("/ab").unwrap()));
        assert_eq!(p.components().collect::<Vec<_>>(), ["a", "b", "c.txt"]);
    }

    #[test]
    fn path_order_walks_a_folder_before_its_longer_named_siblings() {
        assert_eq!(path_order("/a/b/c", "/a/b c"), Ordering::Less);
        assert_eq!(path_order("/a", "/a/b"), Ordering::Less);
        assert_eq!(path_order("/B", "/a"), Ordering::Less);
    }

    #[test]
    fn restored_names_keep_the_extension() {
        assert_eq!(restored_name("r.pdf", 1), "r (restored).pdf");
        assert_eq!(restored_name("r.pdf", 2), "r (restored 2).pdf");
        assert_eq!(restored_name(".env", 1), ".env (restored)");
        assert_eq!(restored_name("dir", 1), "dir (restored)");
    }
}
