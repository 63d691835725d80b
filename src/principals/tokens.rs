//! Bearer tokens. A token's secret is shown once, when it is issued; the store keeps only its SHA-256, indexed
//! for the lookup every request makes. The secrets are 256 random bits, so a plain hash is enough: there is
//! nothing to brute-force that a slow hash would protect.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::users::read_user;
use super::{Acting, Principals, PrincipalsError, Role, User, clean_text};
use crate::audit::{self, AuditActor, AuditEvent};
use crate::ids::{TokenId, UserId};
use crate::store::codec;
use crate::store::tables::{TOKEN_HASHES, TOKENS, USERS};

/// What a token opens: the REST API, or only the SCIM endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Api,
    Scim,
}

/// A token as stored: never its secret, only its hash. Responses use `TokenView`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    pub user_id: UserId,
    pub kind: TokenKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "hex_hash")]
    pub(crate) hash: [u8; 32],
}

/// A freshly issued token: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub info: TokenView,
    /// The bearer secret. Shown once; store it now.
    pub token: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// Issue the token for another user (admins only). Defaults to the caller.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|_| serde::de::Error::custom("token hash is not 32 bytes"))
    }
}

impl Token {
    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.id,
            name: self.name.clone(),
            user_id: self.user_id,
            kind: self.kind,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A token as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    #[schema(value_type = String, example = "tok_01J4M3Z1K8M0Q9R2S3T4V5W6X7")]
    pub id: TokenId,
    pub name: String,
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub kind: TokenKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

const SECRET_PREFIX: &str = "sdt_";

fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The user an acting principal speaks for, if it is a user.
fn acting_user(acting: &Acting) -> Option<UserId> {
    match acting.actor {
        AuditActor::User(id) => Some(id),
        _ => None,
    }
}

impl Principals {
    /// Issues a token of `kind` for `new.user_id` (or the caller).
    pub fn issue_token(&self, acting: &Acting, new: NewToken, kind: TokenKind) -> Result<IssuedToken, PrincipalsError> {
        let name = clean_text("name", &new.name, 128)?;
        let owner = new.user_id.or_else(|| acting_user(acting)).ok_or(PrincipalsError::Invalid {
            field: "user_id",
            message: "is required when the caller is not a user".into(),
        })?;
        let now = self.clock.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(PrincipalsError::Invalid { field: "expires_at", message: "must be in the future".into() });
        }
        let txn = self.store.db().begin_write()?;
        let user = read_user(&txn, owner)?;
        let for_someone_else = acting_user(acting) != Some(owner);
        if for_someone_else && (acting.role < Role::Admin || user.role > acting.role) {
            return Err(PrincipalsError::Forbidden("issuing tokens for another user needs the admin role".into()));
        }
        let secret = new_secret();
        let token = Token {
            id: TokenId::new(),
            name,
            user_id: owner,
            kind,
            created_at: now,
            expires_at: new.expires_at,
            hash: hash_secret(&secret),
        };
        txn.open_table(TOKENS)?.insert(token.id.to_bytes(), codec::encode(&token).as_slice())?;
        txn.open_table(TOKEN_HASHES)?.insert(token.hash, token.id.to_bytes())?;
        let event = AuditEvent::new("token.created", acting.actor.clone(), Some(token.id.to_string()), now)
            .with_details(serde_json::json!({ "user_id": owner, "kind": kind, "name": token.name }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(IssuedToken { info: token.view(), token: secret })
    }

    /// Issues the SCIM token for the acting admin and revokes every earlier SCIM token, in one transaction: an
    /// identity provider holds one token, and rotating it must cut off the old one at once.
    pub fn rotate_scim_token(&self, acting: &Acting) -> Result<IssuedToken, PrincipalsError> {
        let owner = acting_user(acting).ok_or(PrincipalsError::Invalid {
            field: "user_id",
            message: "the SCIM token belongs to the admin who issues it".into(),
        })?;
        if acting.role < Role::Admin {
            return Err(PrincipalsError::Forbidden("issuing the SCIM token needs the admin role".into()));
        }
        let now = self.clock.now();
        let txn = self.store.db().begin_write()?;
        read_user(&txn, owner)?;
        let mut tokens = txn.open_table(TOKENS)?;
        let mut hashes = txn.open_table(TOKEN_HASHES)?;
        let mut old = Vec::new();
        for row in tokens.iter()? {
            let token: Token = codec::decode("tokens", row?.1.value())?;
            if token.kind == TokenKind::Scim {
                old.push(token);
            }
        }
        for token in &old {
            tokens.remove(token.id.to_bytes())?;
            hashes.remove(token.hash)?;
            let event = AuditEvent::new("token.revoked", acting.actor.clone(), Some(token.id.to_string()), now)
                .with_details(serde_json::json!({ "kind": TokenKind::Scim, "reason": "rotated" }));
            audit::record(&txn, &event)?;
        }
        let secret = new_secret();
        let token = Token {
            id: TokenId::new(),
            name: "SCIM".into(),
            user_id: owner,
            kind: TokenKind::Scim,
            created_at: now,
            expires_at: None,
            hash: hash_secret(&secret),
        };
        tokens.insert(token.id.to_bytes(), codec::encode(&token).as_slice())?;
        hashes.insert(token.hash, token.id.to_bytes())?;
        drop((tokens, hashes));
        let event = AuditEvent::new("token.created", acting.actor.clone(), Some(token.id.to_string()), now)
            .with_details(serde_json::json!({ "user_id": owner, "kind": TokenKind::Scim, "rotated": old.len() }));
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(IssuedToken { info: token.view(), token: secret })
    }

    /// The token and active user behind a bearer secret, or `None` (unknown, expired, or its user inactive).
    pub fn authenticate(&self, secret: &str) -> Result<Option<(Token, User)>, PrincipalsError> {
        if !secret.starts_with(SECRET_PREFIX) {
            return Ok(None);
        }
        let txn = self.store.db().begin_read()?;
        let Some(id) = txn.open_table(TOKEN_HASHES)?.get(hash_secret(secret))?.map(|v| v.value()) else {
            return Ok(None);
        };
        let Some(row) = txn.open_table(TOKENS)?.get(id)? else { return Ok(None) };
        let token: Token = codec::decode("tokens", row.value())?;
        if token.expires_at.is_some_and(|at| at <= self.clock.now()) {
            return Ok(None);
        }
        let Some(row) = txn.open_table(USERS)?.get(token.user_id.to_bytes())? else { return Ok(None) };
        let user: User = codec::decode("users", row.value())?;
        Ok(user.active.then_some((token, user)))
    }

    /// Tokens of `user`, oldest first.
    pub fn list_tokens(&self, user: UserId) -> Result<Vec<Token>, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let table = txn.open_table(TOKENS)?;
        let mut tokens = Vec::new();
        for row in table.iter()? {
            let token: Token = codec::decode("tokens", row?.1.value())?;
            if token.user_id == user {
                tokens.push(token);
            }
        }
        Ok(tokens)
    }

