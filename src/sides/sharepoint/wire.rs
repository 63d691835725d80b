//! Graph's JSON as serde types: the slice of `driveItem`, delta pages, upload sessions and the error envelope a
//! sync reads (GRAPH.md 3.1, 4, 6.3, 12.1). Every field is optional where the reference says it can be missing
//! (delta omits `name` on deletes, `cTag` always, `parentReference.path` always; hashes can appear late).

use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveItem {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "eTag")]
    pub e_tag: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_modified_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub file_system_info: Option<FileSystemInfo>,
    #[serde(default)]
    pub file: Option<FileFacet>,
    #[serde(default)]
    pub folder: Option<serde_json::Value>,
    /// OneNote notebooks and other packages: synced as opaque items, never walked.
    #[serde(default)]
    pub package: Option<serde_json::Value>,
    #[serde(default)]
    pub root: Option<serde_json::Value>,
    #[serde(default)]
    pub deleted: Option<serde_json::Value>,
    #[serde(default)]
    pub parent_reference: Option<ItemReference>,
    #[serde(default, rename = "@microsoft.graph.downloadUrl")]
    pub download_url: Option<String>,
}

impl DriveItem {
    /// The client-set modification time, falling back to the service's.
    pub fn modified(&self) -> OffsetDateTime {
        self.file_system_info
            .as_ref()
            .and_then(|f| f.last_modified_date_time)
            .or(self.last_modified_date_time)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn quick_xor_hash(&self) -> Option<&str> {
        self.file.as_ref()?.hashes.as_ref()?.quick_xor_hash.as_deref()
    }

    pub fn is_folder(&self) -> bool {
        self.folder.is_some() && self.package.is_none()
    }

    pub fn child_count(&self) -> u64 {
        self.folder.as_ref().and_then(|f| f.get("childCount")).and_then(serde_json::Value::as_u64).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSystemInfo {
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_modified_date_time: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileFacet {
    #[serde(default)]
    pub hashes: Option<Hashes>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hashes {
    #[serde(default)]
    pub quick_xor_hash: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemReference {
    #[serde(default)]
    pub id: Option<String>,
    /// `/drives/{id}/root:` + percent-encoded path; absent in delta.
    #[serde(default)]
    pub path: Option<String>,
}

/// One page of children or delta.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub value: Vec<DriveItem>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(default, rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSession {
    pub upload_url: String,
}

/// `GET <uploadUrl>` and the 202 answer to a fragment.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    #[serde(default)]
    pub next_expected_ranges: Vec<String>,
}

impl UploadStatus {
    /// Where the service wants the next byte (the start of the first expected range).
    pub fn next_offset(&self) -> Option<u64> {
        self.next_expected_ranges.first()?.split('-').next()?.parse().ok()
    }
}

/// The error envelope; the key spelling of the inner error varies (`innerError`/`innererror`).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub error: ErrorBody,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, alias = "innererror", rename = "innerError")]
    pub inner: Option<Box<ErrorBody>>,
}

impl ErrorBody {
    /// Every code from outermost to innermost: the inner ones are the more specific.
    pub fn codes(&self) -> Vec<&str> {
        let mut out = vec![self.code.as_str()];
        let mut next = self.inner.as_deref();
        while let Some(inner) = next {
            if !inner.code.is_empty() {
                out.push(inner.code.as_str());
            }
            next = inner.inner.as_deref();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_delete_without_name_parses_and_inner_codes_are_collected() {
        let item: DriveItem = serde_json::from_str(r#"{"id":"01A","deleted":{"state":"deleted"}}"#).unwrap();
        assert!(item.deleted.is_some() && item.name.is_none());
        let error: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"code":"invalidRequest","message":"m","innererror":{"code":"invalidPath"}}}"#,
        )
        .unwrap();
        assert_eq!(error.error.codes(), vec!["invalidRequest", "invalidPath"]);
        let status: UploadStatus = serde_json::from_str(r#"{"nextExpectedRanges":["327680-"]}"#).unwrap();
        assert_eq!(status.next_offset(), Some(327_680));
    }
}
