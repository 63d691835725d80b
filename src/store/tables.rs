//! Every table of the appliance's one redb database, on one screen. Ids are stored as their 16 ULID bytes, so
//! keys sort by creation time; records are encoded by `codec` (JSON with a format version), index tables map a
//! lookup key to an id. The `tables!` list also drives `backup`, so a new table cannot be forgotten there.

use redb::TableDefinition;

/// Two ids side by side (`group ++ user`): membership rows that are listed by their first half.
pub type IdPair = [u8; 32];
pub type Id = [u8; 16];

macro_rules! tables {
    ($($(#[$doc:meta])* $name:ident: $key:ty => $value:ty = $label:literal;)*) => {
        $($(#[$doc])* pub const $name: TableDefinition<'static, $key, $value> = TableDefinition::new($label);)*

        /// Copies every table from a snapshot into a fresh database (see `backup`).
        pub(crate) fn copy_all(
            from: &redb::ReadTransaction,
            to: &redb::WriteTransaction,
        ) -> Result<(), super::StoreError> {
            $(super::backup::copy_table(from, to, $name)?;)*
            Ok(())
        }

        /// Opens every table once, so readers never meet a table that does not exist yet.
        pub(crate) fn create_all(txn: &redb::WriteTransaction) -> Result<(), super::StoreError> {
            $(txn.open_table($name)?;)*
            Ok(())
        }
    };
}

tables! {
    /// `schema_version` and other single values.
    META: &str => &[u8] = "meta";

    /// Users by id.
    USERS: Id => &[u8] = "users";
    /// Lower-cased `user_name` -> user id (user names are unique regardless of case).
    USER_NAMES: &str => Id = "user_names";
    /// `external_id` (the identity provider's id) -> user id.
    USER_EXTERNAL_IDS: &str => Id = "user_external_ids";
    /// What SCIM keeps of a user beyond the user record (every email, the name parts, which attributes the
    /// identity provider assigned), by user id.
    USER_SCIM_PROFILES: Id => &[u8] = "user_scim_profiles";

    /// Groups by id.
    GROUPS: Id => &[u8] = "groups";
    /// Lower-cased slug -> group id.
    GROUP_SLUGS: &str => Id = "group_slugs";
    /// `external_id` -> group id.
    GROUP_EXTERNAL_IDS: &str => Id = "group_external_ids";
    /// `fold_case(display_name) ++ "\0" ++ group id` -> group id: SCIM's `displayName eq` lookups and its
    /// uniqueness check, without a scan. The id in the key lets groups made through the API share a name.
    GROUP_NAMES: &str => Id = "group_names";
    /// Nested membership `group ++ member group` (SCIM groups may contain groups), listed per parent.
    GROUP_SUBGROUPS: IdPair => () = "group_subgroups";
    /// Membership `group ++ user`, listed per group.
    GROUP_MEMBERS: IdPair => () = "group_members";
    /// Membership `user ++ group`, listed per user (access checks expand a caller's groups).
    USER_GROUPS: IdPair => () = "user_groups";

    /// API and SCIM tokens by id (never the secret).
    TOKENS: Id => &[u8] = "tokens";
    /// SHA-256 of a token secret -> token id.
    TOKEN_HASHES: [u8; 32] => Id = "token_hashes";

    /// Connectors (SMB, SharePoint) by id, secrets sealed.
    CONNECTORS: Id => &[u8] = "connectors";
    /// Identity mappings, `connector ++ mapping`.
    IDENTITY_MAPPINGS: IdPair => &[u8] = "identity_mappings";

    /// Drive shares by id (`drive/`: shares, files, versions, trash, metadata, ACEs; records in `drive/tables.rs`).
    DRIVE_SHARES: Id => &[u8] = "drive_shares";
    /// `parent entry id ++ name` -> entry record: folder listings are one range, in name order.
    DRIVE_CHILDREN: &[u8] => &[u8] = "drive_children";
    /// Entry id -> where the entry sits (parent and name).
    DRIVE_ENTRIES: Id => &[u8] = "drive_entries";
    /// `entry id ++ version id` -> a past version of a file.
    DRIVE_VERSIONS: IdPair => &[u8] = "drive_versions";
    /// Version id -> the entry it belongs to.
    DRIVE_VERSION_OWNER: Id => Id = "drive_version_owner";
    /// `share id ++ trash id` -> a deleted entry: a share's trash is one range, oldest first.
    DRIVE_TRASH: IdPair => &[u8] = "drive_trash";
    /// Content hash -> how many files, versions and trash records refer to it.
    DRIVE_BLOBS: [u8; 32] => u64 = "drive_blobs";
    /// Content hash -> when its last reference went (the purge deletes it from disk after retention).
    DRIVE_DEAD_BLOBS: [u8; 32] => i64 = "drive_dead_blobs";
    /// Entry id -> the entry's metadata object (JSON text).
    DRIVE_METADATA: Id => &[u8] = "drive_metadata";
    /// Entry id -> its encoded ACE list (a share's ACEs sit on its root entry).
    DRIVE_ACES: Id => &[u8] = "drive_aces";

    /// Base records: `connector ++ SyncPath::sort_key()` -> both sides as they stood after the last sync.
    FILE_STATES: &[u8] => &[u8] = "file_states";
    /// Per-file errors of the last runs, same keys; removed when the path syncs.
    FILE_ERRORS: &[u8] => &[u8] = "file_errors";
    /// A source's change cursor by connector (SharePoint: the delta link and the kept item tree), opaque here;
    /// written only after the run's actions are recorded, so a crash re-reads the same changes.
    SOURCE_CURSORS: Id => &[u8] = "source_cursors";
    /// Sync conflicts, `connector ++ conflict`.
    CONFLICTS: IdPair => &[u8] = "conflicts";
    /// Conflicts an admin resolved, `connector ++ conflict`, with the choice: a second resolve is told so.
    RESOLVED_CONFLICTS: IdPair => &[u8] = "resolved_conflicts";

    /// Permissions as last read from the source and applied to the drive, same keys as `file_states`: the
    /// source's tag when the ACL was read, the ACL, the owner and ACEs set, the entry's unmapped principals.
    PERMISSION_STATES: &[u8] => &[u8] = "permission_states";
    /// Per connector: the identity fingerprint of its last permission pass and its unmapped principals.
    PERMISSION_SUMMARIES: Id => &[u8] = "permission_summaries";
    /// SharePoint per-item extras, `connector ++ Graph item id`: which SharePoint versions are already drive
    /// versions, and the column values both sides held after the last sync (`sides::sharepoint::extras_state`).
    SHAREPOINT_ITEMS: &[u8] => &[u8] = "sharepoint_items";

    /// Jobs (runs and skipped runs), `connector ++ job`.
    JOBS: IdPair => &[u8] = "jobs";
    /// A job's per-file log, `job ++ sequence (u32, big-endian)`.
    JOB_EVENTS: [u8; 20] => &[u8] = "job_events";
    /// Finished runs rolled up per hour, `connector ++ hour since the epoch (u32, big-endian)` -> totals: the
    /// status page's day, week and month without reading every job (`connectors/job_stats.rs`).
    JOB_HOURS: [u8; 20] => &[u8] = "job_hours";
    /// Connector id -> its last successful run.
    JOB_LAST_SUCCESS: Id => &[u8] = "job_last_success";

    /// Audit events by id; ULIDs order them by time.
    AUDIT_EVENTS: Id => &[u8] = "audit_events";
}
