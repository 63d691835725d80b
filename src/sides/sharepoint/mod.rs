//! The SharePoint side: Microsoft Graph client, OAuth, delta, wire types and content hash.
//!
//! Layout (rclone `backend/onedrive` shape): `auth.rs` tokens, `client.rs` requests and the one failure
//! classifier, `wire.rs` Graph's JSON, `delta.rs` change detection and the kept item tree, `content.rs`
//! downloads and uploads, `side.rs` the engine's `Side`, `quickxor.rs` the hash.

pub mod auth;
pub mod client;
pub mod content;
pub mod delta;
pub mod extras;
pub mod extras_state;
pub mod fields;
pub mod permissions;
pub mod quickxor;
pub mod side;
pub mod versions;
pub mod wire;

pub use auth::{AuthConfig, Credential, Grant, TokenSource};
pub use client::{GraphClient, Sleeper, TokioSleeper};
pub use delta::{DeltaReport, DeltaState};
pub use side::{SharePointOptions, SharePointSide};
