//! One `Config` for the whole appliance: embedded defaults, then an optional TOML file, then `SCAIDRIVE_*`
//! environment overrides. Unknown keys and bad values are refused at start with a message naming the key, so a
//! typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file read when neither `--config` nor `SCAIDRIVE_CONFIG` names one; missing is fine.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/scaidrive-connectors/config.toml";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the REST API listens, `host:port`.
    pub listen: SocketAddr,
    /// Database, sealing key (unless given as a systemd credential) and file content live here.
    pub data_dir: PathBuf,
    /// Serve HTTPS instead of HTTP. The certificate is reloaded when its file changes.
    pub tls: Option<TlsConfig>,
    /// Log line format on stderr.
    pub log_format: LogFormat,
    pub limits: Limits,
    pub users: UsersConfig,
    /// How long a graceful shutdown waits for in-flight requests and runs to reach a safe point.
    pub shutdown_grace_seconds: u64,
    pub sharepoint: SharePointEndpoints,
}

/// `[sharepoint]`: where Microsoft's services are. Appliance-wide, not per connector: they change only for
/// national clouds and for tests against the Graph emulator.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SharePointEndpoints {
    /// The identity platform's base (`{login_base}/{tenant}/oauth2/v2.0/token`).
    pub login_base: String,
    /// Graph's versioned base.
    pub graph_base: String,
    /// Where Microsoft sends the browser back after a `user_auth` consent: this appliance's
    /// `/api/v1/sharepoint-connectors/oauth/callback` as the browser reaches it, registered on the Azure app.
    /// Without it, `authorize` is refused.
    pub redirect_uri: Option<String>,
}

