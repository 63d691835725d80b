//! The JSON seed: tenants, apps and their credentials, directory users and groups, the user `/authorize` signs
//! in as, sites with drives, columns, permissions, folders and files (with earlier versions, column values,
//! unique permissions, a check-out), and a generator for large libraries. `appliance/graph-emulator-seed.json`
//! is the documented example.
//!
//! Generated libraries (`"generate": {"files": 100000, "folders": 500, "seed": 1}`) are built directly in the
//! store with small deterministic contents, so a 100,000-item library takes well under a second to seed.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::errors::new_guid;
use super::state::{
    Actor, App, CertCredential, Column, DirGroup, DirUser, Drive, Permission, Secret, Site, Tenant, World,
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// The base URL written into links (`@odata.nextLink`, download and upload URLs); defaults to the bound address.
    #[serde(default)]
    pub public_base_url: Option<String>,
    #[serde(default)]
    pub tenants: Vec<SeedTenant>,
    #[serde(default)]
    pub apps: Vec<SeedApp>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    /// Id or userPrincipalName of the user `/authorize` signs in (auto-approved); none -> `access_denied`.
    #[serde(default)]
    pub interactive_user: Option<String>,
    #[serde(default)]
    pub sites: Vec<SeedSite>,
    #[serde(default)]
    pub max_simple_upload: Option<u64>,
    /// Allow `/items/{id}/delta` (off: 501 `notSupported`, the historical SharePoint answer).
    #[serde(default)]
    pub subfolder_delta: bool,
    #[serde(default)]
    pub token_lifetime_seconds: Option<i64>,
    /// SharePoint resource units per app per minute (GRAPH.md 12.2); none: unlimited.
    #[serde(default)]
    pub resource_units_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTenant {
    pub id: String,
    #[serde(default)]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApp {
    pub tenant: String,
    pub client_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Certificate credentials: `{"pem": "-----BEGIN CERTIFICATE-----…"}` (thumbprints computed, signatures
    /// verified), or bare thumbprints `{"x5t": "…"}` / `{"x5t_s256": "…"}` (base64url; signatures not checked).
    #[serde(default)]
    pub certificates: Vec<SeedCert>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default = "yes")]
    pub admin_consent: bool,
    /// `Sites.Selected` grants: site id -> roles.
    #[serde(default)]
    pub selected_sites: HashMap<String, Vec<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCert {
    #[serde(default)]
    pub pem: Option<String>,
    #[serde(default)]
    pub x5t: Option<String>,
    #[serde(default)]
    pub x5t_s256: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    pub user_principal_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default = "yes")]
    pub security_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSite {
    #[serde(default)]
    pub id: Option<String>,
    pub hostname: String,
    /// Server-relative path (`/sites/marketing`); empty for the tenant root site.
    #[serde(default)]
    pub path: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub drives: Vec<SeedDrive>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDrive {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub columns: Vec<SeedColumn>,
    /// The library's permission set (held by the root; everything inherits it unless it has its own).
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
    #[serde(default)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub files: Vec<SeedFile>,
    #[serde(default)]
    pub generate: Option<Generate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedColumn {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default = "text_kind")]
    pub kind: String,
}

fn text_kind() -> String {
    "text".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    /// Library-relative path; missing folders are created.
    pub path: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub base64: Option<String>,
    /// Earlier contents, oldest first: each becomes a version before the current one.
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub fields: HashMap<String, Value>,
    /// A unique permission set (broken inheritance).
    #[serde(default)]
    pub permissions: Option<Vec<PermissionSpec>>,
    #[serde(default)]
    pub checked_out_by: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
}

/// One permission: exactly one of `user`, `group`, `site_group`, `link`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub roles: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub site_group: Option<String>,
    #[serde(default)]
    pub link: Option<Value>,
    /// With `link`: the users (id, UPN or mail) a `users`-scope link was sent to (`grantedToIdentitiesV2`).
    #[serde(default)]
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    pub files: usize,
    #[serde(default)]
    pub folders: usize,
    #[serde(default)]
    pub seed: u64,
    /// Bytes per generated file.
    #[serde(default = "default_size")]
    pub size: usize,
}

