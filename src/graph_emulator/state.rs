//! The emulator's world, in memory: tenants, apps and their credentials, directory users and groups, sites,
//! drives with their items, and the grants it has handed out (tokens, codes, upload sessions). Everything sits
//! behind one `Mutex` in `Emulator`; handlers lock it, do their work synchronously and unlock.
//!
//! Drives and their mutations live in `drive.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use super::admin::Faults;
pub use super::drive::{ChangeError, Drive, child_key, mime_for, new_item_id};

/// Who did something: the identitySet written to `createdBy`/`lastModifiedBy` and held by check-outs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: Option<DirUser>,
    pub app: Option<(String, String)>,
}

impl Actor {
    /// The key check-outs compare: a delegated caller is the user, an app-only caller is the app.
    pub fn key(&self) -> String {
        match (&self.user, &self.app) {
            (Some(user), _) => format!("user:{}", user.id),
            (None, Some((id, _))) => format!("app:{id}"),
            (None, None) => "system".to_string(),
        }
    }

    pub fn system() -> Self {
        Self { user: None, app: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirUser {
    pub id: String,
    pub display_name: String,
    pub mail: Option<String>,
    pub user_principal_name: String,
}

#[derive(Debug, Clone)]
pub struct DirGroup {
    pub id: String,
    pub display_name: String,
    pub mail: Option<String>,
    pub mail_enabled: bool,
    pub security_enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub domains: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub value: String,
    pub expires: Option<OffsetDateTime>,
}

/// A certificate credential: the thumbprints the JWT header must name (`x5t` is SHA-1, `x5t#S256` SHA-256, both
/// base64url of the certificate's DER).
#[derive(Debug, Clone)]
pub struct CertCredential {
    pub x5t: Option<String>,
    pub x5t_s256: Option<String>,
    /// The certificate (DER) when the seed gave it: assertion signatures are then verified with its key.
    pub der: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub secrets: Vec<Secret>,
    pub certificates: Vec<CertCredential>,
    pub redirect_uris: Vec<String>,
    /// Application permissions (`roles` of app-only tokens) once consented.
    pub roles: Vec<String>,
    pub admin_consent: bool,
    /// `Sites.Selected` grants: site id -> roles (`read`, `write`).
    pub selected_sites: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub hostname: String,
    /// Server-relative path, `/sites/marketing`, or empty for the tenant root site.
    pub path: String,
    pub name: String,
    pub display_name: String,
    pub created: OffsetDateTime,
    pub drive_ids: Vec<String>,
}

impl Site {
    pub fn web_url(&self) -> String {
        format!("https://{}{}", self.hostname, self.path)
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub display_name: String,
    pub read_only: bool,
    pub hidden: bool,
    /// The type facet name: `text`, `number`, `dateTime`, `boolean`, `choice`, `personOrGroup`, `lookup`.
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub label: String,
    pub content: Arc<Vec<u8>>,
    pub modified: OffsetDateTime,
    pub modified_by: Actor,
}

/// One entry of an item's own permission set.
#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub id: String,
    pub roles: Vec<String>,
    /// `grantedToV2` as Graph shapes it (`{"user":{…}}`, `{"siteGroup":{…}}`, `{"group":{…}}`).
    pub granted_to: Value,
    /// `link` facet for sharing links.
    pub link: Option<Value>,
    /// `grantedToIdentitiesV2`: the people a `users`-scope sharing link was sent to (identitySets).
    pub recipients: Vec<Value>,
}

#[derive(Debug, Clone)]
pub enum Body {
    Folder { children: BTreeMap<String, String> },
    File { content: Arc<Vec<u8>>, hash: String, mime: String, versions: Vec<Version> },
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub deleted: bool,
    pub created: OffsetDateTime,
    pub modified: OffsetDateTime,
    pub fs_created: OffsetDateTime,
    pub fs_modified: OffsetDateTime,
    pub created_by: Actor,
    pub modified_by: Actor,
    pub etag_guid: String,
    pub etag_n: u64,
    pub ctag_n: u64,
    pub change_seq: u64,
    pub list_item_id: u64,
    pub body: Body,
    /// Size in bytes; for folders the sum over the live subtree, kept up to date on every change.
    pub size: u64,
    pub fields: BTreeMap<String, Value>,
    /// `None` inherits from the parent; `Some` is a unique (broken-inheritance) permission set.
    pub permissions: Option<Vec<Permission>>,
    pub checkout: Option<Actor>,
    /// A co-authoring lock (an Office client editing): writes by others get 423 `notAllowed`/`resourceLocked`.
    pub coauth_lock: Option<Actor>,
    /// The service has not computed the hash yet: `hashes` is empty until the file is first downloaded.
    pub hash_pending: bool,
    /// Content saved by a user holding the check-out, invisible to others until check-in (with its author).
    pub draft: Option<(Arc<Vec<u8>>, Actor)>,
}

impl Item {
    pub fn is_folder(&self) -> bool {
        matches!(self.body, Body::Folder { .. })
    }

    pub fn etag(&self) -> String {
        format!("\"{{{}}},{}\"", self.etag_guid, self.etag_n)
    }

    pub fn ctag(&self) -> String {
        format!("\"c:{{{}}},{}\"", self.etag_guid, self.ctag_n)
    }

    pub fn content(&self) -> Option<&Arc<Vec<u8>>> {
        match &self.body {
            Body::File { content, .. } => Some(content),
            Body::Folder { .. } => None,
        }
    }
}

/// Everything the handlers share. One lock, held only for synchronous work.
#[derive(Debug)]
pub struct World {
    pub public_base: String,
    pub tenants: Vec<Tenant>,
    pub apps: HashMap<String, App>,
    pub users: Vec<DirUser>,
    pub groups: Vec<DirGroup>,
    pub sites: Vec<Site>,
    pub drives: HashMap<String, Drive>,
    /// The user `/authorize` signs in as (auto-approved).
    pub interactive_user: Option<String>,
    pub grants: super::auth::Grants,
    pub sessions: HashMap<String, super::upload_session::UploadSession>,
    /// The last requests served, for assertions such as "no Authorization sent to the upload URL".
    pub request_log: std::collections::VecDeque<Value>,
    pub copy_jobs: HashMap<String, super::copy::CopyJob>,
    pub faults: Faults,
    pub budget: super::budget::Budget,
    /// Requests per route, `GET /drives/{}/root/delta` style keys.
    pub counters: BTreeMap<String, u64>,
    /// Secret for the pre-authenticated download and upload URLs.
    pub url_key: [u8; 32],
    pub max_simple_upload: u64,
    pub subfolder_delta: bool,
}

impl World {
    pub fn drive(&self, id: &str) -> Option<&Drive> {
        self.drives.get(id)
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|site| site.id == id)
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&DirUser> {
        self.users.iter().find(|u| {
            u.id == id_or_upn
                || u.user_principal_name.eq_ignore_ascii_case(id_or_upn)
                || u.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(id_or_upn))
        })
    }
}
