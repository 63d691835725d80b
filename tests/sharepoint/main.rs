//! The SharePoint test binary: the Graph emulator driven over HTTP as Graph's clients would drive the real
//! service (`emulator`), and the SharePoint side against it (`side`: conformance, auth, throttling, delta,
//! uploads, check-outs; `engine`: full engine runs against an in-memory drive), and the SharePoint connector
//! through the appliance's HTTP API (`connector`: configuration and sign-in; `connector_sync`: runs).

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/engine_run.rs"]
mod engine_run;

mod connector;
mod connector_extras;
mod connector_sync;
mod emulator;
mod engine;
mod extras;
mod fixture;
mod side;
