//! The audit log: who did what to which object, and when. An event is written in the same write transaction
//! as the change it records, so the log never claims a change that did not commit, nor misses one that did.
//! Events never carry secrets: callers put ids and field names in `details`, never values of sealed fields.

use redb::{ReadableDatabase, WriteTransaction};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{ConnectorId, EventId, TokenId, UserId};
use crate::store::tables::AUDIT_EVENTS;
use crate::store::{Store, StoreError, codec};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum AuditActor {
    #[schema(value_type = String)]
    User(UserId),
    /// A SCIM token: identity providers act through their token.
    #[schema(value_type = String)]
    Token(TokenId),
    #[schema(value_type = String)]
    Connector(ConnectorId),
    /// The appliance itself (the command line, a scheduled task).
    System,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    #[schema(value_type = String, example = "evt_01J6A3Z1K8M0Q9R2S3T4V5W6X7")]
    pub id: EventId,
    /// Dotted name: `user.created`, `connector.auth_failed`, `scim.user.deactivated`, ...
    pub event_type: String,
    pub actor: AuditActor,
    /// The object acted on, as its prefixed id.
    pub target: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(event_type: &str, actor: AuditActor, target: Option<String>, at: OffsetDateTime) -> Self {
        Self {
            id: EventId::new(),
            event_type: event_type.to_owned(),
            actor,
            target,
            occurred_at: at,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Appends `event` inside the caller's write transaction.
pub fn record(txn: &WriteTransaction, event: &AuditEvent) -> Result<(), StoreError> {
    txn.open_table(AUDIT_EVENTS)?.insert(event.id.to_bytes(), codec::encode(event).as_slice())?;
    Ok(())
}

/// Which events a listing returns.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Exact type, or a prefix ending in `*` (`scim.*`).
    pub event_type: Option<String>,
    pub since: Option<OffsetDateTime>,
}

impl AuditFilter {
    fn matches(&self, event: &AuditEvent) -> bool {
        let type_ok = match &self.event_type {
            None => true,
            Some(pattern) => match pattern.strip_suffix('*') {
                Some(prefix) => event.event_type.starts_with(prefix),
                None => &event.event_type == pattern,
            },
        };
        type_ok && self.since.is_none_or(|since| event.occurred_at >= since)
    }
}

/// Events in time order after `after`, at most `limit`, and the id to continue from if more remain.
pub fn list(
    store: &Store,
    filter: &AuditFilter,
    after: Option<[u8; 16]>,
    limit: usize,
) -> Result<(Vec<AuditEvent>, Option<[u8; 16]>), StoreError> {
    let txn = store.db().begin_read()?;
    let table = txn.open_table(AUDIT_EVENTS)?;
    let range = match after {
        Some(after) => table.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))?,
        None => table.range::<[u8; 16]>(..)?,
    };
    let mut events = Vec::new();
    for row in range {
        let (_, value) = row?;
        let event: AuditEvent = codec::decode("audit_events", value.value())?;
        if filter.matches(&event) {
            if events.len() == limit {
                let last = events.last().map(|e: &AuditEvent| e.id.to_bytes());
                return Ok((events, last));
            }
            events.push(event);
        }
    }
    Ok((events, None))
}
