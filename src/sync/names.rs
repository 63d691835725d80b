//! Names a side refuses, how it compares them, and the temporary names transfers use.
//!
//! The rules belong to the destination side ([`NamingRules`] in its capabilities): the engine asks the side a
//! path would be created on whether it accepts the name, so SMB's Windows list and SharePoint's list plug in
//! without special cases. The rules also say when two listings show the same entry: names equal after case
//! folding on a case-insensitive side, names equal after Unicode normalisation on a side that stores NFC, and
//! whether a side's identities can be handed to a new entry (then an identity alone does not make a rename).

use std::sync::Arc;

use super::path::{SyncPath, fold};

/// Which names a side refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedNames {
    /// Accepts every name (the drive).
    Nothing,
    /// Windows / NTFS rules (SMB shares).
    Windows,
    /// SharePoint Online rules (see the Graph reference, naming rules).
    SharePoint,
    /// An explicit list of refused names, compared case-insensitively (test sides).
    List(Arc<[String]>),
}

/// The naming rules of a side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingRules {
    /// Two names equal after case folding are the same entry on this side.
    pub case_insensitive: bool,
    pub refused: RefusedNames,
    /// Stores every name in Unicode NFC (the drive): a name written in another form (NFD `e\u{301}`, as macOS
    /// clients write them to SMB shares) is stored, and listed back, as its NFC spelling. On the drive, the engine
    /// takes two spellings equal after NFC for one name, addresses the drive under either, and keeps the
    /// source's spelling (see `spelling.rs`).
    pub nfc: bool,
    /// The side may hand a deleted entry's identity to a new one (Samba: the file id is the inode number, which
    /// the file system reuses). A file that vanished and a new file of that identity are then a rename only if
    /// the new one still has the old modification time, as a rename leaves it.
    pub ids_recycled: bool,
}

impl NamingRules {
    pub fn permissive() -> Self {
        Self { case_insensitive: false, refused: RefusedNames::Nothing, nfc: false, ids_recycled: false }
    }

    /// The drive: any name, case-sensitive, stored in NFC.
    pub fn drive() -> Self {
        Self { nfc: true, ..Self::permissive() }
    }

    pub fn windows() -> Self {
        Self { case_insensitive: true, refused: RefusedNames::Windows, nfc: false, ids_recycled: false }
    }

    /// A Samba share: Windows names, and file ids that are inode numbers (reused after a delete).
    pub fn samba() -> Self {
        Self { ids_recycled: true, ..Self::windows() }
    }

    pub fn sharepoint() -> Self {
        Self { case_insensitive: true, refused: RefusedNames::SharePoint, nfc: false, ids_recycled: false }
    }

    /// Whether this side accepts every component of `path` (a folder or a file of kind `is_folder`).
    pub fn accepts(&self, path: &SyncPath, is_folder: bool) -> bool {
        let count = path.components().count();
        let all_ok = path.components().enumerate().all(|(i, name)| {
            let folder = is_folder || i + 1 < count;
            match &self.refused {
                RefusedNames::Nothing => !name.is_empty(),
                RefusedNames::Windows => windows_accepts(name),
                RefusedNames::SharePoint => sharepoint_accepts(name, folder, i == 0),
                RefusedNames::List(list) => !list.iter().any(|n| fold(n) == fold(name)),
            }
        });
        // SharePoint limits the whole decoded path.
        let length_ok = self.refused != RefusedNames::SharePoint || path.as_str().chars().count() <= 400;
        all_ok && length_ok
    }
}

