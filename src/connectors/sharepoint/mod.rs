//! The SharePoint connector's own settings: which site and library, which Azure app, and how it signs in.
//! `site_id` and `drive_id` may be left out at first and filled in by PATCH once the discovery endpoints
//! (`sites?search=`, `drives?site_id=`) have found them; a run without a `drive_id` fails saying so.
//!
//! Secrets (sealed in the connector record, never shown): `azure_client_secret` (required to create an
//! `app_auth` connector; a `user_auth` one may get it later, but `authorize` needs it, since the appliance
//! redeems the consent as a confidential client) and, for `user_auth`, the refresh token the authorization
//! callback obtained (rotated on every use).

pub mod graph;
pub mod oauth;

use serde::{Deserialize, Serialize};

use super::settings::{CommonInput, Problems};
use super::smb::clean_base_path;

/// How the connector obtains Graph tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// App-only (client credentials).
    AppAuth,
    /// Delegated: a user consents once through `authorize`; the connector keeps the refresh token.
    UserAuth,
}

/// The sealed secret fields of a SharePoint connector.
pub const CLIENT_SECRET: &str = "azure_client_secret";
pub const REFRESH_TOKEN: &str = "refresh_token";
/// A pending `authorize`: the state the callback must bring back, and the PKCE verifier.
pub const OAUTH_STATE: &str = "oauth_state";
pub const OAUTH_VERIFIER: &str = "oauth_verifier";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharePointSettings {
    pub site_url: String,
    pub site_id: Option<String>,
    pub drive_id: Option<String>,
    pub library_name: Option<String>,
    /// Folder inside the library that is the connector's root, `/`-separated, empty for the library root.
    pub base_path: String,
    pub azure_tenant_id: String,
    pub azure_client_id: String,
    pub auth_type: AuthType,
    pub sync_versions: bool,
    pub sync_metadata: bool,
}

/// A create or update request for a SharePoint connector, as the API takes it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharePointInput {
    #[serde(flatten)]
    pub common: CommonInput,
    pub site_url: Option<String>,
    pub site_id: Option<String>,
    pub drive_id: Option<String>,
    pub library_name: Option<String>,
    pub base_path: Option<String>,
    pub azure_tenant_id: Option<String>,
    pub azure_client_id: Option<String>,
    /// Write-only: stored sealed, never returned.
    pub azure_client_secret: Option<String>,
    #[schema(value_type = Option<String>)]
    pub auth_type: Option<AuthType>,
    pub sync_versions: Option<bool>,
    pub sync_metadata: Option<bool>,
}

/// Whether `text` is a GUID in its usual 8-4-4-4-12 hexadecimal form.
pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An opaque Graph id (site or drive): printable, without `/`, `?` or `#`, which would change the URL it goes in.
fn graph_id(field: &str, value: &str, problems: &mut Problems) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.len() > 512 || value.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#')) {
        problems.add(field, "must be the id Graph returned (no spaces, `/`, `?` or `#`)");
    }
    Some(value.to_owned())
}

impl SharePointInput {
    /// Applies the SharePoint fields of this request over `current` (empty values for a create).
    pub fn apply_sharepoint(&self, mut current: SharePointSettings, problems: &mut Problems) -> SharePointSettings {
        if let Some(url) = &self.site_url {
            let url = url.trim().trim_end_matches('/');
            match reqwest::Url::parse(url) {
                Ok(parsed) if parsed.scheme() == "https" && parsed.host_str().is_some() => {
                    current.site_url = url.to_owned();
                }
                _ => problems
                    .add("site_url", "must be the site's https URL, e.g. https://contoso.sharepoint.com/sites/team"),
            }
        }
        if let Some(site) = &self.site_id {
            current.site_id = graph_id("site_id", site, problems);
        }
        if let Some(drive) = &self.drive_id {
            current.drive_id = graph_id("drive_id", drive, problems);
        }
        if let Some(library) = &self.library_name {
            current.library_name = (!library.trim().is_empty()).then(|| problems.text("library_name", library, 255));
        }
        if let Some(base) = &self.base_path {
            current.base_path = clean_base_path(base, problems);
        }
        if let Some(tenant) = &self.azure_tenant_id {
            current.azure_tenant_id = tenant.trim().to_owned();
            // A GUID or a verified domain (contoso.onmicrosoft.com); it goes into the token URL's path.
            let domain_like = current.azure_tenant_id.contains('.')
                && current.azure_tenant_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !is_guid(&current.azure_tenant_id) && !domain_like {
                problems.add("azure_tenant_id", "must be the tenant's GUID or its domain (contoso.onmicrosoft.com)");
            }
        }
        if let Some(client) = &self.azure_client_id {
            current.azure_client_id = client.trim().to_owned();
            if !is_guid(&current.azure_client_id) {
                problems.add("azure_client_id", "must be the application (client) id, a GUID");
            }
        }
        if self.azure_client_secret.as_ref().is_some_and(|s| s.trim().is_empty()) {
            problems.add("azure_client_secret", "must not be empty");
        }
        current.auth_type = self.auth_type.unwrap_or(current.auth_type);
        current.sync_versions = self.sync_versions.unwrap_or(current.sync_versions);
        current.sync_metadata = self.sync_metadata.unwrap_or(current.sync_metadata);
        current
    }

