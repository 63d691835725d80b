//! Names on the SMB side: the share address an administrator types, share-relative paths, the
//! Windows naming rules we check before writing, and our temporary file names.
//!
//! The sync engine speaks in `/`-separated paths relative to the connector's root; SMB wants
//! `\`-separated paths relative to the share, with no leading separator. `SmbPath` does that
//! conversion in one place, with `base_path` in front.

use super::errors::SmbError;

/// Where a share lives: parsed from host + port + share, `\\host\share\sub` or `smb://host/share`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAddress {
    pub host: String,
    pub port: Option<u16>,
    pub share: String,
    /// A folder below the share root named in the address itself (`\\host\share\a\b` gives
    /// `a/b`), empty when none.
    pub sub_path: String,
}

impl ShareAddress {
    /// Parses `\\host\share[\path]`, `//host/share[/path]` or `smb://host[:port]/share[/path]`.
    /// The host may carry a port (`host:1445`, `[::1]:1445`).
    pub fn parse(text: &str) -> Result<Self, SmbError> {
        let t = text.trim();
        let rest = if let Some(r) = strip_prefix_ci(t, "smb://") {
            r
        } else if let Some(r) = t.strip_prefix(r"\\").or_else(|| t.strip_prefix("//")) {
            r
        } else {
            return Err(SmbError::InvalidConfig(format!(
                "{t:?} is not a share address: use \\\\host\\share or smb://host/share"
            )));
        };
        let mut parts = rest.split(['\\', '/']).filter(|p| !p.is_empty());
        let authority =
            parts.next().ok_or_else(|| SmbError::InvalidConfig("the share address names no host".into()))?;
        let share = parts.next().ok_or_else(|| SmbError::InvalidConfig("the share address names no share".into()))?;
        let sub_path = parts.collect::<Vec<_>>().join("/");
        let (host, port) = split_host_port(authority)?;
        Ok(ShareAddress { host, port, share: share.to_string(), sub_path })
    }

    /// The UNC form the `smb` crate takes for a tree connect (`\\host\share`).
    pub fn unc(&self) -> String {
        format!(r"\\{}\{}", self.host, self.share)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), SmbError> {
    let bad_port = || SmbError::InvalidConfig(format!("bad port in {authority:?}"));
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) =
            v6.split_once(']').ok_or_else(|| SmbError::InvalidConfig(format!("unclosed [ in {authority:?}")))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad_port())?),
            None if after.is_empty() => None,
            None => return Err(bad_port()),
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 address, no port.
        Some((host, _)) if host.contains(':') => Ok((authority.to_string(), None)),
        Some((host, port)) => Ok((host.to_string(), Some(port.parse().map_err(|_| bad_port())?))),
        None => Ok((authority.to_string(), None)),
    }
}

/// Turns connector-relative `/` paths into share-relative SMB paths under `base_path`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmbPath {
    /// Share-relative, `\`-separated, no leading or trailing separator; empty for the share root.
    base: String,
}

impl SmbPath {
    pub fn new(base_path: &str) -> Result<Self, SmbError> {
        let comps = components(base_path)?;
        Ok(SmbPath { base: comps.join("\\") })
    }

    /// The share-relative SMB path of `rel` (`""` or `"/"` is the connector root).
    pub fn resolve(&self, rel: &str) -> Result<String, SmbError> {
        let comps = components(rel)?;
        let mut out = self.base.clone();
        for c in comps {
            if !out.is_empty() {
                out.push('\\');
            }
            out.push_str(c);
        }
        Ok(out)
    }

    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Splits a `/` path into components, refusing `.`/`..` and separators the server would read
/// differently (a `\` inside a component would silently address another folder).
fn components(path: &str) -> Result<Vec<&str>, SmbError> {
    let mut out = Vec::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." || c.contains('\\') || c.contains('\0') {
            return Err(SmbError::InvalidName { path: path.to_string() });
        }
        out.push(c);
    }
    Ok(out)
}

/// Joins a connector-relative parent and a child name with `/`.
pub fn join(parent: &str, name: &str) -> String {
    let parent = parent.trim_matches('/');
    if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }
}

/// Splits a connector-relative path into its parent and last component.
pub fn split_parent(path: &str) -> (&str, &str) {
    let path = path.trim_matches('/');
    match path.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", path),
    }
}

/// Why Windows would refuse `name` as one path component, if it would. Samba accepts some of
/// these (`CON`, `trail.`), but Windows programs cannot open them, so we never create them.
pub fn windows_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.encode_utf16().count() > 255 {
        return Some("longer than 255 UTF-16 units");
    }
    if let Some(c) = name.chars().find(|c| (*c as u32) < 32 || r#"<>:"/\|?*"#.contains(*c)) {
        return Some(if (c as u32) < 32 { "control character" } else { "character forbidden on Windows" });
    }
    if name.ends_with(' ') || name.ends_with('.') {
        return Some("ends with a space or a period");
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    let reserved = matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit()
            && upper.as_bytes()[3] != b'0');
    if reserved {
        return Some("reserved device name");
    }
    None
}

