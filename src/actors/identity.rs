//! The Identity actor: hands each sync run that syncs permissions a fresh [`Resolver`] (the connector's
//! mappings and a snapshot of ScaiDrive's users and groups, loaded on the blocking pool).
//!
//! Why the resolver leaves the actor: resolution is per run (its cache must not outlive the mappings it was
//! built from) and pure CPU work between LSA calls, so the run owns it; the actor only does the loading, which
//! touches the store. Unmapped principals are durable rather than held here: each job stores its run's
//! report, and the per-connector view (`GET .../unmapped-principals`) is kept in the store path by path by
//! the permission pass (`identity::states`), so it survives restarts and counts every synced entry once.
//!
//! Messages: `NewResolver` (query, from a run starting its permission pass).

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::connectors::{Connector, Connectors};
use crate::identity::resolve::{Directory, Resolver};
use crate::ids::{ConnectorId, UserId};
use crate::principals::{Principals, PrincipalsError};

/// Users or groups loaded per page when the directory snapshot is built.
const PAGE: usize = 500;

/// How long the actor may take to load mappings and the directory for a run.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(60);

/// A resolver for one run of `connector` (its creator as the service-account fallback), from the actor; the
/// error is for the job when the mappings or directory cannot be loaded or the actor does not answer.
pub async fn resolver_for(identity: &ActorRef<IdentityMessage>, connector: &Connector) -> Result<Resolver, String> {
    let (id, fallback) = (connector.id, connector.created_by);
    let asked = ractor::call_t!(
        identity,
        |reply| IdentityMessage::NewResolver { connector: id, fallback, reply },
        RESOLVER_TIMEOUT.as_millis() as u64
    );
    asked.unwrap_or_else(|e| Err(format!("the identity service did not answer: {e}")))
}

pub enum IdentityMessage {
    /// A resolver for one run of `connector`; `fallback` is the connector's service-account user
    /// (`Connector::created_by`).
    NewResolver { connector: ConnectorId, fallback: Option<UserId>, reply: RpcReplyPort<Result<Resolver, String>> },
}

pub struct IdentityArgs {
    pub connectors: Connectors,
    pub principals: Principals,
}

pub struct IdentityActor;

pub struct IdentityState {
    connectors: Connectors,
    principals: Principals,
}

impl Actor for IdentityActor {
    type Msg = IdentityMessage;
    type State = IdentityState;
    type Arguments = IdentityArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: IdentityArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(IdentityState { connectors: args.connectors, principals: args.principals })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            IdentityMessage::NewResolver { connector, fallback, reply } => {
                let (connectors, principals) = (state.connectors.clone(), state.principals.clone());
                let built = tokio::task::spawn_blocking(move || {
                    let mappings = connectors.mappings(connector).map_err(|e| e.to_string())?;
                    let directory = load_directory(&principals).map_err(|e| e.to_string())?;
                    Ok(Resolver::new(&mappings, directory, fallback))
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                // The run may have been cancelled meanwhile; nothing to do then.
                let _ = reply.send(built);
            }
        }
        Ok(())
    }
}

/// Every user and group, page by page (blocking: call on the blocking pool).
pub fn load_directory(principals: &Principals) -> Result<Directory, PrincipalsError> {
    let (mut users, mut after) = (Vec::new(), None);
    loop {
        let (page, next) = principals.list_users(after, PAGE)?;
        users.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let (mut groups, mut after) = (Vec::new(), None);
    loop {
        let (page, next) = principals.list_groups(after, PAGE)?;
        groups.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(Directory::new(&users, &groups))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ractor::call_t;
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::drive::PrincipalId;
    use crate::principals::{Acting, NewUser};
    use crate::secrets::Sealer;
    use crate::sides::smb::acl::NtAcl;
    use crate::sides::smb::lsa::{LookedUpName, Sid, SidKind};
    use crate::store::Store;

    #[tokio::test]
    async fn a_run_gets_a_resolver_over_the_current_users() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb")).expect("store");
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let principals = Principals::new(store.clone(), clock.clone());
        let connectors = Connectors::new(store, Arc::new(Sealer::from_key(&[7; 32])), clock);
        let alice = principals.create_user(&Acting::system(), NewUser::named("alice")).expect("alice");
        let (actor, handle) =
            Actor::spawn(None, IdentityActor, IdentityArgs { connectors, principals: principals.clone() })
                .await
                .expect("spawn");
        let connector = ConnectorId::new();
        let service = UserId::new();

        let mut resolver =
            call_t!(actor, |reply| IdentityMessage::NewResolver { connector, fallback: Some(service), reply }, 5000)
                .expect("call")
                .expect("resolver");
        let sid: Sid = "S-1-5-21-1-2-3-1000".parse().expect("sid");
        let ghost: Sid = "S-1-5-21-1-2-3-1001".parse().expect("sid");
        resolver.learn_names(
            std::slice::from_ref(&sid),
            vec![Some(LookedUpName { kind: SidKind::User, domain: "CORP".into(), name: "Alice".into() })],
        );
        assert_eq!(resolver.map_sid(&sid), Some(PrincipalId::User(alice.id)), "a user created before the run is found");
        let orphan = NtAcl {
            owner: Some(ghost.clone()),
            group: None,
            dacl: Some(vec![]),
            dacl_protected: false,
            dacl_auto_inherited: false,
        };
        assert_eq!(resolver.translate(&orphan, None).owner, Some(PrincipalId::User(service)));

        assert_eq!(resolver.report().to_list()[0].principal, "S-1-5-21-1-2-3-1001");
        actor.stop(None);
        handle.await.expect("stopped");
    }
}