    /// Validates a create request's SharePoint fields. `app_auth` (the default) needs a client secret now.
    pub fn create_sharepoint(&self, problems: &mut Problems) -> SharePointSettings {
        for (field, value) in [
            ("site_url", &self.site_url),
            ("azure_tenant_id", &self.azure_tenant_id),
            ("azure_client_id", &self.azure_client_id),
        ] {
            problems.required(field, value.as_ref());
        }
        let empty = SharePointSettings {
            site_url: String::new(),
            site_id: None,
            drive_id: None,
            library_name: None,
            base_path: String::new(),
            azure_tenant_id: String::new(),
            azure_client_id: String::new(),
            auth_type: AuthType::AppAuth,
            sync_versions: false,
            sync_metadata: false,
        };
        let settings = self.apply_sharepoint(empty, problems);
        if settings.auth_type == AuthType::AppAuth && self.azure_client_secret.is_none() {
            problems.add("azure_client_secret", "is required for app_auth");
        }
        settings
    }

    /// The names of the SharePoint fields this request sets (for the audit log, never the values).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let mut fields = self.common.present_fields();
        let own = [
            ("site_url", self.site_url.is_some()),
            ("site_id", self.site_id.is_some()),
            ("drive_id", self.drive_id.is_some()),
            ("library_name", self.library_name.is_some()),
            ("base_path", self.base_path.is_some()),
            ("azure_tenant_id", self.azure_tenant_id.is_some()),
            ("azure_client_id", self.azure_client_id.is_some()),
            ("azure_client_secret", self.azure_client_secret.is_some()),
            ("auth_type", self.auth_type.is_some()),
            ("sync_versions", self.sync_versions.is_some()),
            ("sync_metadata", self.sync_metadata.is_some()),
        ];
        fields.extend(own.iter().filter(|(_, set)| *set).map(|(name, _)| *name));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> SharePointInput {
        serde_json::from_value(json).unwrap()
    }

    fn fields(problems: &Problems) -> Vec<&str> {
        problems.0.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn a_complete_request_is_taken_as_given() {
        let mut problems = Problems::default();
        let settings = input(serde_json::json!({
            "site_url": "https://contoso.sharepoint.com/sites/marketing/",
            "site_id": "contoso.sharepoint.com,abc,def", "drive_id": "b!xyz", "library_name": "Documents",
            "base_path": "Campaigns/2026", "azure_tenant_id": "11111111-1111-1111-1111-111111111111",
            "azure_client_id": "22222222-2222-2222-2222-222222222222", "azure_client_secret": "s",
            "auth_type": "app_auth", "sync_versions": true
        }))
        .create_sharepoint(&mut problems);
        assert!(problems.0.is_empty(), "{:?}", problems.0);
        assert_eq!(settings.site_url, "https://contoso.sharepoint.com/sites/marketing");
        assert_eq!((settings.base_path.as_str(), settings.drive_id.as_deref()), ("Campaigns/2026", Some("b!xyz")));
        assert!(settings.sync_versions && !settings.sync_metadata);
    }

    #[test]
    fn every_bad_or_missing_field_is_reported_at_once() {
        let mut problems = Problems::default();
        input(serde_json::json!({
            "site_url": "http://contoso.sharepoint.com/sites/x", "drive_id": "b!a/../b",
            "azure_tenant_id": "not a tenant", "azure_client_id": "client", "base_path": "../up"
        }))
        .create_sharepoint(&mut problems);
        assert_eq!(
            fields(&problems),
            ["site_url", "drive_id", "base_path", "azure_tenant_id", "azure_client_id", "azure_client_secret"]
        );
        let mut problems = Problems::default();
        input(serde_json::json!({"auth_type": "user_auth"})).create_sharepoint(&mut problems);
        assert_eq!(fields(&problems), ["site_url", "azure_tenant_id", "azure_client_id"]);
    }

    #[test]
    fn a_tenant_may_be_named_by_its_domain() {
        let mut problems = Problems::default();
        let current = input(serde_json::json!({
            "site_url": "https://c.sharepoint.com", "azure_tenant_id": "11111111-1111-1111-1111-111111111111",
            "azure_client_id": "22222222-2222-2222-2222-222222222222", "azure_client_secret": "s"
        }))
        .create_sharepoint(&mut problems);
        let updated = input(serde_json::json!({"azure_tenant_id": "contoso.onmicrosoft.com"}))
            .apply_sharepoint(current, &mut problems);
        assert!(problems.0.is_empty(), "{:?}", problems.0);
        assert_eq!(updated.azure_tenant_id, "contoso.onmicrosoft.com");
    }
}