/// Prefix of our temporary upload names: a leading dot, and recognisable so listings skip them
/// and a crashed run's leftovers can be cleaned.
pub const TEMP_PREFIX: &str = ".~scaidrive-";
const TEMP_SUFFIX: &str = ".tmp";

/// The temporary name an upload of `name` is written under, in the same folder. `tag` makes it
/// unique per attempt. Long names are cut so the result stays within 255 UTF-16 units.
pub fn temp_name(name: &str, tag: u64) -> String {
    let fixed = TEMP_PREFIX.len() + 16 + 1 + TEMP_SUFFIX.len();
    let mut kept = String::new();
    let mut units = 0;
    for c in name.chars() {
        units += c.len_utf16();
        if units + fixed > 200 {
            break;
        }
        kept.push(c);
    }
    format!("{TEMP_PREFIX}{tag:016x}-{kept}{TEMP_SUFFIX}")
}

/// Whether `name` is one of our temporary upload names.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_addresses_in_every_accepted_form() {
        let cases = [
            (r"\\fs01\Finance", "fs01", None, "Finance", ""),
            (r"\\fs01.corp:1445\Finance\2026\Q1", "fs01.corp", Some(1445), "Finance", "2026/Q1"),
            ("//10.0.0.5/data/", "10.0.0.5", None, "data", ""),
            ("smb://fs01/Finance", "fs01", None, "Finance", ""),
            ("SMB://127.0.0.1:14451/data/a b", "127.0.0.1", Some(14451), "data", "a b"),
            ("smb://[::1]:445/data", "::1", Some(445), "data", ""),
            ("smb://[fe80::1]/data", "fe80::1", None, "data", ""),
        ];
        for (text, host, port, share, sub) in cases {
            let a = ShareAddress::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (a.host.as_str(), a.port, a.share.as_str(), a.sub_path.as_str()),
                (host, port, share, sub),
                "{text}"
            );
        }
    }

    #[test]
    fn share_addresses_without_host_share_or_scheme_are_refused() {
        for text in ["fs01/Finance", r"\\fs01", "smb://", "smb://fs01:99999/x", "http://a/b"] {
            let e = ShareAddress::parse(text).expect_err(text);
            assert_eq!(e.code(), "VALIDATION_FAILED", "{text}");
        }
    }

    #[test]
    fn paths_resolve_under_the_base_path_with_backslashes() {
        let p = SmbPath::new("/2026/Q1/").expect("base");
        assert_eq!(p.resolve("").expect("root"), r"2026\Q1");
        assert_eq!(p.resolve("/a/b c.txt").expect("file"), r"2026\Q1\a\b c.txt");
        let root = SmbPath::new("").expect("empty base");
        assert_eq!(root.resolve("a/b").expect("file"), r"a\b");
        assert_eq!(root.resolve("/").expect("root"), "");
    }

    #[test]
    fn dot_dot_and_backslashes_cannot_escape_the_base() {
        let p = SmbPath::new("base").expect("base");
        for bad in ["../x", "a/../../x", r"a\..\x", "./a"] {
            assert_eq!(p.resolve(bad).expect_err(bad).code(), "INVALID_NAME", "{bad}");
        }
    }

    #[test]
    fn windows_refuses_these_names() {
        for bad in [
            "a:b.txt",
            "q?.txt",
            "a<b",
            "pipe|",
            "star*",
            "quote\"",
            "tab\t",
            "CON",
            "con.txt",
            "NUL.tar.gz",
            "com1",
            "LPT9.log",
            "trail.",
            "trail ",
            "",
        ] {
            assert!(windows_name_problem(bad).is_some(), "{bad:?} should be refused");
        }
        let long = "x".repeat(256);
        assert!(windows_name_problem(&long).is_some());
    }

    #[test]
    fn windows_accepts_these_names() {
        for good in ["Readme.txt", "a b", "console.txt", "COM0", "COM10", ".hidden", "Über €.pdf"] {
            assert_eq!(windows_name_problem(good), None, "{good:?}");
        }
        assert_eq!(windows_name_problem(&"y".repeat(255)), None);
    }

    #[test]
    fn temp_names_are_recognised_and_short_enough() {
        let t = temp_name("report.pdf", 42);
        assert!(is_temp_name(&t));
        assert!(t.starts_with('.'));
        assert!(!is_temp_name("report.pdf"));
        let long = "é".repeat(250);
        let t = temp_name(&long, u64::MAX);
        assert!(t.encode_utf16().count() <= 255);
        assert!(is_temp_name(&t));
        assert_eq!(windows_name_problem(&t), None);
    }

    #[test]
    fn join_and_split_parent_are_inverse() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("/x/y/", "a"), "x/y/a");
        assert_eq!(split_parent("x/y/a"), ("x/y", "a"));
        assert_eq!(split_parent("a"), ("", "a"));
    }
}
