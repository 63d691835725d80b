//! Bringing a data directory into being (`init`) and opening it for service: the database, the sealing key,
//! the first superadmin and its token. Shared by the CLI and the test harness, so tests start appliances exactly
//! as operators do.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::principals::{Acting, IssuedToken, NewToken, NewUser, Principals, PrincipalsError, Role, TokenKind, User};
use crate::secrets::{KEY_FILE_NAME, Sealer, SecretsError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0} is already initialized (it has users); nothing was changed")]
    AlreadyInitialized(String),
    #[error("{0} is not initialized: run `scaidrive-connectors init` first")]
    NotInitialized(String),
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Principals(#[from] PrincipalsError),
}

pub struct Initialized {
    pub admin: User,
    pub token: IssuedToken,
}

/// Creates the data directory (mode 0700), the sealing key (unless a systemd credential provides one), the
/// database, and a superadmin with one API token. Refuses a directory that already has users.
pub fn initialize(
    config: &Config,
    admin_name: &str,
    credentials_dir: Option<&Path>,
    clock: SharedClock,
) -> Result<Initialized, SetupError> {
    let dir = &config.data_dir;
    let dir_error = |source| SetupError::DataDir { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(dir_error)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(dir_error)?;
    let credential = credentials_dir.map(|d| d.join(KEY_FILE_NAME)).filter(|p| p.exists());
    if credential.is_none() && !config.key_file_path().exists() {
        Sealer::create_key_file(&config.key_file_path())?;
    }
    Sealer::load(&config.key_file_path(), credentials_dir)?;
    let store = Store::open(&config.database_path())?;
    let principals = Principals::new(store, clock);
    if !principals.list_users(None, 1)?.0.is_empty() {
        return Err(SetupError::AlreadyInitialized(dir.display().to_string()));
    }
    let admin =
        principals.create_user(&Acting::system(), NewUser { role: Role::Superadmin, ..NewUser::named(admin_name) })?;
    let new_token = NewToken { name: "initial admin token".into(), user_id: Some(admin.id), expires_at: None };
    let token = principals.issue_token(&Acting::system(), new_token, TokenKind::Api)?;
    Ok(Initialized { admin, token })
}

/// Opens an initialized data directory for service: its sealing key and its database (migrated if needed).
pub fn open_for_service(config: &Config, credentials_dir: Option<&Path>) -> Result<(Store, Sealer), SetupError> {
    if !config.database_path().exists() {
        return Err(SetupError::NotInitialized(config.data_dir.display().to_string()));
    }
    let sealer = Sealer::load(&config.key_file_path(), credentials_dir)?;
    let store = Store::open(&config.database_path())?;
    Ok((store, sealer))
}