fn default_size() -> usize {
    64
}

impl Seed {
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    pub fn build(&self, public_base: String, now: OffsetDateTime) -> Result<World, String> {
        let mut world = World {
            public_base,
            tenants: self.tenants.iter().map(|t| Tenant { id: t.id.clone(), domains: t.domains.clone() }).collect(),
            apps: HashMap::new(),
            users: self
                .users
                .iter()
                .map(|u| DirUser {
                    id: u.id.clone(),
                    display_name: u.display_name.clone(),
                    mail: u.mail.clone(),
                    user_principal_name: u.user_principal_name.clone(),
                })
                .collect(),
            groups: self
                .groups
                .iter()
                .map(|g| DirGroup {
                    id: g.id.clone(),
                    display_name: g.display_name.clone(),
                    mail: g.mail.clone(),
                    mail_enabled: g.mail_enabled,
                    security_enabled: g.security_enabled,
                })
                .collect(),
            sites: Vec::new(),
            drives: HashMap::new(),
            interactive_user: None,
            grants: Default::default(),
            sessions: HashMap::new(),
            request_log: Default::default(),
            copy_jobs: HashMap::new(),
            faults: Default::default(),
            budget: super::budget::Budget::new(self.resource_units_per_minute),
            counters: Default::default(),
            url_key: rand::random(),
            max_simple_upload: self.max_simple_upload.unwrap_or(250 * 1024 * 1024),
            subfolder_delta: self.subfolder_delta,
        };
        if let Some(seconds) = self.token_lifetime_seconds {
            world.grants.access_lifetime = time::Duration::seconds(seconds);
        }
        world.interactive_user = match &self.interactive_user {
            Some(u) => Some(
                world
                    .user(u)
                    .map(|u| u.id.clone())
                    .ok_or_else(|| format!("interactive_user {u} is not a seeded user"))?,
            ),
            None => None,
        };
        for app in &self.apps {
            let tenant = world
                .tenants
                .iter()
                .find(|t| t.id == app.tenant || t.domains.contains(&app.tenant))
                .ok_or_else(|| format!("app {} names unknown tenant {}", app.client_id, app.tenant))?;
            world.apps.insert(
                app.client_id.clone(),
                App {
                    client_id: app.client_id.clone(),
                    tenant_id: tenant.id.clone(),
                    display_name: app.display_name.clone().unwrap_or_else(|| "ScaiDrive Connector".into()),
                    secrets: app.secrets.iter().map(|s| Secret { value: s.clone(), expires: None }).collect(),
                    certificates: app.certificates.iter().map(cert_credential).collect::<Result<Vec<_>, _>>()?,
                    redirect_uris: app.redirect_uris.clone(),
                    roles: app.roles.clone(),
                    admin_consent: app.admin_consent,
                    selected_sites: app.selected_sites.clone(),
                },
            );
        }
        for site in &self.sites {
            let site_id = site.id.clone().unwrap_or_else(|| format!("{},{},{}", site.hostname, new_guid(), new_guid()));
            let mut drive_ids = Vec::new();
            for seed_drive in &site.drives {
                let id = seed_drive.id.clone().unwrap_or_else(new_drive_id);
                let drive = build_drive(&world, id.clone(), site_id.clone(), seed_drive, now)?;
                world.drives.insert(id.clone(), drive);
                drive_ids.push(id);
            }
            world.sites.push(Site {
                id: site_id,
                hostname: site.hostname.to_lowercase(),
                path: site.path.trim_end_matches('/').to_string(),
                name: site.name.clone(),
                display_name: site.display_name.clone().unwrap_or_else(|| site.name.clone()),
                created: now,
                drive_ids,
            });
        }
        Ok(world)
    }
}