const WINDOWS_DEVICES: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "lpt1", "lpt2",
    "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Windows refuses `< > : " / \ | ? *`, control characters, a trailing dot or space, device names (with any
/// extension) and components over 255 UTF-16 units.
pub fn windows_accepts(name: &str) -> bool {
    if name.is_empty() || name.encode_utf16().count() > 255 || name.ends_with('.') || name.ends_with(' ') {
        return false;
    }
    if name.chars().any(|c| (c as u32) < 32 || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')) {
        return false;
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end().to_ascii_lowercase();
    !WINDOWS_DEVICES.contains(&stem.as_str())
}

const SHAREPOINT_RESERVED: [&str; 27] = [
    ".lock",
    "con",
    "prn",
    "aux",
    "nul",
    "com0",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt0",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
    "desktop.ini",
    "",
];

/// SharePoint Online refuses `" * : < > ? / \ |`, control characters, leading or trailing spaces, reserved names,
/// `_vti_` anywhere, names starting with `~$`, folders ending in `.` or starting with `~`, and a root folder
/// called `forms`.
pub fn sharepoint_accepts(name: &str, is_folder: bool, at_root: bool) -> bool {
    let lower = name.to_lowercase();
    if SHAREPOINT_RESERVED.contains(&lower.as_str()) || lower.contains("_vti_") || name.starts_with("~$") {
        return false;
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return false;
    }
    let bad_char = |c: char| {
        let u = c as u32;
        u < 0x20 || (0x7f..=0x9f).contains(&u) || matches!(c, '"' | '*' | ':' | '<' | '>' | '?' | '/' | '\\' | '|')
    };
    if name.chars().any(bad_char) {
        return false;
    }
    !(is_folder && (name.ends_with('.') || name.starts_with('~') || (at_root && lower == "forms")))
}

/// The prefix of temporary transfer names. Sides write `.~scai.<name>.<token>.tmp` next to the target and rename it;
/// the engine never syncs such names, so a crash mid-transfer leaves nothing that spreads.
pub const TEMP_PREFIX: &str = ".~scai.";

/// A temporary name for a transfer to `path`, in the same folder, hidden (leading dot), recognisable, and short
/// enough for Windows even when the target name is long.
pub fn temp_path(path: &SyncPath, token: u64) -> SyncPath {
    let name: String = path.name().chars().take(64).collect();
    path.with_name(&format!("{TEMP_PREFIX}{name}.{token:x}.tmp"))
}

/// Whether the last component is a transfer temp name.
pub fn is_temp_name(path: &SyncPath) -> bool {
    let name = path.name();
    name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_refuses_its_reserved_names() {
        for bad in ["a:b.txt", "q?.txt", "CON", "nul.txt", "Lpt9.log", "trail.", "trail ", "tab\tname", "a|b", ""] {
            assert!(!windows_accepts(bad), "{bad:?} should be refused");
        }
        for good in ["report.pdf", "CONFIG.sys", "com10", ".hidden", "x y"] {
            assert!(windows_accepts(good), "{good:?} should be accepted");
        }
        assert!(!windows_accepts(&"x".repeat(256)));
        assert!(windows_accepts(&"x".repeat(255)));
    }

    #[test]
    fn sharepoint_refuses_its_list() {
        assert!(!sharepoint_accepts("~$draft.docx", false, false));
        assert!(!sharepoint_accepts("desktop.ini", false, false));
        assert!(!sharepoint_accepts("a_vti_b", false, false));
        assert!(!sharepoint_accepts("forms", true, true));
        assert!(sharepoint_accepts("forms", true, false));
        assert!(!sharepoint_accepts("~tmp", true, false));
        assert!(sharepoint_accepts("~tmp", false, false));
        assert!(sharepoint_accepts("50% #1.txt", false, false));
    }

    #[test]
    fn rules_check_every_component() {
        let rules = NamingRules::windows();
        assert!(!rules.accepts(&"ok/bad:dir/file.txt".into(), false));
        assert!(rules.accepts(&"ok/dir/file.txt".into(), false));
        let long = SyncPath::new(format!("{}/f", "d".repeat(400)));
        assert!(!NamingRules::sharepoint().accepts(&long, false));
    }

    #[test]
    fn temp_names_are_recognised() {
        let t = temp_path(&"dir/report.pdf".into(), 42);
        assert!(t.as_str().starts_with("dir/.~scai.report.pdf."));
        assert!(is_temp_name(&t));
        assert!(!is_temp_name(&"dir/report.pdf".into()));
    }
}
