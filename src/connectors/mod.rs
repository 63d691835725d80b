//! Connectors as configuration: what to sync with what, and with which credentials. The records live in the
//! `connectors` table; secrets in them are sealed (`crate::secrets`) and bound to their row and field. Runs,
//! jobs and file states belong to the connector actors; this module only keeps the settings.

pub mod file_states;
pub mod job_stats;
pub mod jobs;
pub mod launch;
pub mod mappings;
pub mod progress;
pub mod resolution;
pub mod runner;
pub mod settings;
pub mod sharepoint;
pub mod smb;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{self, AuditEvent};
use crate::clock::SharedClock;
use crate::ids::{ConnectorId, ShareId, UserId};
use crate::principals::Acting;
use crate::secrets::{Plaintext, Sealer, SecretLabel};
use crate::store::tables::CONNECTORS;
use crate::store::{Store, StoreError, codec};
pub use settings::{CommonInput, CommonSettings, Problem, Problems};
pub use sharepoint::{AuthType, SharePointInput, SharePointSettings};
pub use smb::{SmbInput, SmbSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    Smb,
    Sharepoint,
}

/// A connector as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub id: ConnectorId,
    pub kind: ConnectorKind,
    pub common: CommonSettings,
    pub smb: Option<SmbSettings>,
    #[serde(default)]
    pub sharepoint: Option<SharePointSettings>,
    /// Sealed secrets by field name (`password`, `azure_client_secret`, `refresh_token`, ...): AES-GCM bound to
    /// this row and field.
    secrets: BTreeMap<String, Vec<u8>>,
    pub paused: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub created_by: Option<UserId>,
    pub version: u64,
}