    pub fn get_token(&self, id: TokenId) -> Result<Token, PrincipalsError> {
        let txn = self.store.db().begin_read()?;
        let row = txn.open_table(TOKENS)?.get(id.to_bytes())?;
        let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "token", id: id.to_string() })?;
        Ok(codec::decode("tokens", row.value())?)
    }

    /// Revokes a token: the caller's own, or (admins) one of a user with a role no higher than theirs.
    pub fn revoke_token(&self, acting: &Acting, id: TokenId) -> Result<(), PrincipalsError> {
        let txn = self.store.db().begin_write()?;
        let token: Token = {
            let table = txn.open_table(TOKENS)?;
            let row = table.get(id.to_bytes())?;
            let row = row.ok_or_else(|| PrincipalsError::NotFound { kind: "token", id: id.to_string() })?;
            codec::decode("tokens", row.value())?
        };
        if acting_user(acting) != Some(token.user_id) {
            let owner = read_user(&txn, token.user_id)?;
            if acting.role < Role::Admin || owner.role > acting.role {
                // Someone else's token is none of a plain user's business: answer as if it did not exist.
                return Err(PrincipalsError::NotFound { kind: "token", id: id.to_string() });
            }
        }
        txn.open_table(TOKENS)?.remove(id.to_bytes())?;
        txn.open_table(TOKEN_HASHES)?.remove(token.hash)?;
        let event = AuditEvent::new("token.revoked", acting.actor.clone(), Some(id.to_string()), self.clock.now());
        audit::record(&txn, &event)?;
        txn.commit()?;
        Ok(())
    }
}
