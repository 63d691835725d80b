//! The ScaiDrive store's REST API (`/api/v1/shares/...`, `../shared/spec/scaidrive-store.md`). Every handler
//! checks the caller's effective access at the path it touches before calling the drive: a caller with no
//! access at all gets 404, as if the path did not exist. Drive calls block (redb, disk) and run on the
//! blocking pool.

mod access;
mod content;
mod entries;
mod history;
mod shares;

use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use super::auth::Caller;
use super::error::ApiError;
use super::{AppState, blocking, parse_id};
use crate::drive::{self, Access, Drive, DrivePath, DriveResult, Membership, Permission};
use crate::ids::{GroupId, ShareId, UserId};
use crate::principals::Principals;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(shares::routes())
        .merge(entries::routes())
        .merge(content::routes())
        .merge(history::routes())
        .merge(access::routes())
}

/// Group membership for access checks, from the principals tables. A failed lookup yields no groups: access
/// then falls to what the user holds directly, never more.
struct Members(Principals);

impl Membership for Members {
    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.0.groups_of(user).unwrap_or_else(|error| {
            tracing::error!(%error, "group lookup failed during an access check");
            Vec::new()
        })
    }
}

/// Group membership for access checks made outside this module (connectors manage their target share).
pub fn members(state: &AppState) -> impl Membership + Send + 'static {
    Members(state.principals.clone())
}

fn drive_caller(caller: &Caller) -> drive::Caller {
    drive::Caller { user: caller.user.id, admin: caller.is_admin() }
}

/// `?path=/a/b`: absolute, NFC-normalised, validated by the drive's rules.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// Absolute path inside the share, `/` separated.
    pub path: String,
}

pub fn parse_path(raw: &str) -> Result<DrivePath, ApiError> {
    DrivePath::parse(raw).map_err(ApiError::from)
}

pub fn share_id(text: &str) -> Result<ShareId, ApiError> {
    parse_id(text, "share")
}

/// Checks `needed` at `path` for the caller, then runs `op` on the drive, all on the blocking pool.
pub async fn authorized<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    share: ShareId,
    path: DrivePath,
    needed: Permission,
    op: impl FnOnce(&Drive, &DrivePath, Access) -> DriveResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let (drive, members, who) = (state.drive.clone(), Members(state.principals.clone()), drive_caller(caller));
    blocking(move || {
        let access = drive.authorize(share, &path, who, needed, &members)?;
        Ok(op(&drive, &path, access)?)
    })
    .await
}
