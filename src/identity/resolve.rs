//! Who a source principal is in ScaiDrive: explicit mapping, then email, then display name, then the fallback.
//!
//! One [`Resolver`] serves one run: it holds the connector's mappings, a snapshot of ScaiDrive's users and groups
//! ([`Directory`]), the names LSA returned for SIDs, a cache of every answer, and the run's
//! [`UnmappedReport`]. It does no I/O itself: the run asks [`Resolver::unknown_sids`], looks those up over LSA
//! (`sides::smb::lsa`), and hands the answers to [`Resolver::learn_names`]. A server that refuses the lookup
//! ([`Resolver::lookups_refused`]) still syncs: only SID-keyed explicit mappings can match then.
//!
//! - **Explicit**: a mapping whose `smb_principal` is the SID (case-insensitive), or `DOMAIN\name` equal to the
//!   name LSA gave for it (case-insensitive).
//! - **Email**: where the source gives one (SharePoint's `mail`; an SMB account name of the form `user@domain`, a
//!   UPN), the one user with that email (case-insensitive).
//! - **Name**: the account or display name, normalised (case, and runs of spaces, dots, underscores and dashes
//!   count as one space), against users' `user_name` and `display_name` and groups' `display_name`. Two or more
//!   different principals matching is ambiguous: not mapped, reported with the candidates.
//! - **Fallback**: the connector's service account, represented in ScaiDrive by the user who created the
//!   connector (`Connector::created_by`); `None` when a system token created it, and files then have no owner.
//!   It owns what no mapped user owns and takes unmapped principals' allows (never their denies): `translate`
//!   documents why; SharePoint's translation follows the same rule.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::translate::{self, Translation, Warning};
use crate::connectors::mappings::{IdentityMapping, is_sid};
use crate::drive::{Ace, PrincipalId};
use crate::ids::UserId;
use crate::principals::{Group, User};
use crate::sides::smb::acl::NtAcl;
use crate::sides::smb::lsa::{LookedUpName, Sid};

/// How a principal was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Explicit,
    Email,
    Name,
}

/// What the source says about a principal (SharePoint passes its own; SMB's come from SIDs and LSA).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcePrincipal {
    /// The SID, or the Entra object id.
    pub key: String,
    /// `DOMAIN\name` as the server spells it.
    pub account: Option<String>,
    /// The bare account or display name.
    pub name: Option<String>,
    pub email: Option<String>,
    pub group: bool,
}

/// Users and groups of ScaiDrive, indexed for matching.
#[derive(Debug, Default)]
pub struct Directory {
    by_email: HashMap<String, Vec<PrincipalId>>,
    by_name: HashMap<String, Vec<PrincipalId>>,
    /// Digest of everything matching looks at (see [`Resolver::fingerprint`]).
    digest: Sha256,
}

/// Feeds strings into a digest, each ended by a byte no string holds, so `("ab", "c")` and `("a", "bc")` differ.
fn feed<'a>(digest: &mut Sha256, parts: impl IntoIterator<Item = &'a str>) {
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0xff]);
    }
}

