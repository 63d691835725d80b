//! SCIM's reads: users and groups rendered as `ScimUserRecord`/`ScimGroupRecord` from one read transaction,
//! by id, by an indexed equality (no scan), a page at a time, or all of them for the filters no index answers.
//! The writes, and what a user's SCIM form is made of, are in `scim.rs`.

use std::collections::HashMap;

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::groups::{GroupRecord, groups_named, members_of};
use super::landmarks::Landmarks;
use super::scim::{Result, meta, read_profile, scim_user};
use super::users::user_name_key;
use super::{Principals, User, rows_after};
use crate::ids::{GroupId, UserId};
use crate::scim::error::ScimError;
use crate::scim::eval::{IndexLookup, IndexedAttr};
use crate::scim::group::{MemberId, ScimGroup, ScimGroupRecord, ScimMember};
use crate::scim::resource::{ScimGroupRef, ScimUserRecord};
use crate::store::codec;
use crate::store::tables::{
    GROUP_EXTERNAL_IDS, GROUP_MEMBERS, GROUP_NAMES, GROUP_SUBGROUPS, GROUPS, USER_EXTERNAL_IDS, USER_GROUPS,
    USER_NAMES, USER_SCIM_PROFILES, USERS,
};

/// How many users added since the landmarks were taken are counted before starting again from the first row.
const MAX_ADDED: usize = 1024;

/// Reads users and groups in one read transaction, remembering group names for the `groups` attribute.
struct Reader {
    users: redb::ReadOnlyTable<[u8; 16], &'static [u8]>,
    profiles: redb::ReadOnlyTable<[u8; 16], &'static [u8]>,
    user_groups: redb::ReadOnlyTable<[u8; 32], ()>,
    groups: redb::ReadOnlyTable<[u8; 16], &'static [u8]>,
    group_members: redb::ReadOnlyTable<[u8; 32], ()>,
    subgroups: redb::ReadOnlyTable<[u8; 32], ()>,
    group_names: HashMap<GroupId, String>,
}

impl Reader {
    fn open(p: &Principals) -> Result<Self> {
        let txn = p.store.db().begin_read()?;
        Ok(Self {
            users: txn.open_table(USERS)?,
            profiles: txn.open_table(USER_SCIM_PROFILES)?,
            user_groups: txn.open_table(USER_GROUPS)?,
            groups: txn.open_table(GROUPS)?,
            group_members: txn.open_table(GROUP_MEMBERS)?,
            subgroups: txn.open_table(GROUP_SUBGROUPS)?,
            group_names: HashMap::new(),
        })
    }

    fn user(&mut self, id: UserId) -> Result<Option<ScimUserRecord>> {
        let Some(row) = self.users.get(id.to_bytes())? else { return Ok(None) };
        let user: User = codec::decode("users", row.value())?;
        drop(row);
        self.user_record(user).map(Some)
    }

    fn user_record(&mut self, user: User) -> Result<ScimUserRecord> {
        let profile = read_profile(&self.profiles, user.id)?;
        let mut groups = Vec::new();
        for row in self.user_groups.range(codec::pairs_of(user.id.to_bytes()))? {
            let id = GroupId::from_bytes(codec::second(&row?.0.value()));
            if let Some(display) = self.group_name(id)? {
                groups.push(ScimGroupRef { id, display });
            }
        }
        Ok(ScimUserRecord {
            id: user.id,
            user: scim_user(&user, profile.as_ref()),
            groups,
            meta: meta(user.created_at, user.updated_at, user.version),
        })
    }

    fn group_name(&mut self, id: GroupId) -> Result<Option<String>> {
        if let Some(name) = self.group_names.get(&id) {
            return Ok(Some(name.clone()));
        }
        let Some(row) = self.groups.get(id.to_bytes())? else { return Ok(None) };
        let record: GroupRecord = codec::decode("groups", row.value())?;
        self.group_names.insert(id, record.display_name.clone());
        Ok(Some(record.display_name))
    }

    fn group(&mut self, id: GroupId, with_members: bool) -> Result<Option<ScimGroupRecord>> {
        let Some(row) = self.groups.get(id.to_bytes())? else { return Ok(None) };
        let record: GroupRecord = codec::decode("groups", row.value())?;
        drop(row);
        self.group_record(record, with_members).map(Some)
    }

    fn group_record(&mut self, record: GroupRecord, with_members: bool) -> Result<ScimGroupRecord> {
        let mut members = Vec::new();
        // Members carry no `display`: it is optional and readOnly, a label the client did not send reads back
        // as a change to conformance checkers, and a 10,000-member read would decode 10,000 user records.
        if with_members {
            for user in members_of(&self.group_members, record.id)? {
                members.push(ScimMember { id: MemberId::User(user), display: None });
            }
            for child in subgroups_of(&self.subgroups, record.id)? {
                members.push(ScimMember { id: MemberId::Group(child), display: None });
            }
        }
        Ok(ScimGroupRecord {
            id: record.id,
            group: ScimGroup { display_name: record.display_name, external_id: record.external_id, members },
            meta: meta(record.created_at, record.updated_at, record.version),
        })
    }
}

pub(super) fn subgroups_of(table: &impl ReadableTable<[u8; 32], ()>, id: GroupId) -> Result<Vec<GroupId>> {
    table
        .range(codec::pairs_of(id.to_bytes()))?
        .map(|row| Ok(GroupId::from_bytes(codec::second(&row?.0.value()))))
        .collect()
}

impl Principals {
    /// One user as a SCIM resource.
    pub fn scim_user(&self, id: UserId) -> Result<ScimUserRecord> {
        Reader::open(self)?.user(id)?.ok_or_else(|| ScimError::NotFound(format!("user {id} not found")).into())
    }