/// A certificate credential; from a PEM certificate the thumbprints are computed as Entra computes them
/// (`x5t` = base64url SHA-1 of the DER, `x5t#S256` = base64url SHA-256).
fn cert_credential(seed: &SeedCert) -> Result<CertCredential, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let Some(pem) = &seed.pem else {
        return Ok(CertCredential { x5t: seed.x5t.clone(), x5t_s256: seed.x5t_s256.clone(), der: None });
    };
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = STANDARD.decode(body).map_err(|e| format!("certificate PEM: {e}"))?;
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &der);
    Ok(CertCredential {
        x5t: Some(URL_SAFE_NO_PAD.encode(sha1.as_ref())),
        x5t_s256: Some(URL_SAFE_NO_PAD.encode(sha256.as_ref())),
        der: Some(der),
    })
}

/// `b!` and 64 base64url characters, the shape of SharePoint drive ids.
pub fn new_drive_id() -> String {
    use base64::Engine;
    let bytes: [[u8; 24]; 2] = rand::random();
    let bytes = [bytes[0], bytes[1]].concat();
    format!("b!{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn permission_from_spec(world: &World, spec: &PermissionSpec) -> Result<Permission, String> {
    let granted_to = if let Some(user) = &spec.user {
        let u = world.user(user).ok_or_else(|| format!("permission names unknown user {user}"))?;
        json!({"user": {"id": u.id, "displayName": u.display_name, "email": u.mail}})
    } else if let Some(group) = &spec.group {
        let g = world
            .groups
            .iter()
            .find(|g| &g.id == group || &g.display_name == group)
            .ok_or_else(|| format!("permission names unknown group {group}"))?;
        json!({"group": {"id": g.id, "displayName": g.display_name, "email": g.mail}})
    } else if let Some(site_group) = &spec.site_group {
        json!({"siteGroup": {"id": format!("{}", site_group.len() + 2), "displayName": site_group, "loginName": site_group}})
    } else {
        json!({})
    };
    let id = match (&spec.user, &spec.group, &spec.site_group) {
        (Some(v), _, _) | (_, Some(v), _) | (_, _, Some(v)) => {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{v}", spec.roles.join(",")))
        }
        _ => new_guid(),
    };
    let recipients = spec
        .recipients
        .iter()
        .map(|r| {
            let u = world.user(r).ok_or_else(|| format!("link recipient names unknown user {r}"))?;
            Ok(json!({"user": {"id": u.id, "displayName": u.display_name, "email": u.mail}}))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Permission { id, roles: spec.roles.clone(), granted_to, link: spec.link.clone(), recipients })
}

fn actor_for(world: &World, user: Option<&String>) -> Result<Actor, String> {
    match user {
        None => Ok(Actor::system()),
        Some(u) => {
            let user = world.user(u).cloned().ok_or_else(|| format!("unknown user {u}"))?;
            Ok(Actor { user: Some(user), app: None })
        }
    }
}

/// Create the folders of `path` that are missing below the root; returns the deepest folder's id.
pub fn ensure_folders(
    drive: &mut Drive,
    segments: &[&str],
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<String, String> {
    let mut current = drive.root_id.clone();
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        current = match drive.child_by_name(&current, segment) {
            Some(id) => id.to_string(),
            None => drive.create(&current, segment, None, actor, now).map_err(|e| e.to_string())?,
        };
    }
    Ok(current)
}

fn build_drive(
    world: &World,
    id: String,
    site_id: String,
    seed: &SeedDrive,
    now: OffsetDateTime,
) -> Result<Drive, String> {
    let mut drive = Drive::new(id, seed.name.clone(), site_id, now);
    for c in &seed.columns {
        drive.columns.push(Column {
            name: c.name.clone(),
            display_name: c.display_name.clone().unwrap_or_else(|| c.name.clone()),
            read_only: c.read_only,
            hidden: c.hidden,
            kind: c.kind.clone(),
        });
    }
    let root_set = seed.permissions.iter().map(|p| permission_from_spec(world, p)).collect::<Result<Vec<_>, _>>()?;
    let root_id = drive.root_id.clone();
    if let Some(root) = drive.items.get_mut(&root_id) {
        root.permissions = Some(root_set);
    }
    for folder in &seed.folders {
        let segments: Vec<&str> = folder.split('/').collect();
        ensure_folders(&mut drive, &segments, &Actor::system(), now)?;
    }
    for file in &seed.files {
        let actor = actor_for(world, file.author.as_ref())?;
        let segments: Vec<&str> = file.path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((name, parents)) = segments.split_last() else { return Err("a seeded file has an empty path".into()) };
        let parent = ensure_folders(&mut drive, parents, &Actor::system(), now)?;
        let current = match (&file.text, &file.base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| format!("{}: {e}", file.path))?
            }
            (None, None) => Vec::new(),
        };
        let mut contents: Vec<Vec<u8>> = file.versions.iter().map(|v| v.as_bytes().to_vec()).collect();
        contents.push(current);
        let mut iter = contents.into_iter();
        let first = iter.next().unwrap_or_default();
        let id = drive
            .create(&parent, name, Some(Arc::new(first)), &actor, now)
            .map_err(|e| format!("{}: {e}", file.path))?;
        for later in iter {
            drive.write_content(&id, Arc::new(later), &actor, now);
        }
        let permissions = match &file.permissions {
            Some(specs) => Some(specs.iter().map(|p| permission_from_spec(world, p)).collect::<Result<Vec<_>, _>>()?),
            None => None,
        };
        let holder = match &file.checked_out_by {
            Some(u) => Some(actor_for(world, Some(u))?),
            None => None,
        };
        if let Some(item) = drive.items.get_mut(&id) {
            item.fields.extend(file.fields.clone());
            item.permissions = permissions;
            item.checkout = holder;
        }
    }
    if let Some(generate) = &seed.generate {
        generate_tree(&mut drive, generate, now)?;
    }
    Ok(drive)
}

