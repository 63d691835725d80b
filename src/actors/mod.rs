//! The supervision tree (ractor). `root` is the appliance's supervisor; each later actor (connectors,
//! scheduler, jobs, file-state, identity, SCIM, throttle) lives in its own file here, with its messages.

pub mod connector;
pub mod connectors;
pub mod identity;
pub mod retention;
pub mod root;
pub mod scheduler;
pub mod scim;
pub mod throttle;
pub mod transfer_budget;

#[cfg(test)]
mod tests;
