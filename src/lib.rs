//! scaidrive-connectors: keeps SMB shares and SharePoint libraries in step with the embedded ScaiDrive store.
//!
//! Data flows one way: `api` (HTTP edge) -> `actors` (decisions, runs) -> `sync` (pure engine) -> `sides`
//! (transports) -> `drive` and `store` (the embedded store). See `../shared/design/ARCHITECTURE.md`.

pub mod actors;
pub mod api;
pub mod appliance;
pub mod audit;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod drive;
/// A Microsoft Graph emulator for tests, demos and trials: `graph-emulator` serves it.
pub mod graph_emulator;
pub mod identity;
pub mod ids;
pub mod metrics;
pub mod principals;
pub mod scim;
pub mod secrets;
pub mod setup;
pub mod sides;
pub mod store;
pub mod sync;
pub mod systemd;
pub mod tls;
