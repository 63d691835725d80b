//! The schema version and its upgrades. Each step upgrades one version to the next inside the same write
//! transaction that bumps the version, so a crash leaves either the old or the new schema, never half of one.
//! A database written by a newer build is refused rather than misread.

use redb::{ReadableTable, WriteTransaction};

use super::StoreError;
use super::tables::{self, META};

/// The schema this build writes. Bump it and add a step to `STEPS` when a stored shape changes.
pub const SCHEMA_VERSION: u32 = 5;

/// One upgrade step, run inside the transaction that bumps the version.
type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `STEPS[n]` upgrades schema `n + 1` to `n + 2`.
const STEPS: &[Step] = &[index_group_names, permission_tables, roll_up_jobs, resolved_conflicts];

/// 1 -> 2: SCIM's tables (profiles, nested groups, the group name index); the name index is filled from the
/// groups that exist. The other new tables start empty (`create_all` runs after each step).
fn index_group_names(txn: &WriteTransaction) -> Result<(), StoreError> {
    #[derive(serde::Deserialize)]
    struct Named {
        id: crate::ids::GroupId,
        display_name: String,
    }
    let groups = txn.open_table(tables::GROUPS)?;
    let mut names = txn.open_table(tables::GROUP_NAMES)?;
    for row in groups.iter()? {
        let (_, value) = row?;
        let group: Named = super::codec::decode("groups", value.value())?;
        names.insert(crate::principals::group_name_key(&group.display_name, group.id).as_str(), group.id.to_bytes())?;
    }
    Ok(())
}

/// 2 -> 3: the permission tables of connectors with `sync_permissions` (they start empty; `create_all` makes
/// them).
fn permission_tables(_txn: &WriteTransaction) -> Result<(), StoreError> {
    Ok(())
}

/// 3 -> 4: the hourly job rollups and last successes, computed once from the finished jobs already kept.
fn roll_up_jobs(txn: &WriteTransaction) -> Result<(), StoreError> {
    let jobs = txn.open_table(tables::JOBS)?;
    for row in jobs.iter()? {
        let (_, value) = row?;
        let job: crate::connectors::jobs::Job = super::codec::decode("jobs", value.value())?;
        if job.status.is_final() {
            crate::connectors::job_stats::count(txn, &job)?;
        }
    }
    Ok(())
}

/// 4 -> 5: conflicts an admin resolved, kept apart from the open ones (the table starts empty; `create_all`
/// makes it).
fn resolved_conflicts(_txn: &WriteTransaction) -> Result<(), StoreError> {
    Ok(())
}

const VERSION_KEY: &str = "schema_version";

pub fn read_version(txn: &WriteTransaction) -> Result<Option<u32>, StoreError> {
    let meta = txn.open_table(META)?;
    let version = meta.get(VERSION_KEY)?.map(|v| {
        let bytes = v.value();
        let mut word = [0u8; 4];
        if bytes.len() == 4 {
            word.copy_from_slice(bytes);
        }
        u32::from_be_bytes(word)
    });
    Ok(version)
}

fn write_version(txn: &WriteTransaction, version: u32) -> Result<(), StoreError> {
    txn.open_table(META)?.insert(VERSION_KEY, version.to_be_bytes().as_slice())?;
    Ok(())
}

/// Brings a freshly opened database to `SCHEMA_VERSION`, one committed step at a time.
pub fn migrate(db: &redb::Database) -> Result<u32, StoreError> {
    loop {
        let txn = db.begin_write()?;
        let version = read_version(&txn)?;
        match version {
            None => {
                tables::create_all(&txn)?;
                write_version(&txn, SCHEMA_VERSION)?;
                txn.commit()?;
                return Ok(SCHEMA_VERSION);
            }
            Some(v) if v == SCHEMA_VERSION => return Ok(v),
            Some(v) if v > SCHEMA_VERSION => return Err(StoreError::TooNew { found: v, known: SCHEMA_VERSION }),
            Some(v) => {
                let step = STEPS[(v - 1) as usize];
                step(&txn)?;
                tables::create_all(&txn)?;
                write_version(&txn, v + 1)?;
                txn.commit()?;
            }
        }
    }
}
