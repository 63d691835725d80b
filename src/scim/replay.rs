//! Test-only: replays the identity providers' request sequences in `tests/fixtures/scim/` (walked with
//! `fixture.rs`, as the appliance tests do over HTTP) through these modules with a small in-memory store, the way the HTTP layer and the SCIM actor will use them. It proves the pieces
//! fit (validation, uniqueness by folded userName, PATCH, projection, filters, errors) before any I/O exists,
//! and doubles as a sketch of the wiring for the real routes.

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use super::error::{ScimError, ScimResult};
use super::eval::{fold_case, matches};
use super::fixture::Replay;
use super::group::{MemberId, ScimGroup, ScimGroupRecord};
use super::list::{SearchRequest, list_response};
use super::members::patch_group;
use super::patch::{PatchRequest, patch_user};
use super::resource::{ScimGroupRef, ScimMeta, ScimUser, ScimUserRecord};
use super::schema::{GROUP_TYPE, USER_TYPE};
use crate::ids::{GroupId, UserId};

const BASE: &str = "https://drive.example.com/scim/v2";

struct Store {
    users: Vec<ScimUserRecord>,
    groups: Vec<ScimGroupRecord>,
    now: OffsetDateTime,
}

type Reply = (u16, Option<Value>);

impl Store {
    fn new() -> Self {
        Self { users: Vec::new(), groups: Vec::new(), now: datetime!(2026-03-01 09:00 UTC) }
    }

    fn meta(&mut self) -> ScimMeta {
        self.now += time::Duration::seconds(1);
        ScimMeta { created: self.now, last_modified: self.now, version: 1 }
    }

    fn handle(&mut self, method: &str, target: &str, body: Option<&Value>) -> Reply {
        match self.route(method, target, body) {
            Ok(reply) => reply,
            Err(e) => (e.status(), Some(e.to_json())),
        }
    }

