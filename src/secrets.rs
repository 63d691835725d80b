//! Sealing of credentials at rest (connector passwords, client secrets, refresh tokens) with AES-256-GCM.
//!
//! Each sealed value is `version (1) | nonce (12) | ciphertext+tag`, with a random nonce per value and associated
//! data naming the row and field it belongs to (`connector/cnn_…/password`), so a sealed value copied into another
//! row or field fails to open. The key never touches the database: it comes from a systemd credential
//! (`$CREDENTIALS_DIRECTORY/sealing.key`, set by `LoadCredential=`) or from a key file that must be readable by its
//! owner only.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

pub const KEY_FILE_NAME: &str = "sealing.key";
const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "no sealing key: neither $CREDENTIALS_DIRECTORY/{KEY_FILE_NAME} nor {0} exists (run `scaidrive-connectors init`)"
    )]
    Missing(PathBuf),
    #[error("sealing key {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("sealing key {0} is not 32 bytes of base64")]
    Malformed(PathBuf),
    #[error("sealing key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("a sealed value could not be opened: wrong key, or it belongs to another row or field")]
    Unseal,
}

/// Names the row and field a sealed value belongs to; it is the AEAD associated data.
#[derive(Debug, Clone, Copy)]
pub struct SecretLabel<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub field: &'a str,
}

impl SecretLabel<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("scaidrive/v{FORMAT_VERSION}/{}/{}/{}", self.table, self.row, self.field).into_bytes()
    }
}

/// A secret's plaintext; its `Debug` never prints the value, so it cannot leak through a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext(String);

impl Plaintext {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Plaintext(<redacted>)")
    }
}

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(key.into()) }
    }

    /// Finds the key: the systemd credential wins over the key file in the data directory.
    pub fn load(key_file: &Path, credentials_dir: Option<&Path>) -> Result<Self, SecretsError> {
        if let Some(dir) = credentials_dir {
            let credential = dir.join(KEY_FILE_NAME);
            if credential.exists() {
                // systemd makes credentials readable by the service only; no mode check needed (or possible:
                // the directory is on a ramfs owned by the service user).
                return Self::read_key(&credential);
            }
        }
        if !key_file.exists() {
            return Err(SecretsError::Missing(key_file.to_owned()));
        }
        let mode = fs::metadata(key_file)
            .map_err(|source| SecretsError::Io { path: key_file.to_owned(), source })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SecretsError::TooOpen { path: key_file.to_owned(), mode: mode & 0o777 });
        }
        Self::read_key(key_file)
    }

    fn read_key(path: &Path) -> Result<Self, SecretsError> {
        let text = fs::read_to_string(path).map_err(|source| SecretsError::Io { path: path.to_owned(), source })?;
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SecretsError::Malformed(path.to_owned()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretsError::Malformed(path.to_owned()))?;
        Ok(Self::from_key(&key))
    }

    /// Writes a new random key to `path` with mode 0600; refuses to overwrite an existing key, which would make
    /// every sealed value unreadable.
    pub fn create_key_file(path: &Path) -> Result<(), SecretsError> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let io = |source| SecretsError::Io { path: path.to_owned(), source };
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
        file.write_all(STANDARD.encode(key).as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn seal(&self, plaintext: &Plaintext, label: SecretLabel<'_>) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = label.associated_data();
        let payload = Payload { msg: plaintext.expose().as_bytes(), aad: &aad };
        // Encryption with a valid key and a 96-bit nonce cannot fail for messages under 64 GiB.
        let ciphertext = self.cipher.encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], label: SecretLabel<'_>) -> Result<Plaintext, SecretsError> {
        let (version, rest) = sealed.split_first().ok_or(SecretsError::Unseal)?;
        if *version != FORMAT_VERSION || rest.len() < NONCE_LEN {
            return Err(SecretsError::Unseal);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = label.associated_data();
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| SecretsError::Unseal)?;
        String::from_utf8(plain).map(Plaintext).map_err(|_| SecretsError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: SecretLabel<'static> = SecretLabel { table: "connector", row: "cnn_1", field: "password" };

    #[test]
    fn sealed_value_opens_with_its_label_only() {
        let sealer = Sealer::from_key(&[7; 32]);
        let sealed = sealer.seal(&Plaintext::new("Secret-123"), LABEL);
        assert!(!sealed.windows(10).any(|w| w == b"Secret-123"));
        assert_eq!(sealer.open(&sealed, LABEL).unwrap().expose(), "Secret-123");
        let other_row = SecretLabel { row: "cnn_2", ..LABEL };
        assert!(matches!(sealer.open(&sealed, other_row), Err(SecretsError::Unseal)));
        let other_field = SecretLabel { field: "username", ..LABEL };
        assert!(sealer.open(&sealed, other_field).is_err());
        assert!(Sealer::from_key(&[8; 32]).open(&sealed, LABEL).is_err());
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let sealer = Sealer::from_key(&[7; 32]);
        let value = Plaintext::new("same");
        assert_ne!(sealer.seal(&value, LABEL), sealer.seal(&value, LABEL));
    }

    #[test]
    fn plaintext_debug_is_redacted() {
        assert_eq!(format!("{:?}", Plaintext::new("hunter2")), "Plaintext(<redacted>)");
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        Sealer::create_key_file(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        Sealer::load(&path, None).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = Sealer::load(&path, None).unwrap_err();
        assert!(matches!(err, SecretsError::TooOpen { mode: 0o640, .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn existing_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        Sealer::create_key_file(&path).unwrap();
        let before = fs::read(&path).unwrap();
        assert!(Sealer::create_key_file(&path).is_err());
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn systemd_credential_wins_over_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let creds = tempfile::tempdir().unwrap();
        Sealer::create_key_file(&creds.path().join(KEY_FILE_NAME)).unwrap();
        let missing_file = dir.path().join(KEY_FILE_NAME);
        Sealer::load(&missing_file, Some(creds.path())).unwrap();
        assert!(matches!(Sealer::load(&missing_file, None), Err(SecretsError::Missing(_))));
    }
}
