//! The three-way reconcile: source listing, drive listing and base records in, a [`Plan`] out. Pure: no I/O, no
//! clock; the same inputs always give the same plan.
//!
//! The streams are merged in step ([`super::merge::march`]). Rows whose entries are as the base recorded them
//! cost a comparison and are dropped at once, so memory follows the number of changes. Rows that may be half of
//! a rename (a base whose entry vanished from a side; an entry new on one side) are set aside, because their
//! other half can come anywhere later in the walk; at the end they are paired by identity (see `renames.rs`),
//! and the unpaired ones are decided as creates and deletes. With an empty base (a first sync) nothing can be a
//! rename, and new entries are decided as the walk goes; nothing can be deleted either (a path with no base record
//! never is), so those decisions are final at once and a run may carry them out in parts while the walk goes on
//! ([`Reconciling::take_part`]): memory then follows the part, not the tree. Names that cannot cross (refused by the destination, or
//! colliding in case on a case-insensitive destination) are checked when every spelling in the name's fold group
//! is known.

use std::collections::HashMap;

use futures::Stream;
use futures::stream;
use unicode_normalization::UnicodeNormalization;

use crate::ids::ConflictId;

use super::config::RunConfig;
use super::decide::{Decision, Row, decide};
use super::entry::{BaseRecord, Entry, Kind, SideId};
use super::filters::{FilterError, Filters, Skip};
use super::merge::{Merge, MergeError};
use super::names::{NamingRules, is_temp_name};
use super::path::SyncPath;
use super::plan::{Action, Plan, Report, ReportKind};
use super::side::SideError;
use super::spelling::{Respelled, merge_spellings, same_nfc};

/// Everything the reconcile needs besides the three streams.
pub struct Context {
    pub config: RunConfig,
    pub filters: Filters,
    pub source_naming: NamingRules,
    pub drive_naming: NamingRules,
    /// Paths with an open MANUAL conflict: frozen until an admin resolves them or both sides agree.
    pub open_conflicts: HashMap<SyncPath, ConflictId>,
    /// Actions a first sync hands over at once to be carried out while the walk goes on.
    pub part_actions: usize,
}

/// Actions per part of a first sync: enough for the executor's stretches of concurrent copies, few enough that
/// a part's entries weigh little (about 300 KiB).
pub const PART_ACTIONS: usize = 1024;

impl Context {
    pub fn new(
        config: RunConfig,
        source_naming: NamingRules,
        drive_naming: NamingRules,
        open_conflicts: HashMap<SyncPath, ConflictId>,
    ) -> Result<Self, FilterError> {
        let s = &config.settings;
        let filters = Filters::new(&s.include_patterns, &s.exclude_patterns, s.sync_hidden_files, s.sync_system_files)?;
        Ok(Self { config, filters, source_naming, drive_naming, open_conflicts, part_actions: PART_ACTIONS })
    }

    pub(super) fn naming(&self, side: SideId) -> &NamingRules {
        match side {
            SideId::Source => &self.source_naming,
            SideId::Drive => &self.drive_naming,
        }
    }

    /// Decides a row; a path with an open conflict stays frozen unless both sides now agree.
    pub fn decide(&self, row: &Row) -> Decision {
        let decision = decide(row, self.config.direction, self.config.strategy);
        match decision {
            Decision::Act(Action::Record { .. }) | Decision::NeedHash(_) => decision,
            _ if row.conflict.is_some() => Decision::Report(ReportKind::ConflictPending, None),
            _ => decision,
        }
    }
}

/// Reconciles listings held in memory (tests, benchmarks). Same result as [`reconcile_streams`].
pub fn reconcile(
    source: impl IntoIterator<Item = Entry>,
    drive: impl IntoIterator<Item = Entry>,
    base: impl IntoIterator<Item = BaseRecord>,
    ctx: &Context,
) -> Result<Plan, MergeError> {
    let source = stream::iter(source.into_iter().map(Ok::<_, SideError>));
    let drive = stream::iter(drive.into_iter().map(Ok::<_, SideError>));
    let base = stream::iter(base.into_iter().map(Ok::<_, std::convert::Infallible>));
    // Every stream is always ready, so this never parks the thread.
    futures::executor::block_on(reconcile_streams(source, drive, base, ctx))
}

