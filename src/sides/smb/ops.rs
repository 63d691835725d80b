//! Metadata operations on the share: stat, mkdir, delete, move, security descriptors.
//!
//! Paths are connector-relative (`a/b.txt`); each operation resolves them under `base_path`.
//! Every open is closed again before the call returns, on success and on failure, so a failed
//! operation never leaves a handle that would block the next one (SMB deletes and renames
//! happen at close, and our opens share read|write|delete).

use smb::{
    AdditionalInfo, CreateDisposition, CreateOptions, FileAccessMask, FileAllInformation, FileAttributes,
    FileBasicInformation, FileCreateArgs, FileDispositionInformation, FileRenameInformation, Resource, ResourceHandle,
    SecurityDescriptor,
};

use super::client::SmbClient;
use super::entry::{SmbAttributes, SmbEntry, filetime_to_datetime};
use super::errors::SmbError;
use super::listing::is_link;
use super::names::{split_parent, windows_name_problem};

/// The parts of a security descriptor the sync reads and writes.
pub fn owner_group_dacl() -> AdditionalInfo {
    AdditionalInfo::new()
        .with_owner_security_information(true)
        .with_group_security_information(true)
        .with_dacl_security_information(true)
}

/// Opens the entry itself, not what a symlink or junction points to: deleting or moving a link
/// must never touch its target (Windows follows links on open unless told not to).
fn open_link_itself(access: FileAccessMask) -> FileCreateArgs {
    let mut args = FileCreateArgs::make_open_existing(access);
    args.options = CreateOptions::new().with_open_reparse_point(true);
    args
}

pub(crate) fn handle_of(r: &Resource) -> &ResourceHandle {
    match r {
        Resource::File(f) => f.handle(),
        Resource::Directory(d) => d.handle(),
        Resource::Pipe(p) => p.handle(),
    }
}

impl SmbClient {
    /// Opens an existing file or folder by share-relative SMB path.
    pub(crate) async fn open_smb(
        &self,
        smb_path: &str,
        rel: &str,
        args: &FileCreateArgs,
    ) -> Result<Resource, SmbError> {
        self.call("open", rel, self.tree().create(smb_path, args)).await
    }

    /// Closes a handle within the call timeout. Errors matter: a pending delete or rename is
    /// carried out at close.
    pub(crate) async fn close_handle(&self, r: &Resource, rel: &str) -> Result<(), SmbError> {
        self.call("close", rel, handle_of(r).close()).await
    }

    /// Runs `f` on a freshly opened handle, then closes it whatever `f` returned.
    async fn with_open<T>(
        &self,
        rel: &str,
        args: FileCreateArgs,
        f: impl AsyncFnOnce(&Resource) -> Result<T, SmbError>,
    ) -> Result<T, SmbError> {
        let smb_path = self.smb_path(rel)?;
        let r = self.open_smb(&smb_path, rel, &args).await?;
        let out = f(&r).await;
        let closed = self.close_handle(&r, rel).await;
        let v = out?;
        closed?;
        Ok(v)
    }

    /// Metadata of one file or folder (`""` is the connector root).
    pub async fn stat(&self, rel: &str) -> Result<SmbEntry, SmbError> {
        let args = FileCreateArgs::make_open_existing(FileAccessMask::new().with_file_read_attributes(true));
        let info = self
            .with_open(rel, args, async |r| {
                self.call("stat", rel, handle_of(r).query_info::<FileAllInformation>()).await
            })
            .await?;
        let rel = rel.trim_matches('/');
        Ok(SmbEntry {
            path: rel.to_string(),
            name: split_parent(rel).1.to_string(),
            size: info.standard.end_of_file,
            created: filetime_to_datetime(*info.basic.creation_time),
            modified: filetime_to_datetime(*info.basic.last_write_time),
            changed: filetime_to_datetime(*info.basic.change_time),
            accessed: filetime_to_datetime(*info.basic.last_access_time),
            attributes: SmbAttributes::from_smb(&info.basic.file_attributes),
            reparse_tag: None,
            file_id: info.internal.index_number,
        })
    }