impl Connector {
    /// Whether a secret is set for `field` (what reads show instead of the value).
    pub fn has_secret(&self, field: &str) -> bool {
        self.secrets.contains_key(field)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorsError {
    #[error("connector {0} not found")]
    NotFound(ConnectorId),
    #[error("validation failed")]
    Invalid(Vec<Problem>),
    #[error("{0} cannot be changed after creation")]
    Immutable(&'static str),
    #[error("the stored {0} of this connector cannot be unsealed: was the sealing key replaced?")]
    Unseal(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

macro_rules! store_error_from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ConnectorsError {
            fn from(e: $t) -> Self {
                ConnectorsError::Store(e.into())
            }
        }
    )*};
}
store_error_from_redb!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// The connectors table, with sealing of the secrets it holds.
#[derive(Clone)]
pub struct Connectors {
    store: Store,
    sealer: Arc<Sealer>,
    clock: SharedClock,
}

fn label<'a>(id: &'a str, field: &'a str) -> SecretLabel<'a> {
    SecretLabel { table: "connectors", row: id, field }
}

impl Connectors {
    pub fn new(store: Store, sealer: Arc<Sealer>, clock: SharedClock) -> Self {
        Self { store, sealer, clock }
    }

    pub fn create_smb(
        &self,
        acting: &Acting,
        common: CommonSettings,
        smb: SmbSettings,
        password: &Plaintext,
    ) -> Result<Connector, ConnectorsError> {
        self.insert(acting, ConnectorKind::Smb, common, |c| c.smb = Some(smb), &[("password", password)])
    }

    /// A SharePoint connector; a `user_auth` one may get its client secret later (before `authorize`).
    pub fn create_sharepoint(
        &self,
        acting: &Acting,
        common: CommonSettings,
        sharepoint: SharePointSettings,
        client_secret: Option<&Plaintext>,
    ) -> Result<Connector, ConnectorsError> {
        let secrets: Vec<(&'static str, &Plaintext)> =
            client_secret.map(|s| ("azure_client_secret", s)).into_iter().collect();
        self.insert(acting, ConnectorKind::Sharepoint, common, |c| c.sharepoint = Some(sharepoint), &secrets)
    }

    fn insert(
        &self,
        acting: &Acting,
        kind: ConnectorKind,
        common: CommonSettings,
        specific: impl FnOnce(&mut Connector),
        secrets: &[(&'static str, &Plaintext)],
    ) -> Result<Connector, ConnectorsError> {
        let now = self.clock.now();
        let id = ConnectorId::new();
        let sealed = secrets
            .iter()
            .map(|(field, value)| ((*field).to_owned(), self.sealer.seal(value, label(&id.to_string(), field))))
            .collect();
        let mut connector = Connector {
            id,
            kind,
            common,
            smb: None,
            sharepoint: None,
            secrets: sealed,
            paused: false,
            created_at: now,
            updated_at: now,
            created_by: match acting.actor {
                audit::AuditActor::User(user) => Some(user),
                _ => None,
            },
            version: 1,
        };
        specific(&mut connector);
        let txn = self.store.db().begin_write()?;
        txn.open_table(CONNECTORS)?.insert(id.to_bytes(), codec::encode(&connector).as_slice())?;
        let event = AuditEvent::new("connector.created", acting.actor.clone(), Some(id.to_string()), now)
            .with_details(serde_json::json!({ "kind": kind, "name": connector.common.name, "target_share_id": connector.common.target_share_id }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(connector)
    }

    pub fn get(&self, id: ConnectorId) -> Result<Connector, ConnectorsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(CONNECTORS)?;
        let row = table.get(id.to_bytes())?.ok_or(ConnectorsError::NotFound(id))?;
        Ok(codec::decode("connectors", row.value())?)
    }

    /// Every connector of `kind`, oldest first.
    pub fn list(&self, kind: ConnectorKind) -> Result<Vec<Connector>, ConnectorsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(CONNECTORS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let connector: Connector = codec::decode("connectors", row?.1.value())?;
            if connector.kind == kind {
                out.push(connector);
            }
        }
        Ok(out)
    }

    /// Whether any connector targets `share` (then the share cannot be deleted).
    pub fn targets_share(&self, share: ShareId) -> Result<bool, ConnectorsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(CONNECTORS)?;
        for row in table.iter()? {
            let connector: Connector = codec::decode("connectors", row?.1.value())?;
            if connector.common.target_share_id == share {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Applies `change` to the stored connector in one transaction; `change` may refuse. `new_secret` (field and
    /// value), when given, replaces the sealed one (credential rotation). Records which fields changed, never
    /// their values.
    pub fn update(
        &self,
        acting: &Acting,
        id: ConnectorId,
        changed_fields: Vec<String>,
        new_secret: Option<(&'static str, &Plaintext)>,
        change: impl FnOnce(&mut Connector) -> Result<(), ConnectorsError>,
    ) -> Result<Connector, ConnectorsError> {
        let txn = self.store.db().begin_write()?;
        let mut connector: Connector = {
            let table = txn.open_table(CONNECTORS)?;
            let row = table.get(id.to_bytes())?.ok_or(ConnectorsError::NotFound(id))?;
            codec::decode("connectors", row.value())?
        };
        change(&mut connector)?;
        if let Some((field, value)) = new_secret {
            let sealed = self.sealer.seal(value, label(&id.to_string(), field));
            connector.secrets.insert(field.into(), sealed);
        }
        connector.updated_at = self.clock.now();
        connector.version += 1;
        txn.open_table(CONNECTORS)?.insert(id.to_bytes(), codec::encode(&connector).as_slice())?;
        let event =
            AuditEvent::new("connector.updated", acting.actor.clone(), Some(id.to_string()), connector.updated_at)
                .with_details(serde_json::json!({ "fields": changed_fields }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(connector)
    }

    /// Deletes a connector and everything kept about it (mappings, file states, jobs, permission and SharePoint item
    /// memory). What it synced stays in the share; the source is untouched.
    pub fn delete(&self, acting: &Acting, id: ConnectorId) -> Result<(), ConnectorsError> {
        let txn = self.store.db().begin_write()?;
        let removed = txn.open_table(CONNECTORS)?.remove(id.to_bytes())?.is_some();
        if !removed {
            return Err(ConnectorsError::NotFound(id));
        }
        mappings::remove_all(&txn, id)?;
        file_states::remove_all(&txn, id)?;
        jobs::remove_all(&txn, id)?;
        crate::identity::states::remove_all(&txn, id)?;
        crate::sides::sharepoint::extras_state::remove_all(&txn, id)?;
        let event = AuditEvent::new("connector.deleted", acting.actor.clone(), Some(id.to_string()), self.clock.now());
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }

    /// Replaces (`Some`) or removes (`None`) one sealed secret without touching the settings: OAuth bookkeeping
    /// (a rotated refresh token, a pending authorization's state), which is not a change an admin made, so it
    /// neither bumps the version nor writes `connector.updated`.
    pub fn put_secret(
        &self,
        id: ConnectorId,
        field: &'static str,
        value: Option<&Plaintext>,
    ) -> Result<Connector, ConnectorsError> {
        let txn = self.store.db().begin_write()?;
        let mut connector: Connector = {
            let table = txn.open_table(CONNECTORS)?;
            let row = table.get(id.to_bytes())?.ok_or(ConnectorsError::NotFound(id))?;
            codec::decode("connectors", row.value())?
        };
        match value {
            Some(value) => {
                connector.secrets.insert(field.into(), self.sealer.seal(value, label(&id.to_string(), field)));
            }
            None => {
                connector.secrets.remove(field);
            }
        }
        txn.open_table(CONNECTORS)?.insert(id.to_bytes(), codec::encode(&connector).as_slice())?;
        txn.commit()?;
        Ok(connector)
    }

    /// The plaintext of a sealed secret, for the run that logs in with it.
    pub fn secret(&self, connector: &Connector, field: &'static str) -> Result<Plaintext, ConnectorsError> {
        let sealed = connector.secrets.get(field).ok_or(ConnectorsError::Unseal(field))?;
        self.sealer.open(sealed, label(&connector.id.to_string(), field)).map_err(|_| ConnectorsError::Unseal(field))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}