/// Reconciles three sorted streams into a plan.
pub async fn reconcile_streams<SS, DS, BS, BE>(
    source: SS,
    drive: DS,
    base: BS,
    ctx: &Context,
) -> Result<Plan, MergeError>
where
    SS: Stream<Item = Result<Entry, SideError>> + Unpin,
    DS: Stream<Item = Result<Entry, SideError>> + Unpin,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
{
    Reconciling::start(source, drive, base, ctx).await?.finish().await
}

/// A reconcile under way: the walk, and what it decided so far.
pub struct Reconciling<'c, SS, DS, BS> {
    merge: Merge<SS, DS, BS>,
    reconciler: Reconciler<'c>,
}

impl<'c, SS, DS, BS, BE> Reconciling<'c, SS, DS, BS>
where
    SS: Stream<Item = Result<Entry, SideError>> + Unpin,
    DS: Stream<Item = Result<Entry, SideError>> + Unpin,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
{
    pub async fn start(source: SS, drive: DS, base: BS, ctx: &'c Context) -> Result<Self, MergeError> {
        let merge = Merge::start(source, drive, base).await?;
        let mut reconciler = Reconciler::new(ctx);
        reconciler.base_seen = !merge.base_is_empty();
        Ok(Self { merge, reconciler })
    }

    /// True for a first sync (the base is empty): no entry can be half of a rename and nothing can be deleted,
    /// so each action is final once decided and parts may be carried out before the walk ends. (With a base, a
    /// move found at the end of the walk must run before everything else, and the safety guard must see every
    /// delete first.)
    pub fn streams(&self) -> bool {
        !self.reconciler.base_seen
    }

    /// Walks on until a part's worth of actions waits (`true`) or the walk ends (`false`).
    pub async fn advance(&mut self) -> Result<bool, MergeError> {
        let limit = self.reconciler.ctx.part_actions.max(1);
        while self.reconciler.plan.actions.len() < limit {
            if !self.step().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The actions and reports decided so far (in path order: the walk's), with the counts so far. Only for a
    /// first sync ([`Reconciling::streams`]): moves and deletes never come there, and rows waiting for hashes stay
    /// for the end.
    pub fn take_part(&mut self) -> Plan {
        let plan = &mut self.reconciler.plan;
        let mut part = Plan {
            actions: std::mem::take(&mut plan.actions),
            reports: std::mem::take(&mut plan.reports),
            stats: plan.stats,
            ..Plan::default()
        };
        part.order();
        self.reconciler.drop_passed_claims();
        part
    }

    /// Walks to the end and decides what was set aside: the plan of everything not taken as a part.
    pub async fn finish(mut self) -> Result<Plan, MergeError> {
        while self.step().await? {}
        Ok(self.reconciler.finish())
    }

    /// Takes in the next path; `false` at the end of the walk.
    async fn step(&mut self) -> Result<bool, MergeError> {
        match self.merge.next().await? {
            Some((s, d, b)) => {
                self.reconciler.push(s, d, b);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Decides a row that was waiting for hashes, once they are filled in.
pub fn settle(plan: &mut Plan, row: Row, ctx: &Context) {
    let decision = ctx.decide(&row);
    apply(plan, row, decision);
}

/// Untracked paths reported one by one; beyond this only counted, so a one-way mirror beside a large untracked
/// tree keeps memory and the job log small.
pub const UNTRACKED_REPORTED: u64 = 1000;

fn apply(plan: &mut Plan, row: Row, decision: Decision) {
    match decision {
        Decision::Nothing => {}
        Decision::Act(action) => plan.push(action),
        Decision::Report(ReportKind::Untracked, side) => {
            plan.stats.untracked += 1;
            if plan.stats.untracked <= UNTRACKED_REPORTED {
                plan.reports.push(Report { path: row.path().clone(), side, kind: ReportKind::Untracked });
            }
        }
        Decision::Report(kind, side) => plan.reports.push(Report { path: row.path().clone(), side, kind }),
        Decision::NeedHash(_) => plan.pending.push(row),
    }
}

/// A folder whose content is not walked this run.
struct Prune {
    path: SyncPath,
    /// Filtered out: base records under it are forgotten.
    forget: bool,
}

/// A row set aside until the end of the walk, with what its fold group looked like.
pub(super) struct Deferred {
    pub(super) row: Row,
    /// Another spelling of the same name is present on [source, drive].
    pub(super) occupied: [bool; 2],
}

pub(super) fn slot(side: SideId) -> usize {
    match side {
        SideId::Source => 0,
        SideId::Drive => 1,
    }
}

pub(super) struct Reconciler<'c> {
    pub(super) ctx: &'c Context,
    pub(super) plan: Plan,
    /// Rows whose paths are equal after case folding, waiting for the group to end.
    group: Vec<Row>,
    prune: Vec<Prune>,
    deferred: Vec<Deferred>,
    /// Fold groups listed under more than one spelling, with the spelling each side holds: a path under the
    /// other spelling cannot be created on a case-insensitive side.
    twins: HashMap<String, [Option<SyncPath>; 2]>,
    /// Spellings this plan creates on each case-insensitive side (targets and the parents they bring along).
    claimed: [HashMap<String, SyncPath>; 2],
    /// False when the base is empty: no entry can be half of a rename.
    base_seen: bool,
    /// Drive folders spelled otherwise than the source's (NFC against NFD), whose content follows the source's.
    respelled_folders: Respelled,
}

impl<'c> Reconciler<'c> {
    fn new(ctx: &'c Context) -> Self {
        Self {
            ctx,
            plan: Plan::default(),
            group: Vec::new(),
            prune: Vec::new(),
            deferred: Vec::new(),
            twins: HashMap::new(),
            claimed: [HashMap::new(), HashMap::new()],
            base_seen: true,
            respelled_folders: Respelled::default(),
        }
    }

    fn push(&mut self, source: Option<Entry>, drive: Option<Entry>, base: Option<BaseRecord>) {
        let stats = &mut self.plan.stats;
        stats.source_listed += u64::from(source.is_some());
        stats.drive_listed += u64::from(drive.is_some());
        stats.base_records += u64::from(base.is_some());
        let row = Row::new(source, drive, base);
        if row.source.is_none() && row.drive.is_none() && row.base.is_none() {
            return;
        }
        if is_temp_name(row.path()) {
            return;
        }
        if self.group.first().is_some_and(|first| first.path().folded() != row.path().folded()) {
            self.flush_group();
        }
        self.group.push(row);
    }

    fn flush_group(&mut self) {
        if self.group.len() == 1 {
            // One spelling: nothing to compare with (the common case; no allocation).
            if let Some(mut row) = self.group.pop() {
                if self.ctx.drive_naming.nfc {
                    self.respelled_folders.carry(&mut row);
                }
                self.consider(row, [false, false], None);
            }
            return;
        }
        let mut group = std::mem::take(&mut self.group);
        let respelled = if self.ctx.drive_naming.nfc {
            for row in group.iter_mut() {
                self.respelled_folders.carry(row);
            }
            merge_spellings(&mut group, &mut self.respelled_folders)
        } else {
            vec![None; group.len()]
        };
        if group.len() > 1 {
            let spelling = |side: SideId| group.iter().find_map(|r| r.entry(side).map(|e| e.path.clone()));
            let spellings = [spelling(SideId::Source), spelling(SideId::Drive)];
            self.twins.insert(group[0].path().folded().to_owned(), spellings);
        }
        let occupied: Vec<[bool; 2]> = if group.len() > 1 {
            // On a case-insensitive side any other spelling occupies the name; on a case-sensitive side that
            // stores NFC only another spelling of the same NFC name does (rows the merge could not join: the
            // source holds both spellings as two files).
            let counts = |side: SideId, r: &Row, i: usize| {
                let rules = self.ctx.naming(side);
                rules.case_insensitive || (rules.nfc && same_nfc(r.path(), group[i].path()))
            };
            (0..group.len())
                .map(|i| {
                    let others = || group.iter().enumerate().filter(move |(j, _)| *j != i).map(|(_, r)| r);
                    [
                        others().any(|r| r.source.is_some() && counts(SideId::Source, r, i)),
                        others().any(|r| r.drive.is_some() && counts(SideId::Drive, r, i)),
                    ]
                })
                .collect()
        } else {
            vec![[false, false]]
        };
        for ((row, occupied), respelled) in group.drain(..).zip(occupied).zip(respelled) {
            self.consider(row, occupied, respelled);
        }
        // Keep the buffer's allocation for the next group.
        self.group = group;
    }

    /// Decides one row, or sets it aside. `respelled`: the base record was kept under another spelling of the
    /// row's path (see `spelling.rs`); it moves to the row's.
    fn consider(&mut self, mut row: Row, occupied: [bool; 2], respelled: Option<SyncPath>) {
        if let Some(old) = respelled.clone() {
            self.plan.push(Action::Forget { path: old });
        }
        // Pruned subtrees stay open while the walk is inside their fold group: other spellings of the folder
        // come next to it, and their content interleaves with its content.
        while self
            .prune
            .last()
            .is_some_and(|p| !p.path.same_folded(row.path()) && !p.path.is_folded_ancestor_of(row.path()))
        {
            self.prune.pop();
        }
        if let Some(p) = self.prune.iter().find(|p| p.path.is_ancestor_of(row.path())) {
            if p.forget && row.base.is_some() {
                self.plan.push(Action::Forget { path: row.path().clone() });
            }
            return;
        }
        if let Some(skip) = self.skip(&row) {
            if skip == Skip::ReparsePoint {
                for side in [SideId::Source, SideId::Drive] {
                    if row.entry(side).is_some_and(|e| e.attrs.reparse_point) {
                        let report =
                            Report { path: row.path().clone(), side: Some(side), kind: ReportKind::SymlinkSkipped };
                        self.plan.reports.push(report);
                    }
                }
            }
            let is_folder = [&row.source, &row.drive].into_iter().flatten().any(Entry::is_folder);
            if is_folder {
                self.prune.push(Prune { path: row.path().clone(), forget: true });
            }
            if row.base.is_some() {
                self.plan.push(Action::Forget { path: row.path().clone() });
            }
            return;
        }
        if row.base.as_ref().is_some_and(|b| b.kind() == Kind::File) {
            self.plan.stats.tracked_files += 1;
        }
        if !self.ctx.open_conflicts.is_empty() {
            row.conflict = self.ctx.open_conflicts.get(row.path()).copied();
        }
        // The common case by far: nothing changed on either side.
        if let (Some(s), Some(d), Some(b)) = (&row.source, &row.drive, &row.base)
            && row.conflict.is_none()
            && s.matches(&b.source)
            && d.matches(&b.drive)
        {
            if respelled.is_some() {
                let record = Action::Record { source: s.clone(), drive: d.clone(), sha256: b.sha256, settles: None };
                self.plan.push(record);
            }
            return;
        }
        let half_rename = match &row.base {
            Some(_) => row.source.is_none() || row.drive.is_none(),
            None => row.source.is_some() != row.drive.is_some(),
        };
        if half_rename && self.base_seen {
            self.deferred.push(Deferred { row, occupied });
            return;
        }
        if half_rename {
            // No base at all (a first sync): nothing can be a rename, so decide now instead of holding every
            // new entry until the end.
            if let Some(folder) = self.decide_checked(row, occupied) {
                self.prune.push(Prune { path: folder, forget: false });
            }
            return;
        }
        row.fill_known_hashes();
        let decision = self.ctx.decide(&row);
        if let Decision::Act(Action::KeepBoth { aside, source, drive, .. }) = &decision {
            // A folder stepping aside takes its content along: what was listed under it is walked next run.
            let stepping = if *aside == SideId::Source { source } else { drive };
            if stepping.is_folder() {
                self.prune.push(Prune { path: row.path().clone(), forget: false });
            }
        }
        apply(&mut self.plan, row, decision);
    }

    /// Whether filters or attributes leave the row out.
    fn skip(&self, row: &Row) -> Option<Skip> {
        let filters = &self.ctx.filters;
        let mut skip = None;
        for entry in [&row.source, &row.drive].into_iter().flatten() {
            match filters.attribute_skip(entry) {
                Some(Skip::ReparsePoint) => return Some(Skip::ReparsePoint),
                Some(s) => skip = Some(s),
                None => {}
            }
        }
        if !filters.filters_paths() {
            return skip;
        }
        let kinds = [&row.source, &row.drive].into_iter().flatten().map(|e| e.kind);
        let kinds = kinds.chain(row.base.as_ref().map(BaseRecord::kind));
        for kind in kinds {
            if let Some(s) = filters.path_skip(row.path(), kind) {
                skip = Some(s);
            }
        }
        skip
    }

    fn finish(mut self) -> Plan {
        self.flush_group();
        let deferred = std::mem::take(&mut self.deferred);
        let mut consumed = vec![false; deferred.len()];
        let paired = self.pair_renames(&deferred, &mut consumed);
        for mut row in paired {
            row.fill_known_hashes();
            let decision = self.ctx.decide(&row);
            apply(&mut self.plan, row, decision);
        }
        self.decide_unpaired(deferred, &consumed);
        self.plan.order();
        self.plan
    }

    /// Whether an ancestor of `path` is spelled differently on `side` (a case-insensitive side), so creating
    /// `path` there would land under the other spelling.
    pub(super) fn under_case_twin(&self, side: SideId, path: &SyncPath) -> bool {
        if self.twins.is_empty() || !self.ctx.naming(side).case_insensitive {
            return false;
        }
        let mut ancestor = path.parent();
        while let Some(a) = ancestor {
            if let Some(spellings) = self.twins.get(a.folded())
                && spellings[slot(side)].as_ref().is_some_and(|s| *s != a)
            {
                return true;
            }
            ancestor = a.parent();
        }
        false
    }

    /// Claims `path` and its parents on a case-insensitive or NFC-storing `side` for this plan; false when the
    /// plan already creates one of them there under another spelling that is the same name on that side.
    pub(super) fn claim(&mut self, side: SideId, path: &SyncPath) -> bool {
        let rules = self.ctx.naming(side);
        let key = |p: &SyncPath| -> String {
            if rules.case_insensitive { p.folded().to_owned() } else { p.as_str().nfc().collect() }
        };
        if !rules.case_insensitive && !rules.nfc {
            return true;
        }
        let mut chain = vec![path.clone()];
        let mut ancestor = path.parent();
        while let Some(a) = ancestor {
            ancestor = a.parent();
            chain.push(a);
        }
        let keys: Vec<String> = chain.iter().map(key).collect();
        let claims = &mut self.claimed[slot(side)];
        if chain.iter().zip(&keys).any(|(p, k)| claims.get(k).is_some_and(|c| c != p)) {
            return false;
        }
        for (p, k) in chain.into_iter().zip(keys) {
            claims.entry(k).or_insert(p);
        }
        true
    }

    /// Drops the claims the walk has left behind; only for a first sync, whose every decision is made in walk order.
    /// Every spelling of a name comes next to it in that order, and so does everything under it, so a claim that
    /// is neither on the row waiting in `group` nor on one of its folded ancestors can no longer be contested:
    /// the claims then hold the current branch instead of every path the sync creates.
    fn drop_passed_claims(&mut self) {
        let Some(next) = self.group.first() else { return };
        for claims in &mut self.claimed {
            claims.retain(|_, p| p.same_folded(next.path()) || p.is_folded_ancestor_of(next.path()));
        }
    }

    /// Decides the rows that were not renames: creates (checked against the destination's naming rules) and
    /// deletes.
    fn decide_unpaired(&mut self, deferred: Vec<Deferred>, consumed: &[bool]) {
        let mut prune: Vec<SyncPath> = Vec::new();
        for (d, done) in deferred.into_iter().zip(consumed) {
            if *done || prune.iter().any(|p| p.is_ancestor_of(d.row.path())) {
                continue;
            }
            if let Some(refused_folder) = self.decide_checked(d.row, d.occupied) {
                prune.push(refused_folder);
            }
        }
    }

    /// Decides a row whose decision may create its path on one side, checking the name against that side's
    /// rules first. Returns the path of a folder that could not be created: its content is not walked.
    fn decide_checked(&mut self, mut row: Row, occupied: [bool; 2]) -> Option<SyncPath> {
        row.fill_known_hashes();
        let decision = self.ctx.decide(&row);
        let create = match &decision {
            Decision::Act(Action::Copy { from, origin, dest: None }) => Some((from.other(), origin.is_folder())),
            Decision::Act(Action::MakeFolder { on, origin }) => Some((*on, origin.is_folder())),
            _ => None,
        };
        if let Some((dest, is_folder)) = create {
            let rules = self.ctx.naming(dest);
            let refused = if !rules.accepts(row.path(), is_folder) {
                Some(ReportKind::InvalidName)
            } else if (rules.case_insensitive || rules.nfc)
                && (occupied[slot(dest)] || self.under_case_twin(dest, row.path()) || !self.claim(dest, row.path()))
            {
                Some(ReportKind::CaseCollision)
            } else {
                None
            };
            if let Some(kind) = refused {
                self.plan.reports.push(Report { path: row.path().clone(), side: Some(dest), kind });
                return is_folder.then(|| row.path().clone());
            }
        }
        apply(&mut self.plan, row, decision);
        None
    }
}