    fn route(&mut self, method: &str, target: &str, body: Option<&Value>) -> ScimResult<Reply> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let pairs: Vec<(&str, &str)> =
            query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        let search = SearchRequest::from_query(pairs)?;
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let empty = Value::Null;
        let body = body.unwrap_or(&empty);
        match (method, segments.as_slice()) {
            ("GET", ["Users"]) => self.list_users(&search),
            ("GET", ["Groups"]) => self.list_groups(&search),
            ("GET", ["Users", id]) => {
                let json = self.user_json(self.user_index(id)?);
                Ok((200, Some(search.projection(&USER_TYPE)?.apply(&USER_TYPE, json))))
            }
            ("GET", ["Groups", id]) => {
                let json = self.groups[self.group_index(id)?].to_json(BASE);
                Ok((200, Some(search.projection(&GROUP_TYPE)?.apply(&GROUP_TYPE, json))))
            }
            ("POST", ["Users"]) => {
                let user = ScimUser::from_json(body)?;
                self.check_user_name(&user, None)?;
                let meta = self.meta();
                self.users.push(ScimUserRecord { id: UserId::new(), user, groups: Vec::new(), meta });
                Ok((201, Some(self.user_json(self.users.len() - 1))))
            }
            ("PUT", ["Users", id]) => {
                let i = self.user_index(id)?;
                let user = ScimUser::from_json(body)?;
                self.store_user(i, user)
            }
            ("PATCH", ["Users", id]) => {
                let i = self.user_index(id)?;
                let user = patch_user(&self.users[i], &PatchRequest::from_json(body)?)?;
                self.store_user(i, user)
            }
            ("DELETE", ["Users", id]) => {
                let i = self.user_index(id)?;
                let gone = MemberId::User(self.users.remove(i).id);
                for g in &mut self.groups {
                    g.group.members.retain(|m| m.id != gone);
                }
                Ok((204, None))
            }
            ("POST", ["Groups"]) => {
                let group = ScimGroup::from_json(body)?;
                self.check_group(&group, None)?;
                let meta = self.meta();
                self.groups.push(ScimGroupRecord { id: GroupId::new(), group, meta });
                Ok((201, Some(self.groups[self.groups.len() - 1].to_json(BASE))))
            }
            ("PUT", ["Groups", id]) => {
                let i = self.group_index(id)?;
                let group = ScimGroup::from_json(body)?;
                self.check_group(&group, Some(i))?;
                self.groups[i].group = group;
                Ok((200, Some(self.groups[i].to_json(BASE))))
            }
            ("PATCH", ["Groups", id]) => {
                let i = self.group_index(id)?;
                let outcome = patch_group(&self.groups[i], &PatchRequest::from_json(body)?)?;
                self.check_group(&outcome.group, Some(i))?;
                if outcome.changed(&self.groups[i].group) {
                    self.groups[i].group = outcome.group;
                    self.groups[i].meta.version += 1;
                }
                Ok((204, None))
            }
            ("DELETE", ["Groups", id]) => {
                let i = self.group_index(id)?;
                self.groups.remove(i);
                Ok((204, None))
            }
            _ => Err(ScimError::NotFound(format!("no endpoint {method} {path}"))),
        }
    }

    fn user_index(&self, id: &str) -> ScimResult<usize> {
        self.users
            .iter()
            .position(|u| u.id.to_string() == id)
            .ok_or_else(|| ScimError::NotFound(format!("no user {id}")))
    }

    fn group_index(&self, id: &str) -> ScimResult<usize> {
        self.groups
            .iter()
            .position(|g| g.id.to_string() == id)
            .ok_or_else(|| ScimError::NotFound(format!("no group {id}")))
    }

    fn check_user_name(&self, user: &ScimUser, except: Option<usize>) -> ScimResult<()> {
        let key = fold_case(&user.user_name);
        let taken =
            self.users.iter().enumerate().any(|(i, u)| Some(i) != except && fold_case(&u.user.user_name) == key);
        if taken {
            return Err(ScimError::Uniqueness(format!("userName '{}' is already taken", user.user_name)));
        }
        Ok(())
    }

    fn check_group(&self, group: &ScimGroup, except: Option<usize>) -> ScimResult<()> {
        let key = fold_case(&group.display_name);
        let taken =
            self.groups.iter().enumerate().any(|(i, g)| Some(i) != except && fold_case(&g.group.display_name) == key);
        if taken {
            return Err(ScimError::Uniqueness(format!("displayName '{}' is already taken", group.display_name)));
        }
        for m in &group.members {
            let known = match m.id {
                MemberId::User(u) => self.users.iter().any(|x| x.id == u),
                MemberId::Group(g) => self.groups.iter().any(|x| x.id == g),
            };
            if !known {
                return Err(ScimError::InvalidValue(format!("member {} does not exist", m.id)));
            }
        }
        Ok(())
    }

    fn store_user(&mut self, i: usize, user: ScimUser) -> ScimResult<Reply> {
        self.check_user_name(&user, Some(i))?;
        if self.users[i].user != user {
            self.now += time::Duration::seconds(1);
            let rec = &mut self.users[i];
            rec.user = user;
            rec.meta.version += 1;
            rec.meta.last_modified = self.now;
        }
        Ok((200, Some(self.user_json(i))))
    }

    /// The user with its derived `groups`.
    fn user_json(&self, i: usize) -> Value {
        let mut rec = self.users[i].clone();
        rec.groups = self
            .groups
            .iter()
            .filter(|g| g.group.members.iter().any(|m| m.id == MemberId::User(rec.id)))
            .map(|g| ScimGroupRef { id: g.id, display: g.group.display_name.clone() })
            .collect();
        rec.to_json(BASE)
    }

    fn list_users(&self, search: &SearchRequest) -> ScimResult<Reply> {
        let all: Vec<Value> = (0..self.users.len()).map(|i| self.user_json(i)).collect();
        list(search, &USER_TYPE, all)
    }

    fn list_groups(&self, search: &SearchRequest) -> ScimResult<Reply> {
        let all: Vec<Value> = self.groups.iter().map(|g| g.to_json(BASE)).collect();
        list(search, &GROUP_TYPE, all)
    }
}

fn list(search: &SearchRequest, rt: &'static super::schema::ResourceType, all: Vec<Value>) -> ScimResult<Reply> {
    let filter = search.filter(rt)?;
    let projection = search.projection(rt)?;
    let mut hits: Vec<Value> = all.into_iter().filter(|r| filter.as_ref().is_none_or(|f| matches(f, r, rt))).collect();
    if let Some(sort) = search.sort(rt)? {
        hits.sort_by(|a, b| sort.compare(a, b));
    }
    let page = search.page(100, 1000);
    let resources = page.slice(&hits).iter().map(|r| projection.apply(rt, r.clone())).collect();
    Ok((200, Some(list_response(hits.len(), &page, resources))))
}

fn replay(fixture: &str) {
    let mut replay = Replay::parse(fixture).expect("a fixture with steps");
    let mut store = Store::new();
    while let Some(step) = replay.next_step() {
        let (status, reply) = store.handle(&step.method, &step.path, step.body.as_ref());
        if let Err(why) = replay.check(&step, status, reply.as_ref()) {
            panic!("{why}");
        }
    }
}

#[test]
fn entra_user_lifecycle_replays() {
    replay(include_str!("../../tests/fixtures/scim/entra-user-lifecycle.json"));
}

#[test]
fn entra_group_push_replays() {
    replay(include_str!("../../tests/fixtures/scim/entra-group-push.json"));
}

#[test]
fn okta_user_lifecycle_replays() {
    replay(include_str!("../../tests/fixtures/scim/okta-user-lifecycle.json"));
}

#[test]
fn okta_group_push_replays() {
    replay(include_str!("../../tests/fixtures/scim/okta-group-push.json"));
}

#[test]
fn bad_input_gets_rfc_answers_and_changes_nothing() {
    replay(include_str!("../../tests/fixtures/scim/bad-input.json"));
}
