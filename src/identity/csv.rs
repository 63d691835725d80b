//! The identity-mapping CSV: rows `smb-sid,scaidrive-user-id`, an optional header, validated row by row.
//!
//! All or nothing: [`parse`] returns every mapping, or every bad row with its line number (1-based, as an
//! editor shows it). The second column takes a `usr_` id (a user mapping) or a `grp_` id (a group mapping).
//! Blank lines are skipped; cells may be wrapped in double quotes; a UTF-8 byte-order mark is ignored. A SID
//! listed twice is an error on its second line: the file is meant to be the table an admin keeps, and a
//! repeated row usually means two people thought differently about one account.

use std::collections::HashMap;

use crate::connectors::mappings::{IdentityType, NewMapping, is_sid};
use crate::drive::PrincipalId;
use crate::sides::smb::lsa::Sid;

/// Rows an import may hold: enough for a large domain, small enough to validate in one request.
pub const MAX_ROWS: usize = 50_000;

const HEADER: [&str; 2] = ["smb-sid", "scaidrive-user-id"];

/// One bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line number in the file.
    pub line: usize,
    /// `smb-sid`, `scaidrive-user-id`, or `row` for the row as a whole.
    pub column: &'static str,
    pub message: String,
}

/// Parses and validates `text`. `exists` tells whether a ScaiDrive user or group is real.
pub fn parse(text: &str, exists: impl Fn(PrincipalId) -> bool) -> Result<Vec<NewMapping>, Vec<RowProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = raw.split(',').map(cell).collect();
        if std::mem::take(&mut first)
            && cells.len() == 2
            && cells.iter().zip(HEADER).all(|(c, h)| c.eq_ignore_ascii_case(h))
        {
            continue;
        }
        if out.len() + problems.len() >= MAX_ROWS {
            problems.push(RowProblem { line, column: "row", message: format!("more than {MAX_ROWS} rows") });
            break;
        }
        let [sid, principal] = cells.as_slice() else {
            problems.push(RowProblem {
                line,
                column: "row",
                message: format!("expected 2 cells (smb-sid,scaidrive-user-id), found {}", cells.len()),
            });
            continue;
        };
        let before = problems.len();
        let sid_ok = is_sid(sid) && sid.parse::<Sid>().is_ok();
        if !sid_ok {
            problems.push(RowProblem { line, column: "smb-sid", message: format!("'{sid}' is not a SID (S-1-…)") });
        } else if let Some(earlier) = seen.insert(sid.to_uppercase(), line) {
            problems.push(RowProblem {
                line,
                column: "smb-sid",
                message: format!("{sid} is already mapped on line {earlier}"),
            });
        }
        let identity_type = if principal.starts_with("usr_") { IdentityType::User } else { IdentityType::Group };
        match principal.parse::<PrincipalId>() {
            Ok(p) if (principal.starts_with("usr_") || principal.starts_with("grp_")) && exists(p) => {}
            Ok(_) if principal.starts_with("usr_") || principal.starts_with("grp_") => problems.push(RowProblem {
                line,
                column: "scaidrive-user-id",
                message: format!("no ScaiDrive user or group {principal}"),
            }),
            _ => problems.push(RowProblem {
                line,
                column: "scaidrive-user-id",
                message: format!("'{principal}' is not a usr_ or grp_ id"),
            }),
        }
        if problems.len() == before {
            out.push(NewMapping {
                identity_type,
                smb_principal: sid.to_uppercase(),
                scaidrive_principal_id: (*principal).to_owned(),
            });
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(RowProblem { line: 1, column: "row", message: "the file holds no mappings".into() });
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// A cell without surrounding spaces and quotes.
fn cell(c: &str) -> &str {
    let c = c.trim();
    c.strip_prefix('"').and_then(|c| c.strip_suffix('"')).map(str::trim).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupId, UserId};

    #[test]
    fn rows_with_or_without_a_header_become_mappings() {
        let (u, g) = (UserId::new(), GroupId::new());
        for header in ["", "smb-sid,scaidrive-user-id\n", "\u{feff}SMB-SID, ScaiDrive-User-Id\r\n"] {
            let text = format!("{header}S-1-5-21-1-2-3-1000,{u}\r\n\n\"s-1-5-21-1-2-3-2000\" , \"{g}\"\n");
            let rows = parse(&text, |_| true).unwrap_or_else(|p| panic!("{header:?}: {p:?}"));
            assert_eq!(rows.len(), 2);
            assert_eq!(
                (rows[0].identity_type, rows[0].smb_principal.as_str()),
                (IdentityType::User, "S-1-5-21-1-2-3-1000")
            );
            assert_eq!(rows[1].identity_type, IdentityType::Group);
            assert_eq!(rows[1].smb_principal, "S-1-5-21-1-2-3-2000");
            assert_eq!(rows[1].scaidrive_principal_id, g.to_string());
        }
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let (u, ghost) = (UserId::new(), UserId::new());
        let text = format!(
            "smb-sid,scaidrive-user-id\nS-1-5-21-1-2-3-1000,{u}\nCORP\\bob,{u}\nS-1-5-21-1-2-3-1001,{ghost}\n\
             S-1-5-21-1-2-3-1002,alice\nS-1-5-21-1-2-3-1000,{u}\nS-1-5-21-1-2-3-1003\n"
        );
        let problems = parse(&text, |p| p == PrincipalId::User(u)).unwrap_err();
        let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.column)).collect();
        assert_eq!(
            got,
            [(3, "smb-sid"), (4, "scaidrive-user-id"), (5, "scaidrive-user-id"), (6, "smb-sid"), (7, "row")]
        );
        assert!(problems[3].message.contains("line 2"), "{}", problems[3].message);
    }

    #[test]
    fn an_empty_file_or_a_header_alone_is_refused() {
        assert_eq!(parse("", |_| true).unwrap_err()[0].column, "row");
        assert_eq!(
            parse("smb-sid,scaidrive-user-id\n", |_| true).unwrap_err()[0].message,
            "the file holds no mappings"
        );
    }
}