impl Default for SharePointEndpoints {
    fn default() -> Self {
        Self {
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com/v1.0".into(),
            redirect_uri: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest JSON request body accepted; file uploads are streamed and bounded by quota instead.
    pub max_json_body_bytes: usize,
}

/// `[users]`: how accounts come to exist.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UsersConfig {
    /// Refuse `POST /api/v1/users` (`USERS_READ_ONLY`): accounts come only from the identity provider (SCIM), so
    /// admins cannot create accounts that drift from it.
    pub read_only: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_json_body_bytes: 1024 * 1024 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("scaidrive-data"),
            tls: None,
            log_format: LogFormat::Text,
            limits: Limits::default(),
            users: UsersConfig::default(),
            shutdown_grace_seconds: 30,
            sharepoint: SharePointEndpoints::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {key}: {message}")]
    Env { key: &'static str, message: String },
}

impl Config {
    /// Loads the configuration the way `serve` and the other subcommands do: `file` (or `SCAIDRIVE_CONFIG`, or the
    /// default path if it exists), then the environment. `env` is injected so tests need not touch the process
    /// environment.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let explicit = file.map(Path::to_path_buf).or_else(|| env("SCAIDRIVE_CONFIG").map(PathBuf::from));
        let mut config = match explicit {
            Some(path) => Self::from_file(&path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => Self::from_file(Path::new(DEFAULT_CONFIG_FILE))?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.to_owned(), message })
    }

    /// Parses TOML text; the error message names the offending key and shows the line.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(dir) = env("SCAIDRIVE_DATA_DIR") {
            if dir.is_empty() {
                return Err(ConfigError::Env { key: "SCAIDRIVE_DATA_DIR", message: "must not be empty".into() });
            }
            self.data_dir = PathBuf::from(dir);
        }
        if let Some(listen) = env("SCAIDRIVE_LISTEN") {
            self.listen = listen.parse().map_err(|_| ConfigError::Env {
                key: "SCAIDRIVE_LISTEN",
                message: format!("'{listen}' is not host:port (for example 127.0.0.1:8080)"),
            })?;
        }
        if let Some(format) = env("SCAIDRIVE_LOG_FORMAT") {
            self.log_format = match format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        key: "SCAIDRIVE_LOG_FORMAT",
                        message: format!("'{format}' is not one of text, json"),
                    });
                }
            };
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.data_dir.as_os_str().is_empty() {
            return Err("data_dir: must not be empty".into());
        }
        if self.limits.max_json_body_bytes < 1024 {
            return Err("limits.max_json_body_bytes: must be at least 1024".into());
        }
        let sharepoint = &self.sharepoint;
        for (key, url) in [
            ("sharepoint.login_base", Some(&sharepoint.login_base)),
            ("sharepoint.graph_base", Some(&sharepoint.graph_base)),
            ("sharepoint.redirect_uri", sharepoint.redirect_uri.as_ref()),
        ] {
            if let Some(url) = url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(format!("{key}: '{url}' is not an http(s) URL"));
            }
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("scaidrive.redb")
    }

    pub fn key_file_path(&self) -> PathBuf {
        self.data_dir.join(crate::secrets::KEY_FILE_NAME)
    }

    pub fn content_dir(&self) -> PathBuf {
        self.data_dir.join("content")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_work_with_no_file_at_all() {
        let config = Config::load(None, no_env).unwrap();
        assert_eq!(config.listen.ip().to_string(), "127.0.0.1");
        assert!(config.tls.is_none());
    }

    #[test]
    fn users_are_writable_unless_read_only_is_set() {
        assert!(!Config::default().users.read_only);
        assert!(Config::from_toml("[users]\nread_only = true\n").unwrap().users.read_only);
        let err = Config::from_toml("[users]\nreadonly = true\n").unwrap_err();
        assert!(err.contains("readonly"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_key() {
        let err = Config::from_toml("listen = \"127.0.0.1:1\"\nlisten_port = 9\n").unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn bad_value_is_an_error_naming_the_key() {
        let err = Config::from_toml("listen = \"not an address\"\n").unwrap_err();
        assert!(err.contains("listen"), "{err}");
        let err = Config::from_toml("[limits]\nmax_json_body_bytes = \"big\"\n").unwrap_err();
        assert!(err.contains("max_json_body_bytes"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = |key: &str| match key {
            "SCAIDRIVE_LISTEN" => Some("127.0.0.1:9999".to_owned()),
            "SCAIDRIVE_DATA_DIR" => Some("/tmp/x".to_owned()),
            _ => None,
        };
        let config = Config::load(None, env).unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let env = |key: &str| (key == "SCAIDRIVE_LISTEN").then(|| "nowhere".to_owned());
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("SCAIDRIVE_LISTEN"), "{err}");
    }

    #[test]
    fn sharepoint_endpoints_default_to_microsoft_and_can_point_elsewhere() {
        let default = Config::default().sharepoint;
        assert_eq!(default.graph_base, "https://graph.microsoft.com/v1.0");
        let config = Config::from_toml("[sharepoint]\nlogin_base = \"http://127.0.0.1:9\"\n").unwrap();
        assert_eq!(config.sharepoint.login_base, "http://127.0.0.1:9");
        assert_eq!(config.sharepoint.graph_base, default.graph_base);
        let err = Config::from_toml("[sharepoint]\ngraph_base = \"graph.example\"\n").unwrap_err();
        assert!(err.contains("sharepoint.graph_base"), "{err}");
    }

    #[test]
    fn the_shipped_config_file_parses_to_the_defaults() {
        let shipped = Config::from_toml(include_str!("../appliance/config.toml")).unwrap();
        let defaults = Config::default();
        assert_eq!(shipped.sharepoint, defaults.sharepoint);
        assert_eq!((shipped.limits, shipped.users), (defaults.limits, defaults.users));
    }

    #[test]
    fn tls_section_needs_both_paths() {
        let err = Config::from_toml("[tls]\ncert = \"/c.pem\"\n").unwrap_err();
        assert!(err.contains("key"), "{err}");
        let config = Config::from_toml("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\n").unwrap();
        assert_eq!(config.tls.unwrap().key, PathBuf::from("/k.pem"));
    }
}