    /// Whether `rel` exists (a missing parent also counts as "no").
    pub async fn exists(&self, rel: &str) -> Result<bool, SmbError> {
        match self.stat(rel).await {
            Ok(_) => Ok(true),
            Err(SmbError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates folder `rel` and any missing parents; an existing folder is fine.
    pub async fn mkdir_all(&self, rel: &str) -> Result<(), SmbError> {
        let rel = rel.trim_matches('/');
        if rel.is_empty() {
            return Ok(());
        }
        let mut prefix = String::new();
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            self.mkdir_one(&prefix, comp).await?;
        }
        Ok(())
    }

    async fn mkdir_one(&self, rel: &str, name: &str) -> Result<(), SmbError> {
        let smb_path = self.smb_path(rel)?;
        let args = FileCreateArgs {
            disposition: CreateDisposition::OpenIf,
            attributes: FileAttributes::new().with_directory(true),
            options: CreateOptions::new().with_directory_file(true),
            desired_access: FileAccessMask::new().with_file_read_attributes(true),
        };
        let r = match self.open_smb(&smb_path, rel, &args).await {
            Ok(r) => r,
            // Only names we would create are checked: existing odd names still open.
            Err(SmbError::NotADirectory { path }) => return Err(SmbError::NotADirectory { path }),
            Err(e) if windows_name_problem(name).is_some() => {
                return Err(match e {
                    SmbError::Status { .. } | SmbError::NotFound { .. } => {
                        SmbError::InvalidName { path: rel.to_string() }
                    }
                    other => other,
                });
            }
            Err(e) => return Err(e),
        };
        let is_dir = matches!(r, Resource::Directory(_));
        self.close_handle(&r, rel).await?;
        if is_dir { Ok(()) } else { Err(SmbError::NotADirectory { path: rel.to_string() }) }
    }

    /// Deletes one file or one empty folder.
    pub async fn delete(&self, rel: &str) -> Result<(), SmbError> {
        if rel.trim_matches('/').is_empty() {
            return Err(SmbError::InvalidName { path: rel.to_string() });
        }
        let args = open_link_itself(FileAccessMask::new().with_delete(true));
        self.with_open(rel, args, async |r| {
            self.call("delete", rel, handle_of(r).set_info(FileDispositionInformation::default())).await
        })
        .await
    }

    /// Deletes a file, or a folder with everything in it (deepest entries first). A symlink or
    /// junction is removed itself; what it points to is never entered. Samba shows a followed
    /// symlink to a folder as an ordinary folder: it is told by its `..` resolving elsewhere,
    /// and if the server will not remove just the link the result is `SymlinkSkipped`.
    pub async fn delete_recursive(&self, rel: &str) -> Result<(), SmbError> {
        let entry = match self.stat_listed(rel).await? {
            Some(e) => e,
            None => return Err(SmbError::NotFound { path: rel.to_string() }),
        };
        let parent_id = self.folder_id(split_parent(&entry.path).0).await?;
        self.delete_tree(&entry, parent_id).await
    }

    async fn delete_tree(&self, entry: &SmbEntry, parent_id: Option<u64>) -> Result<(), SmbError> {
        if entry.is_dir() && !entry.attributes.reparse_point {
            // Our temporary files are listed too, or the folder would not be empty.
            let listed = self.list_with_ids(&entry.path).await?;
            if is_link(parent_id, &listed) {
                return match self.delete(&entry.path).await {
                    Err(SmbError::DirectoryNotEmpty { path }) => Err(SmbError::SymlinkSkipped { path }),
                    other => other,
                };
            }
            for child in &listed.entries {
                Box::pin(self.delete_tree(child, listed.id)).await?;
            }
        }
        self.delete(&entry.path).await
    }

    /// Moves or renames `from` to `to` (both connector-relative; the target folder must exist).
    /// With `replace` an existing file at `to` is replaced; without it that is `AlreadyExists`.
    pub async fn rename(&self, from: &str, to: &str, replace: bool) -> Result<(), SmbError> {
        let (_, new_name) = split_parent(to);
        if windows_name_problem(new_name).is_some() {
            return Err(SmbError::InvalidName { path: to.to_string() });
        }
        let target = self.smb_path(to)?;
        let args = open_link_itself(FileAccessMask::new().with_delete(true).with_file_read_attributes(true));
        self.with_open(from, args, async |r| {
            let info = FileRenameInformation {
                replace_if_exists: replace.into(),
                root_directory: 0,
                file_name: target.as_str().into(),
            };
            self.call("rename", to, handle_of(r).set_info(info)).await
        })
        .await
    }

    /// Sets hidden/system/readonly on `rel` (other attributes as the server keeps them).
    pub async fn set_attributes(&self, rel: &str, attrs: SmbAttributes) -> Result<(), SmbError> {
        let args = FileCreateArgs::make_open_existing(
            FileAccessMask::new().with_file_read_attributes(true).with_file_write_attributes(true),
        );
        self.with_open(rel, args, async |r| {
            let h = handle_of(r);
            let mut basic = self.call("stat", rel, h.query_info::<FileBasicInformation>()).await?;
            let a = basic.file_attributes;
            basic.file_attributes =
                a.with_hidden(attrs.hidden).with_system(attrs.system).with_readonly(attrs.readonly).with_normal(false);
            // Zero times mean "leave unchanged" (MS-FSCC 2.4.7).
            basic.creation_time = 0u64.into();
            basic.last_access_time = 0u64.into();
            basic.last_write_time = 0u64.into();
            basic.change_time = 0u64.into();
            self.call("set attributes", rel, h.set_info(basic)).await
        })
        .await
    }

    /// Owner, group and DACL of `rel`.
    pub async fn security(&self, rel: &str) -> Result<SecurityDescriptor, SmbError> {
        let args = FileCreateArgs::make_open_existing(
            FileAccessMask::new().with_read_control(true).with_file_read_attributes(true),
        );
        self.with_open(rel, args, async |r| {
            self.call("query security", rel, handle_of(r).query_security_info(owner_group_dacl())).await
        })
        .await
    }

    /// Writes the parts of `sd` named by `which` (e.g. [`owner_group_dacl`]) to `rel`.
    /// Needs WRITE_DAC (and WRITE_OWNER for the owner) on the file.
    pub async fn set_security(&self, rel: &str, sd: SecurityDescriptor, which: AdditionalInfo) -> Result<(), SmbError> {
        let mut access = FileAccessMask::new().with_read_control(true).with_write_dacl(true);
        if which.owner_security_information() || which.group_security_information() {
            access = access.with_write_owner(true);
        }
        let args = FileCreateArgs::make_open_existing(access);
        self.with_open(rel, args, async |r| {
            self.call("set security", rel, handle_of(r).set_security_info(sd, which)).await
        })
        .await
    }
}
