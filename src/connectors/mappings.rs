//! Identity mappings of a connector: an SMB principal (`DOMAIN\name` or a SID) or an Azure AD object id, mapped
//! to a ScaiDrive user or group. Rows are keyed `connector ++ mapping`, so a connector's mappings are one range.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Connectors, ConnectorsError, Problems};
use crate::audit::{self, AuditEvent};
use crate::ids::{ConnectorId, GroupId, MappingId, UserId};
use crate::principals::Acting;
use crate::store::codec;
use crate::store::tables::IDENTITY_MAPPINGS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityType {
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentityMapping {
    #[schema(value_type = String, example = "map_01J6B3Z1K8M0Q9R2S3T4V5W6X7")]
    pub id: MappingId,
    pub identity_type: IdentityType,
    /// `DOMAIN\name`, or a SID such as `S-1-5-21-…-1001`.
    pub smb_principal: String,
    /// `usr_…` or `grp_…`, matching `identity_type`.
    pub scaidrive_principal_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    pub identity_type: IdentityType,
    pub smb_principal: String,
    pub scaidrive_principal_id: String,
}

/// Whether `text` is a SID (`S-1-…`, digits and dashes).
pub fn is_sid(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("S-1-").or_else(|| text.strip_prefix("s-1-")) else { return false };
    !rest.is_empty() && rest.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

impl NewMapping {
    /// Checks the shape; `principal_exists` says whether the ScaiDrive principal is real. The source principal
    /// is an NT account for SMB, an Azure AD object id (a GUID) for SharePoint (the field keeps its SMB name).
    pub fn validate(
        &self,
        kind: super::ConnectorKind,
        principal_exists: impl Fn(&str) -> bool,
    ) -> Result<(), Vec<super::Problem>> {
        let mut problems = Problems::default();
        let principal = self.smb_principal.trim();
        match kind {
            super::ConnectorKind::Smb => {
                let name_form = principal
                    .split_once('\\')
                    .is_some_and(|(d, n)| !d.is_empty() && !n.is_empty() && !n.contains('\\'));
                if !is_sid(principal) && !name_form {
                    problems.add("smb_principal", "must be DOMAIN\\name or a SID (S-1-…)");
                }
            }
            super::ConnectorKind::Sharepoint => {
                if !super::sharepoint::is_guid(principal) {
                    problems.add("smb_principal", "must be the Azure AD object id (a GUID) of the user or group");
                }
            }
        }
        let id = self.scaidrive_principal_id.as_str();
        let shape_ok = match self.identity_type {
            IdentityType::User => id.parse::<UserId>().is_ok(),
            IdentityType::Group => id.parse::<GroupId>().is_ok(),
        };
        if !shape_ok {
            problems
                .add("scaidrive_principal_id", "must be a usr_ id for a user mapping, a grp_ id for a group mapping");
        } else if !principal_exists(id) {
            problems.add("scaidrive_principal_id", "no such user or group");
        }
        problems.into_result(())
    }
}

fn key(connector: ConnectorId, mapping: MappingId) -> [u8; 32] {
    codec::pair(connector.to_bytes(), mapping.to_bytes())
}

pub(super) fn remove_all(txn: &WriteTransaction, connector: ConnectorId) -> Result<(), ConnectorsError> {
    let mut table = txn.open_table(IDENTITY_MAPPINGS)?;
    let keys: Vec<[u8; 32]> = table
        .range(codec::pairs_of(connector.to_bytes()))?
        .map(|r| r.map(|(k, _)| k.value()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        table.remove(k)?;
    }
    Ok(())
}

impl Connectors {
    pub fn add_mapping(
        &self,
        acting: &Acting,
        connector: ConnectorId,
        new: NewMapping,
    ) -> Result<IdentityMapping, ConnectorsError> {
        self.get(connector)?;
        let mapping = IdentityMapping {
            id: MappingId::new(),
            identity_type: new.identity_type,
            smb_principal: new.smb_principal.trim().to_owned(),
            scaidrive_principal_id: new.scaidrive_principal_id,
            created_at: self.clock.now(),
        };
        let txn = self.store.db().begin_write()?;
        txn.open_table(IDENTITY_MAPPINGS)?.insert(key(connector, mapping.id), codec::encode(&mapping).as_slice())?;
        let event = AuditEvent::new(
            "connector.mapping_added",
            acting.actor.clone(),
            Some(connector.to_string()),
            mapping.created_at,
        )
        .with_details(serde_json::json!({ "mapping_id": mapping.id, "smb_principal": mapping.smb_principal }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(mapping)
    }

    /// Adds `rows` in one transaction: a row whose `smb_principal` is already mapped (case-insensitive) replaces
    /// that mapping's target and type, keeping its id. Returns (created, replaced).
    pub fn import_mappings(
        &self,
        acting: &Acting,
        connector: ConnectorId,
        rows: Vec<NewMapping>,
    ) -> Result<(usize, usize), ConnectorsError> {
        self.get(connector)?;
        let now = self.clock.now();
        let txn = self.store.db().begin_write()?;
        let (mut created, mut replaced) = (0, 0);
        {
            let mut table = txn.open_table(IDENTITY_MAPPINGS)?;
            let mut existing: std::collections::HashMap<String, IdentityMapping> = std::collections::HashMap::new();
            for row in table.range(codec::pairs_of(connector.to_bytes()))? {
                let m: IdentityMapping = codec::decode("identity_mappings", row?.1.value())?;
                existing.insert(m.smb_principal.to_uppercase(), m);
            }
            for new in rows {
                let principal = new.smb_principal.trim().to_owned();
                let mapping = match existing.remove(&principal.to_uppercase()) {
                    Some(old) => {
                        replaced += 1;
                        IdentityMapping {
                            identity_type: new.identity_type,
                            scaidrive_principal_id: new.scaidrive_principal_id,
                            ..old
                        }
                    }
                    None => {
                        created += 1;
                        IdentityMapping {
                            id: MappingId::new(),
                            identity_type: new.identity_type,
                            smb_principal: principal,
                            scaidrive_principal_id: new.scaidrive_principal_id,
                            created_at: now,
                        }
                    }
                };
                table.insert(key(connector, mapping.id), codec::encode(&mapping).as_slice())?;
            }
        }
        let event =
            AuditEvent::new("connector.mappings_imported", acting.actor.clone(), Some(connector.to_string()), now)
                .with_details(serde_json::json!({ "created": created, "replaced": replaced }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok((created, replaced))
    }

    pub fn mappings(&self, connector: ConnectorId) -> Result<Vec<IdentityMapping>, ConnectorsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(IDENTITY_MAPPINGS)?;
        table
            .range(codec::pairs_of(connector.to_bytes()))?
            .map(|row| Ok(codec::decode("identity_mappings", row?.1.value())?))
            .collect()
    }

    pub fn remove_mapping(
        &self,
        acting: &Acting,
        connector: ConnectorId,
        mapping: MappingId,
    ) -> Result<bool, ConnectorsError> {
        let txn = self.store.db().begin_write()?;
        let removed = txn.open_table(IDENTITY_MAPPINGS)?.remove(key(connector, mapping))?.is_some();
        if removed {
            let event = AuditEvent::new(
                "connector.mapping_removed",
                acting.actor.clone(),
                Some(connector.to_string()),
                self.clock.now(),
            )
            .with_details(serde_json::json!({ "mapping_id": mapping }));
            audit::record(&txn, &event)?;
        }
        txn.commit()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_and_account_names_are_recognised() {
        assert!(is_sid("S-1-5-21-1004336348-1177238915-682003330-1001"));
        assert!(is_sid("S-1-1-0"));
        assert!(!is_sid("S-1-"));
        assert!(!is_sid("S-1-5-x"));
        let ok = NewMapping {
            identity_type: IdentityType::User,
            smb_principal: "CORP\\alice".into(),
            scaidrive_principal_id: UserId::new().to_string(),
        };
        assert!(ok.validate(super::super::ConnectorKind::Smb, |_| true).is_ok());
        let bad = NewMapping {
            identity_type: IdentityType::Group,
            smb_principal: "alice".into(),
            scaidrive_principal_id: UserId::new().to_string(),
        };
        let problems = bad.validate(super::super::ConnectorKind::Smb, |_| true).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["smb_principal", "scaidrive_principal_id"]);
    }
}