    /// The users an indexed equality selects (`id`, `userName`, `externalId`): at most one, found without a scan.
    pub fn scim_users_by(&self, hint: &IndexLookup) -> Result<Vec<ScimUserRecord>> {
        let mut reader = Reader::open(self)?;
        let txn = self.store.db().begin_read()?;
        let id = match hint.attr {
            IndexedAttr::Id => hint.key.parse::<UserId>().ok(),
            IndexedAttr::UserName => txn
                .open_table(USER_NAMES)?
                .get(user_name_key(&hint.key).as_str())?
                .map(|v| UserId::from_bytes(v.value())),
            IndexedAttr::ExternalId => {
                txn.open_table(USER_EXTERNAL_IDS)?.get(hint.key.as_str())?.map(|v| UserId::from_bytes(v.value()))
            }
            IndexedAttr::DisplayName => return self.scim_users_scan(),
        };
        Ok(id.map(|id| reader.user(id)).transpose()?.flatten().into_iter().collect())
    }

    /// A page of users in creation order with the total count, for lists without a filter or sort. It starts
    /// from the nearest landmark of the user list (`landmarks.rs`), so a deep page steps over few rows.
    pub fn scim_users_page(&self, offset: usize, count: usize) -> Result<(usize, Vec<ScimUserRecord>)> {
        let mut reader = Reader::open(self)?;
        let rows_total = reader.users.len()?;
        let print = (rows_total, reader.users.last()?.map(|(k, _)| k.value()));
        // Users added since the landmarks were taken (a handful, between two pages) are counted; past a page's
        // worth of steps it is cheaper to start again.
        let added_after = |last: Option<[u8; 16]>| {
            let rows = rows_after(&reader.users, last).ok()?;
            let added = rows.take(MAX_ADDED + 1).count();
            (added <= MAX_ADDED).then_some(added as u64)
        };
        let mut marks = self.landmarks().for_print(print, added_after);
        let (mut ordinal, after) = marks.start_for(offset);
        let mut users = Vec::new();
        for row in rows_after(&reader.users, after)? {
            let (key, value) = row?;
            marks.note(ordinal, key.value());
            if ordinal >= offset {
                users.push(codec::decode::<User>("users", value.value())?);
                if users.len() == count {
                    break;
                }
            }
            ordinal += 1;
        }
        *self.scim_landmarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = marks;
        let records = users.into_iter().map(|u| reader.user_record(u)).collect::<Result<_>>()?;
        Ok((usize::try_from(rows_total).unwrap_or(usize::MAX), records))
    }

    fn landmarks(&self) -> Landmarks {
        self.scim_landmarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Every user, for filters no index answers and for sorting.
    pub fn scim_users_scan(&self) -> Result<Vec<ScimUserRecord>> {
        let mut reader = Reader::open(self)?;
        let mut users = Vec::new();
        for row in reader.users.iter()? {
            users.push(codec::decode::<User>("users", row?.1.value())?);
        }
        users.into_iter().map(|u| reader.user_record(u)).collect()
    }

    /// One group; `with_members: false` skips building a member list the response would drop.
    pub fn scim_group(&self, id: GroupId, with_members: bool) -> Result<ScimGroupRecord> {
        Reader::open(self)?
            .group(id, with_members)?
            .ok_or_else(|| ScimError::NotFound(format!("group {id} not found")).into())
    }

    /// The groups an indexed equality selects (`id`, `displayName`, `externalId`), without a scan.
    pub fn scim_groups_by(&self, hint: &IndexLookup, with_members: bool) -> Result<Vec<ScimGroupRecord>> {
        let mut reader = Reader::open(self)?;
        let txn = self.store.db().begin_read()?;
        let ids: Vec<GroupId> = match hint.attr {
            IndexedAttr::Id => hint.key.parse::<GroupId>().ok().into_iter().collect(),
            IndexedAttr::DisplayName => groups_named(&txn.open_table(GROUP_NAMES)?, &hint.key)?,
            IndexedAttr::ExternalId => txn
                .open_table(GROUP_EXTERNAL_IDS)?
                .get(hint.key.as_str())?
                .map(|v| GroupId::from_bytes(v.value()))
                .into_iter()
                .collect(),
            IndexedAttr::UserName => return self.scim_groups_scan(with_members),
        };
        let mut out = Vec::new();
        for id in ids {
            out.extend(reader.group(id, with_members)?);
        }
        Ok(out)
    }

    /// A page of groups in creation order with the total count.
    pub fn scim_groups_page(
        &self,
        offset: usize,
        count: usize,
        with_members: bool,
    ) -> Result<(usize, Vec<ScimGroupRecord>)> {
        let mut reader = Reader::open(self)?;
        let total = usize::try_from(reader.groups.len()?).unwrap_or(usize::MAX);
        let mut records = Vec::new();
        for row in reader.groups.iter()?.skip(offset).take(count) {
            records.push(codec::decode::<GroupRecord>("groups", row?.1.value())?);
        }
        let records = records.into_iter().map(|r| reader.group_record(r, with_members)).collect::<Result<_>>()?;
        Ok((total, records))
    }

    /// Every group, for filters no index answers and for sorting.
    pub fn scim_groups_scan(&self, with_members: bool) -> Result<Vec<ScimGroupRecord>> {
        let mut reader = Reader::open(self)?;
        let mut records = Vec::new();
        for row in reader.groups.iter()? {
            records.push(codec::decode::<GroupRecord>("groups", row?.1.value())?);
        }
        records.into_iter().map(|r| reader.group_record(r, with_members)).collect()
    }
}
