//! `SmbClient`: one authenticated connection to one share, with a timeout on every call.
//!
//! It is built bottom-up rather than through `smb::Client` so that (a) our no-delay transport is
//! used (`Connection::from_transport`), and (b) each step of the login reports its own error:
//! an unreachable host, a refused login and an unknown share are different codes for an admin.
//! Every server round trip goes through [`SmbClient::call`], which bounds it with the configured
//! timeout: the `smb` crate itself can wait for ever on a response that never comes.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use smb::{Connection, ConnectionConfig, Session, Tree, UncPath};

use super::errors::SmbError;
use super::names::{ShareAddress, SmbPath};
use super::transport::NoDelayTransport;

/// How to reach and log in to a share. The password is kept out of `Debug`.
#[derive(Clone)]
pub struct SmbConfig {
    pub host: String,
    pub port: u16,
    pub share: String,
    /// Folder inside the share that the connector treats as its root (`/`-separated, may be empty).
    pub base_path: String,
    /// NT domain or workgroup; empty for a local account of the server.
    pub domain: String,
    pub username: String,
    pub password: String,
    /// Upper bound for any single SMB request (and for connecting).
    pub call_timeout: Duration,
    /// Bytes per read request; 1 MiB is what the server grants without large credit charges.
    pub read_chunk: u32,
    /// Read requests kept outstanding while streaming a file.
    pub reads_in_flight: usize,
    /// Bytes per write request.
    pub write_chunk: u32,
    /// Write requests kept outstanding while uploading a file.
    pub writes_in_flight: usize,
    /// Directory listings fetched ahead of the walk (1 = strictly one at a time).
    pub list_prefetch: usize,
    /// Refuse to talk to a server that does not encrypt (SMB 3 encryption).
    pub require_encryption: bool,
}

impl std::fmt::Debug for SmbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("share", &self.share)
            .field("base_path", &self.base_path)
            .field("domain", &self.domain)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

impl SmbConfig {
    pub const DEFAULT_PORT: u16 = 445;

    /// A config with our defaults for everything but the address and the account.
    pub fn new(host: &str, port: u16, share: &str, username: &str, password: &str) -> Self {
        SmbConfig {
            host: host.to_string(),
            port,
            share: share.to_string(),
            base_path: String::new(),
            domain: String::new(),
            username: username.to_string(),
            password: password.to_string(),
            call_timeout: Duration::from_secs(30),
            read_chunk: 1 << 20,
            reads_in_flight: 4,
            write_chunk: 1 << 20,
            writes_in_flight: 4,
            list_prefetch: 4,
            require_encryption: false,
        }
    }

    /// A config from a share address (`\\host\share\sub` or `smb://host:port/share/sub`); the
    /// address's sub-path becomes the base path.
    pub fn from_address(address: &str, username: &str, password: &str) -> Result<Self, SmbError> {
        let a = ShareAddress::parse(address)?;
        let mut cfg = Self::new(&a.host, a.port.unwrap_or(Self::DEFAULT_PORT), &a.share, username, password);
        cfg.base_path = a.sub_path;
        Ok(cfg)
    }

    /// `DOMAIN\user` as shown to admins (and in the `test` endpoint's message).
    pub fn account(&self) -> String {
        if self.domain.is_empty() { self.username.clone() } else { format!(r"{}\{}", self.domain, self.username) }
    }
}

/// A logged-in tree connection. Share it as `Arc<SmbClient>`: calls may run concurrently.
///
/// Field order is drop order: the tree goes before the session, the session before the
/// connection. Prefer [`SmbClient::shutdown`], which also tells the server.
pub struct SmbClient {
    tree: Tree,
    session: Session,
    conn: Connection,
    paths: SmbPath,
    cfg: SmbConfig,
    shut: AtomicBool,
}

