//! The SCIM actor: performs every SCIM write (create, replace, patch, delete of users and groups) through
//! `Principals`, one at a time, on the blocking pool. The `/scim/v2` routes send it a `Write` and await the
//! answer; reads go straight to the store. Doing the writes in one place orders them: two identity-provider
//! requests for the same userName meet the uniqueness check one after the other, never in parallel.
//! Each write records its `scim.*` audit event (actor: the SCIM token) in its own transaction.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::ids::{GroupId, UserId};
use crate::principals::{Acting, Principals, ScimStoreError};
use crate::scim::group::{ScimGroup, ScimGroupRecord};
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{ScimUser, ScimUserRecord};

pub enum ScimMessage {
    /// Performs one write for `acting` (the SCIM token and its owner's role).
    Write { acting: Acting, write: ScimWrite, reply: RpcReplyPort<Result<ScimWritten, ScimStoreError>> },
}

/// One SCIM write, of a user or of a group.
pub enum ScimWrite {
    User(ScimOp<UserId, ScimUser>),
    Group(ScimOp<GroupId, ScimGroup>),
}

/// What a SCIM write does to one resource. `if_match` is the request's `If-Match` header (412 when it names
/// another version).
pub enum ScimOp<Id, Input> {
    Create(Input),
    Replace { id: Id, input: Input, if_match: Option<String> },
    Patch { id: Id, patch: PatchRequest, if_match: Option<String> },
    Delete { id: Id, if_match: Option<String> },
}

/// What a write leaves behind: the resource as stored now, or nothing (deletes, group PATCH).
#[derive(Debug)]
pub enum ScimWritten {
    User(ScimUserRecord),
    Group(ScimGroupRecord),
    Done,
}

pub struct ScimActor;

pub struct ScimState {
    principals: Principals,
}

impl Actor for ScimActor {
    type Msg = ScimMessage;
    type State = ScimState;
    type Arguments = Principals;

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        principals: Principals,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ScimState { principals })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ScimMessage::Write { acting, write, reply } => {
                let principals = state.principals.clone();
                let done = tokio::task::spawn_blocking(move || perform(&principals, &acting, write)).await;
                let answer = done.unwrap_or_else(|e| Err(ScimStoreError::Aborted(e.to_string())));
                // The caller may have given up waiting; the write stands either way.
                let _ = reply.send(answer);
            }
        }
        Ok(())
    }
}

fn perform(p: &Principals, acting: &Acting, write: ScimWrite) -> Result<ScimWritten, ScimStoreError> {
    Ok(match write {
        ScimWrite::User(ScimOp::Create(user)) => ScimWritten::User(p.scim_create_user(acting, &user)?),
        ScimWrite::User(ScimOp::Replace { id, input, if_match }) => {
            ScimWritten::User(p.scim_replace_user(acting, id, &input, if_match.as_deref())?)
        }
        ScimWrite::User(ScimOp::Patch { id, patch, if_match }) => {
            ScimWritten::User(p.scim_patch_user(acting, id, &patch, if_match.as_deref())?)
        }
        ScimWrite::User(ScimOp::Delete { id, if_match }) => {
            p.scim_delete_user(acting, id, if_match.as_deref())?;
            ScimWritten::Done
        }
        ScimWrite::Group(ScimOp::Create(group)) => ScimWritten::Group(p.scim_create_group(acting, &group)?),
        ScimWrite::Group(ScimOp::Replace { id, input, if_match }) => {
            ScimWritten::Group(p.scim_replace_group(acting, id, &input, if_match.as_deref())?)
        }
        ScimWrite::Group(ScimOp::Patch { id, patch, if_match }) => {
            p.scim_patch_group(acting, id, &patch, if_match.as_deref())?;
            ScimWritten::Done
        }
        ScimWrite::Group(ScimOp::Delete { id, if_match }) => {
            p.scim_delete_group(acting, id, if_match.as_deref())?;
            ScimWritten::Done
        }
    })
}