/// Lower case, and runs of whitespace, `.`, `_` and `-` as one space: `John.Smith` and `john  smith` meet.
pub fn normalise(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    lower
        .split(|c: char| c.is_whitespace() || matches!(c, '.' | '_' | '-'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Directory {
    pub fn new(users: &[User], groups: &[Group]) -> Self {
        let mut d = Directory::default();
        for u in users {
            let p = PrincipalId::User(u.id);
            let id = p.to_string();
            feed(&mut d.digest, [id.as_str(), u.email.as_deref().unwrap_or(""), &u.user_name, &u.display_name]);
            if let Some(email) = &u.email {
                push_unique(d.by_email.entry(email.trim().to_lowercase()).or_default(), p);
            }
            for n in [&u.user_name, &u.display_name] {
                push_unique(d.by_name.entry(normalise(n)).or_default(), p);
            }
        }
        for g in groups {
            feed(&mut d.digest, [g.id.to_string().as_str(), &g.display_name]);
            push_unique(d.by_name.entry(normalise(&g.display_name)).or_default(), PrincipalId::Group(g.id));
        }
        d
    }
}

fn push_unique(v: &mut Vec<PrincipalId>, p: PrincipalId) {
    if !v.contains(&p) {
        v.push(p);
    }
}

/// Why a principal was not mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedReason {
    /// Nothing matched.
    NoMatch,
    /// Several ScaiDrive principals matched the name.
    Ambiguous,
    /// Everyone, Authenticated Users or BUILTIN\Users: ScaiDrive has no "all users"; map the SID to a group.
    AllUsers,
}

/// One principal a run could not map, with how often it came up (files whose owner or ACEs named it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnmappedPrincipal {
    /// The SID (or Entra object id).
    pub principal: String,
    /// `DOMAIN\name` when the server told us.
    pub name: Option<String>,
    pub reason: UnmappedReason,
    /// For `ambiguous`: the ScaiDrive principals that matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    pub count: u64,
    /// How many of those were file owners (which fell back to the service account).
    pub owner_count: u64,
}

/// Unmapped principals with the number of entries naming each: of one entry, of a run (stored with its job),
/// or of every synced entry of a connector (the per-connector view, kept up to date entry by entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmappedReport(BTreeMap<String, UnmappedPrincipal>);

impl UnmappedReport {
    /// Notes `key` for one entry: an entry counts once however many of its ACEs name the principal.
    fn note(&mut self, key: &str, name: Option<String>, reason: UnmappedReason, candidates: Vec<String>, owner: bool) {
        let e = self.0.entry(key.to_owned()).or_insert(UnmappedPrincipal {
            principal: key.to_owned(),
            name,
            reason,
            candidates,
            count: 1,
            owner_count: 0,
        });
        e.owner_count = e.owner_count.max(u64::from(owner));
    }

    /// Takes another report's counts away (an entry translated again no longer counts what it counted before);
    /// principals left with no count are gone.
    pub fn subtract(&mut self, other: &UnmappedReport) {
        for (k, v) in &other.0 {
            if let Some(mine) = self.0.get_mut(k) {
                mine.count = mine.count.saturating_sub(v.count);
                mine.owner_count = mine.owner_count.saturating_sub(v.owner_count);
                if mine.count == 0 {
                    self.0.remove(k);
                }
            }
        }
    }

    /// Adds another report's counts (the latest name, reason and candidates win).
    pub fn merge(&mut self, other: &UnmappedReport) {
        for (k, v) in &other.0 {
            match self.0.get_mut(k) {
                Some(mine) => {
                    mine.count += v.count;
                    mine.owner_count += v.owner_count;
                    (mine.name, mine.reason, mine.candidates) = (v.name.clone(), v.reason, v.candidates.clone());
                }
                None => {
                    self.0.insert(k.clone(), v.clone());
                }
            }
        }
    }

    /// Most frequent first, then by principal.
    pub fn to_list(&self) -> Vec<UnmappedPrincipal> {
        let mut v: Vec<_> = self.0.values().cloned().collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.principal.cmp(&b.principal)));
        v
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One principal's row.
    pub fn get(&self, principal: &str) -> Option<&UnmappedPrincipal> {
        self.0.get(principal)
    }
}

/// The outcome of one lookup, cached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Mapped(PrincipalId, Via),
    Unmapped(UnmappedReason, Vec<String>),
}

/// One run's resolution state (see the module docs).
#[derive(Debug)]
pub struct Resolver {
    by_sid: HashMap<String, PrincipalId>,
    by_account: HashMap<String, PrincipalId>,
    directory: Directory,
    fallback: Option<PrincipalId>,
    names: HashMap<Sid, Option<LookedUpName>>,
    refused: Option<String>,
    cache: HashMap<String, Outcome>,
    report: UnmappedReport,
    fingerprint: [u8; 32],
}

impl Resolver {
    /// `mappings` of the connector; `fallback`: the service account's ScaiDrive user (see the module docs).
    pub fn new(mappings: &[IdentityMapping], directory: Directory, fallback: Option<UserId>) -> Self {
        let (mut by_sid, mut by_account) = (HashMap::new(), HashMap::new());
        let mut digest = directory.digest.clone();
        feed(&mut digest, [fallback.map(|f| f.to_string()).unwrap_or_default().as_str()]);
        for m in mappings {
            feed(&mut digest, [m.smb_principal.as_str(), &m.scaidrive_principal_id]);
            let Ok(p) = m.scaidrive_principal_id.parse::<PrincipalId>() else { continue };
            if is_sid(&m.smb_principal) {
                by_sid.insert(m.smb_principal.to_uppercase(), p);
            } else {
                by_account.insert(m.smb_principal.to_lowercase(), p);
            }
        }
        Resolver {
            by_sid,
            by_account,
            directory,
            fallback: fallback.map(PrincipalId::User),
            names: HashMap::new(),
            refused: None,
            cache: HashMap::new(),
            report: UnmappedReport::default(),
            fingerprint: digest.finalize().into(),
        }
    }