impl std::fmt::Debug for SmbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl SmbClient {
    /// Connects, negotiates, logs in and connects the tree, each step within `call_timeout`.
    ///
    /// A garbled exchange (rarely, under load, the crate fails to verify a response's signature
    /// during login) is retried on a fresh connection, twice at most; refusals (credentials,
    /// share, network) are not.
    pub async fn connect(cfg: SmbConfig) -> Result<Self, SmbError> {
        let mut attempt = 1;
        loop {
            match Self::connect_once(cfg.clone()).await {
                Err(e @ (SmbError::Protocol { .. } | SmbError::ConnectionLost { .. })) if attempt < 3 => {
                    tracing::warn!(error = %e, attempt, "SMB connect failed; retrying on a new connection");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn connect_once(cfg: SmbConfig) -> Result<Self, SmbError> {
        let paths = SmbPath::new(&cfg.base_path)?;
        let t = cfg.call_timeout;
        let addr = resolve(&cfg.host, cfg.port, t).await?;
        let unreachable = |source| SmbError::Unreachable { addr: addr.to_string(), source };
        let transport = NoDelayTransport::connect_to(addr, t).await.map_err(|e| unreachable(Some(e)))?;

        let conn_cfg = ConnectionConfig {
            port: Some(cfg.port),
            timeout: Some(t),
            encryption_mode: if cfg.require_encryption {
                smb::connection::EncryptionMode::Required
            } else {
                smb::connection::EncryptionMode::Allowed
            },
            // Change notifications are not used; no background listener task.
            disable_notifications: true,
            ..Default::default()
        };
        let conn = bounded(
            t,
            "negotiate",
            Connection::from_transport(Box::new(transport), &cfg.host, smb::Guid::generate(), conn_cfg),
        )
        .await?
        .map_err(|e| match SmbError::from_smb(e, "") {
            SmbError::ConnectionLost { .. } | SmbError::Io { .. } | SmbError::Protocol { .. } => unreachable(None),
            other => other,
        })?;

        // `DOMAIN\user` typed into the user field counts as domain + user.
        let (domain, user) = match (cfg.domain.is_empty(), cfg.username.split_once('\\')) {
            (true, Some((d, u))) => (d, u),
            _ => (cfg.domain.as_str(), cfg.username.as_str()),
        };
        let username = sspi::Username::new(user, (!domain.is_empty()).then_some(domain))
            .map_err(|e| SmbError::InvalidConfig(format!("bad user name: {e}")))?;
        let identity = sspi::AuthIdentity { username, password: cfg.password.clone().into() };
        let session = match bounded(t, "login", conn.authenticate(identity)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = conn.close().await;
                return Err(login_error(e));
            }
            Err(e) => {
                let _ = conn.close().await;
                return Err(e);
            }
        };

        let unc = UncPath::from_str(&format!(r"\\{}\{}", cfg.host, cfg.share))
            .map_err(|e| SmbError::InvalidConfig(format!("bad share name: {e}")))?;
        let tree = match bounded(t, "tree connect", session.tree_connect(&unc)).await {
            Ok(Ok(tree)) => tree,
            Ok(Err(e)) => {
                let _ = session.logoff().await;
                let _ = conn.close().await;
                return Err(SmbError::from_smb(e, &cfg.share));
            }
            Err(e) => {
                let _ = conn.close().await;
                return Err(e);
            }
        };
        Ok(SmbClient { tree, session, conn, paths, cfg, shut: AtomicBool::new(false) })
    }

    /// Disconnects the tree, logs off and closes the connection, in that order. Open handles
    /// should be closed first (our readers and writers close theirs when they finish).
    pub async fn shutdown(&self) -> Result<(), SmbError> {
        if self.shut.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let t = self.cfg.call_timeout;
        // Best effort on each step: a dead server must not keep the later steps from running.
        let tree = bounded(t, "tree disconnect", self.tree.disconnect()).await;
        let logoff = bounded(t, "logoff", self.session.logoff()).await;
        let close = bounded(t, "close", self.conn.close()).await;
        for step in [tree, logoff, close] {
            match step {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(SmbError::from_smb(e, "")),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// What the connector's `test` endpoint does: connect, look at the base folder, log off.
    /// The message names what was reached, as the API shows it on success.
    pub async fn probe(cfg: SmbConfig) -> Result<String, SmbError> {
        let client = Self::connect(cfg).await?;
        let looked = client.stat("").await;
        let closed = client.shutdown().await;
        let root = looked?;
        closed?;
        if !root.is_dir() {
            return Err(SmbError::NotADirectory { path: client.cfg.base_path.clone() });
        }
        let c = &client.cfg;
        let mut target = format!(r"{}\{}", c.host, c.share);
        if !c.base_path.is_empty() {
            target.push('\\');
            target.push_str(&c.base_path.trim_matches('/').replace('/', "\\"));
        }
        Ok(format!("Connected to {target} as {}", c.account()))
    }

    pub fn config(&self) -> &SmbConfig {
        &self.cfg
    }

    /// Share-relative SMB path of a connector-relative `/` path.
    pub fn smb_path(&self, rel: &str) -> Result<String, SmbError> {
        self.paths.resolve(rel)
    }

    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }

    /// A second tree on this session: the server's `IPC$`, for RPC pipes (LSA lookups).
    pub(crate) async fn connect_ipc(&self) -> Result<Tree, SmbError> {
        let unc = UncPath::from_str(&format!(r"\\{}\IPC$", self.cfg.host))
            .map_err(|e| SmbError::InvalidConfig(format!("bad host name: {e}")))?;
        self.call("tree connect", "IPC$", self.session.tree_connect(&unc)).await
    }

    /// Runs one SMB request under the call timeout and sorts its error for `path`.
    pub(crate) async fn call<T, F>(&self, op: &'static str, path: &str, fut: F) -> Result<T, SmbError>
    where
        F: Future<Output = smb::Result<T>>,
    {
        bounded(self.cfg.call_timeout, op, fut).await?.map_err(|e| SmbError::from_smb(e, path))
    }
}

/// `fut` within `after`, or `SmbError::Timeout`.
pub(crate) async fn bounded<T, F: Future<Output = T>>(
    after: Duration,
    op: &'static str,
    fut: F,
) -> Result<T, SmbError> {
    tokio::time::timeout(after, fut).await.map_err(|_| SmbError::Timeout { op, after })
}

async fn resolve(host: &str, port: u16, t: Duration) -> Result<SocketAddr, SmbError> {
    let unreachable = |source| SmbError::Unreachable { addr: format!("{host}:{port}"), source };
    let mut addrs =
        bounded(t, "resolve", tokio::net::lookup_host((host, port))).await?.map_err(|e| unreachable(Some(e)))?;
    addrs.next().ok_or_else(|| unreachable(None))
}

/// A failed login is an auth failure whatever variant the crate wrapped the status in; the
/// crate reports a bad password as `UnexpectedMessageStatus(LOGON_FAILURE)`.
fn login_error(e: smb::Error) -> SmbError {
    match SmbError::from_smb(e, "") {
        SmbError::Status { status, .. } => SmbError::AuthFailed { status },
        SmbError::PermissionDenied { .. } => SmbError::AuthFailed { status: super::errors::status::ACCESS_DENIED },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_never_shows_the_password() {
        let cfg = SmbConfig::new("fs01", 445, "data", "svc", "hunter2-secret");
        let text = format!("{cfg:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn config_from_address_takes_port_and_sub_path() {
        let cfg = SmbConfig::from_address(r"\\fs01:1445\Finance\2026", "svc", "pw").expect("parse");
        assert_eq!((cfg.host.as_str(), cfg.port), ("fs01", 1445));
        assert_eq!((cfg.share.as_str(), cfg.base_path.as_str()), ("Finance", "2026"));
        let cfg = SmbConfig::from_address("smb://fs01/Finance", "svc", "pw").expect("parse");
        assert_eq!(cfg.port, 445);
    }

    #[test]
    fn account_shows_the_domain_when_there_is_one() {
        let mut cfg = SmbConfig::new("fs01", 445, "data", "svc", "pw");
        assert_eq!(cfg.account(), "svc");
        cfg.domain = "CORP".into();
        assert_eq!(cfg.account(), r"CORP\svc");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        // Bind then drop a listener: the port is closed for the connect that follows.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut cfg = SmbConfig::new("127.0.0.1", port, "data", "svc", "pw");
        cfg.call_timeout = Duration::from_secs(5);
        let err = SmbClient::connect(cfg).await.expect_err("closed port");
        assert_eq!(err.code(), "CONNECTOR_UNREACHABLE", "{err}");
    }
}
