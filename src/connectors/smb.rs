//! The SMB connector's own settings: where the share is and who logs in. The server may be given as
//! `server_host` + `server_port` + `share_name`, or as one address, `\\host\share` or `smb://host[:port]/share`
//! (with an optional folder after the share, taken as `base_path`).

use serde::{Deserialize, Serialize};

use super::settings::{CommonInput, Problems};
use crate::sides::smb::names::ShareAddress;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmbSettings {
    pub server_host: String,
    pub server_port: u16,
    pub share_name: String,
    /// Folder inside the share that is the connector's root, `/`-separated, empty for the share root.
    pub base_path: String,
    pub domain: String,
    pub username: String,
}

/// A create or update request for an SMB connector, as the API takes it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmbInput {
    #[serde(flatten)]
    pub common: CommonInput,
    /// `\\host\share` or `smb://host[:port]/share`, instead of the three fields below.
    pub server: Option<String>,
    pub server_host: Option<String>,
    pub server_port: Option<u16>,
    pub share_name: Option<String>,
    pub base_path: Option<String>,
    pub domain: Option<String>,
    pub username: Option<String>,
    /// Write-only: stored sealed, never returned.
    pub password: Option<String>,
}

/// Characters Windows refuses in a share name.
const BAD_SHARE_CHARS: &[char] = &['\\', '/', ':', '*', '?', '"', '<', '>', '|'];

/// A folder path inside the source (`/` or `\` separated) as `a/b`, or a problem on `base_path`.
pub(super) fn clean_base_path(raw: &str, problems: &mut Problems) -> String {
    let parts: Vec<&str> = raw.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == ".." || p.chars().any(char::is_control)) {
        problems.add("base_path", "must be a plain folder path inside the share (no `.`, `..` or control characters)");
    }
    parts.join("/")
}

impl SmbInput {
    /// Applies the server fields of this request over `current` (defaults for a create).
    pub fn apply_server(&self, mut current: SmbSettings, problems: &mut Problems) -> SmbSettings {
        if let Some(address) = &self.server {
            match ShareAddress::parse(address) {
                Ok(parsed) => {
                    let clashes = [
                        (
                            "server_host",
                            self.server_host.as_ref().is_some_and(|h| !h.eq_ignore_ascii_case(&parsed.host)),
                        ),
                        ("server_port", self.server_port.zip(parsed.port).is_some_and(|(a, b)| a != b)),
                        (
                            "share_name",
                            self.share_name.as_ref().is_some_and(|s| !s.eq_ignore_ascii_case(&parsed.share)),
                        ),
                    ];
                    for (field, clash) in clashes {
                        if clash {
                            problems.add(field, "differs from the one in `server`");
                        }
                    }
                    current.server_host = parsed.host;
                    current.server_port = parsed.port.or(self.server_port).unwrap_or(445);
                    current.share_name = parsed.share;
                    if !parsed.sub_path.is_empty() && self.base_path.is_none() {
                        current.base_path = clean_base_path(&parsed.sub_path, problems);
                    }
                }
                Err(e) => problems.add("server", e.to_string()),
            }
        }
        if let Some(host) = &self.server_host {
            current.server_host = problems.text("server_host", host, 253);
            if current.server_host.contains(['/', '\\', ' ']) {
                problems.add("server_host", "must be a host name or address, without slashes");
            }
        }
        if let Some(port) = self.server_port {
            if port == 0 {
                problems.add("server_port", "must be between 1 and 65535");
            }
            current.server_port = port;
        }
        if let Some(share) = &self.share_name {
            current.share_name = problems.text("share_name", share, 80);
            if current.share_name.contains(BAD_SHARE_CHARS) {
                problems.add("share_name", "must not contain \\ / : * ? \" < > |");
            }
        }
        if let Some(base) = &self.base_path {
            current.base_path = clean_base_path(base, problems);
        }
        if let Some(domain) = &self.domain {
            current.domain = domain.trim().to_owned();
            if current.domain.chars().any(|c| c.is_control() || BAD_SHARE_CHARS.contains(&c)) {
                problems.add("domain", "must be an NT domain or workgroup name");
            }
        }
        if let Some(username) = &self.username {
            current.username = problems.text("username", username, 256);
        }
        if self.password.as_ref().is_some_and(String::is_empty) {
            problems.add("password", "must not be empty");
        }
        current
    }

    /// Validates a create request's SMB fields.
    pub fn create_server(&self, problems: &mut Problems) -> SmbSettings {
        if self.server.is_none() {
            problems.required("server_host", self.server_host.as_ref());
            problems.required("share_name", self.share_name.as_ref());
        }
        problems.required("username", self.username.as_ref());
        problems.required("password", self.password.as_ref());
        let empty = SmbSettings {
            server_host: String::new(),
            server_port: 445,
            share_name: String::new(),
            base_path: String::new(),
            domain: String::new(),
            username: String::new(),
        };
        self.apply_server(empty, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> SmbInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn unc_and_url_forms_fill_host_port_share_and_base_path() {
        let mut problems = Problems::default();
        let unc =
            input(serde_json::json!({"server": "\\\\fs01.corp\\Finance\\2026", "username": "u", "password": "p"}));
        let s = unc.create_server(&mut problems);
        assert!(problems.0.is_empty(), "{:?}", problems.0);
        assert_eq!(
            (s.server_host.as_str(), s.server_port, s.share_name.as_str(), s.base_path.as_str()),
            ("fs01.corp", 445, "Finance", "2026")
        );
        let url = input(serde_json::json!({"server": "smb://127.0.0.1:14451/data", "username": "u", "password": "p"}));
        let s = url.create_server(&mut problems);
        assert_eq!((s.server_port, s.share_name.as_str()), (14451, "data"));
    }

    #[test]
    fn clashing_and_missing_fields_are_each_reported() {
        let mut problems = Problems::default();
        let bad = input(serde_json::json!({"server": "smb://a/x", "server_host": "b", "share_name": "x"}));
        bad.create_server(&mut problems);
        let fields: Vec<&str> = problems.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["username", "password", "server_host"]);
        let mut problems = Problems::default();
        input(serde_json::json!({"server_host": "h", "share_name": "a:b", "server_port": 0, "base_path": "../up", "username": "u", "password": ""}))
            .create_server(&mut problems);
        let fields: Vec<&str> = problems.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["server_port", "share_name", "base_path", "password"]);
    }
}