    /// A digest of everything resolution depends on besides the names LSA gives: the mappings, ScaiDrive's
    /// users and groups as matching sees them, and the fallback. Equal fingerprints resolve every SID alike, so
    /// a run that sees the last run's fingerprint only translates entries whose ACL changed; another one
    /// translates every stored ACL again (a mapping added later takes effect without reading any ACL).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The SIDs of `acl` worth an LSA lookup: not seen yet, not mapped by SID, and lookups not refused.
    pub fn unknown_sids(&self, acl: &NtAcl) -> Vec<Sid> {
        if self.refused.is_some() {
            return Vec::new();
        }
        let mut out: Vec<Sid> = sids_of(acl)
            .filter(|s| !self.names.contains_key(s) && !self.by_sid.contains_key(&s.to_string().to_uppercase()))
            .filter(|s| translate::well_known(s).is_none())
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// LSA's answers for `sids` (`None`: the server does not know the SID).
    pub fn learn_names(&mut self, sids: &[Sid], names: Vec<Option<LookedUpName>>) {
        for (sid, name) in sids.iter().zip(names) {
            self.cache.remove(&sid.to_string());
            self.names.insert(sid.clone(), name);
        }
    }

    /// The server refused LSA lookups: from now on only SID-keyed mappings match. `reason` goes to the job log.
    pub fn lookups_refused(&mut self, reason: String) {
        self.refused = Some(reason);
    }

    /// Why lookups were refused, if they were.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// The ScaiDrive principal of `sid` (explicit, email or name), cached; never the fallback.
    pub fn map_sid(&mut self, sid: &Sid) -> Option<PrincipalId> {
        let key = sid.to_string();
        if !self.cache.contains_key(&key) {
            let looked_up = self.names.get(sid).cloned().flatten();
            let source = SourcePrincipal {
                account: looked_up.as_ref().filter(|n| !n.domain.is_empty()).map(LookedUpName::full_name),
                name: looked_up.as_ref().map(|n| n.name.clone()),
                email: looked_up.as_ref().filter(|n| n.name.contains('@')).map(|n| n.name.clone()),
                group: looked_up.as_ref().is_some_and(|n| n.kind.is_group()),
                key: key.clone(),
            };
            let outcome = self.outcome(&source, translate::well_known(sid) == Some(translate::WellKnown::AllUsers));
            self.cache.insert(key.clone(), outcome);
        }
        match self.cache.get(&key) {
            Some(Outcome::Mapped(p, _)) => Some(*p),
            _ => None,
        }
    }

    /// The ScaiDrive principal of a source principal that carries its own names (SharePoint), cached.
    pub fn resolve(&mut self, source: &SourcePrincipal) -> Option<(PrincipalId, Via)> {
        if !self.cache.contains_key(&source.key) {
            let outcome = self.outcome(source, false);
            self.cache.insert(source.key.clone(), outcome);
        }
        match self.cache.get(&source.key) {
            Some(Outcome::Mapped(p, via)) => Some((*p, *via)),
            _ => None,
        }
    }

    fn outcome(&self, s: &SourcePrincipal, all_users: bool) -> Outcome {
        if let Some(p) = self.by_sid.get(&s.key.to_uppercase()) {
            return Outcome::Mapped(*p, Via::Explicit);
        }
        if let Some(p) = s.account.as_ref().and_then(|a| self.by_account.get(&a.to_lowercase())) {
            return Outcome::Mapped(*p, Via::Explicit);
        }
        if all_users {
            return Outcome::Unmapped(UnmappedReason::AllUsers, Vec::new());
        }
        let by_email = s.email.as_ref().and_then(|e| self.directory.by_email.get(&e.trim().to_lowercase()));
        if let Some([p]) = by_email.map(Vec::as_slice) {
            return Outcome::Mapped(*p, Via::Email);
        }
        let Some(name) = s.name.as_deref().map(normalise).filter(|n| !n.is_empty()) else {
            return Outcome::Unmapped(UnmappedReason::NoMatch, Vec::new());
        };
        // A group name matches groups only, a user name users only.
        let found: Vec<PrincipalId> = self
            .directory
            .by_name
            .get(&name)
            .map(|v| v.iter().copied().filter(|p| matches!(p, PrincipalId::Group(_)) == s.group).collect())
            .unwrap_or_default();
        match found.as_slice() {
            [] => Outcome::Unmapped(UnmappedReason::NoMatch, Vec::new()),
            [p] => Outcome::Mapped(*p, Via::Name),
            many => Outcome::Unmapped(UnmappedReason::Ambiguous, many.iter().map(ToString::to_string).collect()),
        }
    }

    /// Translates one object's ACL with this run's mappings, counts its unmapped principals, and puts the
    /// fallback in place of an unmapped owner and unmapped allows (the warnings stay for the job log).
    pub fn translate(&mut self, acl: &NtAcl, parent: Option<&[Ace]>) -> Translation {
        self.translate_entry(acl, parent).0
    }

    /// [`Resolver::translate`], with the entry's own unmapped principals (each counted once).
    pub fn translate_entry(&mut self, acl: &NtAcl, parent: Option<&[Ace]>) -> (Translation, UnmappedReport) {
        let mut entry = UnmappedReport::default();
        let sids: Vec<Sid> = sids_of(acl).cloned().collect();
        let mapped: HashMap<Sid, PrincipalId> =
            sids.iter().filter_map(|s| self.map_sid(s).map(|p| (s.clone(), p))).collect();
        let mut t = translate::translate(acl, &|s: &Sid| mapped.get(s).copied(), self.fallback, parent);
        for w in &t.warnings {
            let (sid, owner) = match w {
                Warning::UnmappedOwner { sid: Some(sid) } => (sid, true),
                Warning::UnmappedAllow { sid } | Warning::DenyAppliedToAll { sid } => (sid, false),
                Warning::AllUsersNotGranted { sid: Some(sid) } => (sid, false),
                _ => continue,
            };
            if translate::well_known(sid) == Some(translate::WellKnown::OwnerRights) {
                continue; // the owner itself is what is missing, and it is counted as such
            }
            let key = sid.to_string();
            let (reason, candidates) = match self.cache.get(&key) {
                Some(Outcome::Unmapped(reason, candidates)) => (*reason, candidates.clone()),
                _ => (UnmappedReason::NoMatch, Vec::new()),
            };
            let name = self.names.get(sid).cloned().flatten().map(|n| n.full_name());
            entry.note(&key, name, reason, candidates, owner);
        }
        self.report.merge(&entry);
        if t.owner.is_none() {
            t.owner = self.fallback;
        }
        (t, entry)
    }

    /// The service account's ScaiDrive user: the owner of whatever no mapped user owns.
    pub fn fallback_user(&self) -> Option<UserId> {
        match self.fallback {
            Some(PrincipalId::User(user)) => Some(user),
            _ => None,
        }
    }

    /// The run's unmapped principals so far.
    pub fn report(&self) -> &UnmappedReport {
        &self.report
    }

    /// Like [`Resolver::resolve`], and counts the principal in the run's report when it cannot be mapped
    /// (`owner`: it was asked for as an owner or author, which then falls back). SharePoint's per-entry pass
    /// (`sides::sharepoint::permissions`) resolves through this.
    pub fn resolve_reported(&mut self, source: &SourcePrincipal, owner: bool) -> Option<PrincipalId> {
        if let Some((p, _)) = self.resolve(source) {
            return Some(p);
        }
        let (reason, candidates) = match self.cache.get(&source.key) {
            Some(Outcome::Unmapped(reason, candidates)) => (*reason, candidates.clone()),
            _ => (UnmappedReason::NoMatch, Vec::new()),
        };
        let name = source.name.clone().or_else(|| source.email.clone());
        self.report.note(&source.key, name, reason, candidates, owner);
        None
    }

    /// The connector's service account in ScaiDrive, if it has one (see the module docs).
    pub fn fallback(&self) -> Option<PrincipalId> {
        self.fallback
    }
}

fn sids_of(acl: &NtAcl) -> impl Iterator<Item = &Sid> {
    acl.owner.iter().chain(acl.dacl.iter().flatten().filter_map(|a| a.sid.as_ref()))
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