/// A deterministic tree: `folders` folders (`gen/f0000`, nested ten to a parent) and `files` files spread
/// across them, each with `size` pseudo-random bytes from `seed`.
fn generate_tree(drive: &mut Drive, spec: &Generate, now: OffsetDateTime) -> Result<(), String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let actor = Actor::system();
    let top = ensure_folders(drive, &["gen"], &actor, now)?;
    let mut folders = vec![top.clone()];
    for n in 0..spec.folders {
        // Every tenth folder starts a new branch under `gen`; the others nest one level under the branch.
        let parent = if n % 10 == 0 { top.clone() } else { folders[1 + (n / 10) * 10].clone() };
        let id = drive.create(&parent, &format!("f{n:04}"), None, &actor, now).map_err(|e| e.to_string())?;
        folders.push(id);
    }
    for n in 0..spec.files {
        let folder = &folders[n % folders.len()];
        let mut bytes = vec![0u8; spec.size];
        rng.fill(bytes.as_mut_slice());
        drive
            .create(folder, &format!("file-{n:06}.bin"), Some(Arc::new(bytes)), &actor, now)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_seed_file_builds() {
        let text = include_str!("../../appliance/graph-emulator-seed.json");
        let seed = Seed::from_json(text).expect("example seed parses");
        let world = seed.build("http://127.0.0.1:1".into(), OffsetDateTime::UNIX_EPOCH).expect("example seed builds");
        assert!(!world.sites.is_empty());
    }

    #[test]
    fn a_generated_library_has_every_file() {
        let seed = Seed::from_json(
            r#"{"sites":[{"hostname":"h","path":"/sites/s","name":"s","drives":[{"name":"D","generate":{"files":2000,"folders":25,"seed":1}}]}]}"#,
        )
        .expect("seed");
        let world = seed.build("http://x".into(), OffsetDateTime::UNIX_EPOCH).expect("build");
        let drive = world.drives.values().next().expect("drive");
        let files = drive.items.values().filter(|i| !i.is_folder()).count();
        assert_eq!(files, 2000);
        assert_eq!(drive.items[&drive.root_id].size, 2000 * 64);
    }
}
