//! The async driver: one loop that feeds chain events, action outcomes and timers to the
//! per-job machines, journals what they decide, and runs their actions as tasks.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::bindings::IJobAgency::{JobView, Terms};
use agency_chain::bindings::JobAgency::{JobAgencyErrors, JobAgencyEvents};
use agency_chain::events::{Cursor, EventStream, StreamItem};
use agency_chain::{Agency, ChainError, protocol};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::journal::{Header, JobRecord, Journal, TermsRecord};
use crate::machine::{self, Action, Ctx, End, Input, Mine, Phase, SlotPhase, Status, View};
use crate::metrics::Metrics;
use crate::work::Work;
use crate::{Halt, WorkerConfig, WorkerError};

/// A job the driver tracks.
#[derive(Debug)]
struct Tracked {
    record: JobRecord,
    terms: Terms,
    facts: machine::Terms,
    /// An action of this job is running.
    busy: bool,
    /// Something happened to the job while busy: observe it once the action is back.
    dirty: bool,
    /// Waiting in line for one of the `concurrency` places.
    queued: bool,
    /// The last action and when it came back, to slow down one that keeps failing.
    last: Option<(Action, Instant, Duration)>,
    /// When the current phase started, for the phase histogram.
    since: Instant,
}

enum Msg {
    Input(B256, Input),
    /// An action is to start later (backoff after a refusal).
    Later(B256, Action),
    /// A withdrawal finished (or failed).
    Withdrew,
    /// The test hook fired: stop dead, as if killed.
    Halt,
}

pub(crate) struct Driver {
    config: WorkerConfig,
    agency: Agency,
    chain_id: u64,
    me: Address,
    work: Work,
    metrics: Arc<Metrics>,
    journal: Journal,
    stream: EventStream,
    jobs: HashMap<B256, Tracked>,
    /// Jobs waiting for one of the `concurrency` places.
    waiting: VecDeque<B256>,
    timers: BTreeMap<u64, HashSet<B256>>,
    /// Actions decided and not yet started.
    pending: VecDeque<(B256, Action)>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// The chain's clock: the latest block's timestamp and when we saw it.
    clock: (u64, Instant),
    ctx: Ctx,
    account_stale: bool,
    withdrawing: bool,
}

impl Driver {
    pub(crate) async fn start(
        config: WorkerConfig,
        agency: Agency,
        store: Arc<dyn agency_store::BlockStore>,
        executors: Vec<Arc<dyn agency_runner::Executor>>,
        metrics: Arc<Metrics>,
        me: Address,
    ) -> Result<Self, WorkerError> {
        let provider = agency.contract().provider().clone();
        let chain_id = patiently("reading the chain id", || async {
            provider
                .get_chain_id()
                .await
                .map_err(|e| WorkerError::Rpc(e.to_string()))
        })
        .await?;
        let header = Header {
            chain: chain_id,
            agency: agency.address(),
            agent: me,
        };
        let (journal, loaded) = Journal::open(&config.data_dir, header)?;
        let cursor = Cursor::from_block(loaded.cursor.unwrap_or(config.from_block));
        let stream = EventStream::new(provider, agency.address(), cursor, config.confirmations);
        let work = Work {
            store,
            executors,
            results: config.data_dir.join("results"),
            fetch_timeout: config.fetch_timeout,
            wall_clock: config.wall_clock,
            metrics: metrics.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = Ctx {
            claiming: true,
            min_reward: config.min_reward,
            balance: U256::ZERO,
            score: 0,
            margin: config.margin,
            run_first: config.run_first,
        };
        let mut driver = Self {
            config,
            agency,
            chain_id,
            me,
            work,
            metrics,
            journal,
            stream,
            jobs: HashMap::new(),
            waiting: VecDeque::new(),
            timers: BTreeMap::new(),
            pending: VecDeque::new(),
            tx,
            rx,
            clock: (0, Instant::now()),
            ctx,
            account_stale: true,
            withdrawing: false,
        };
        let ts = patiently("reading the latest block", || driver.clock_now()).await?;
        driver.clock = (ts, Instant::now());
        for record in loaded.jobs {
            let id = record.id;
            tracing::info!(job = %short(id), phase = ?record.state.phase, "resuming");
            driver.track(record);
            driver.start_action(id, Action::Observe);
        }
        driver.stake().await?;
        Ok(driver)
    }

    /// Deposits what is missing from the configured stake. The balance is read again before
    /// every try, so a deposit whose answer was lost is not made twice.
    async fn stake(&mut self) -> Result<(), WorkerError> {
        patiently("staking", || self.stake_once()).await?;
        let account = patiently("reading the account", || async {
            Ok(self.agency.account(self.me).await?)
        })
        .await?;
        self.set_account(account);
        Ok(())
    }

    async fn stake_once(&self) -> Result<(), WorkerError> {
        let account = self.agency.account(self.me).await?;
        // Collateral locked in the slots the journal says we hold (or may hold: a claim was on
        // its way) counts as staked, so a restart mid-job does not top the stake up by it.
        let locked: U256 = self
            .jobs
            .values()
            .filter(|j| {
                matches!(
                    j.record.state.phase,
                    Phase::Claiming | Phase::Working | Phase::GivingUp(_)
                )
            })
            .map(|j| j.facts.collateral)
            .sum();
        let staked = account.balance + locked;
        if staked >= self.config.stake {
            return Ok(());
        }
        let missing = self.config.stake - staked;
        let wallet = self
            .agency
            .contract()
            .provider()
            .get_balance(self.me)
            .await
            .map_err(|e| WorkerError::Rpc(e.to_string()))?;
        if wallet < missing {
            return Err(WorkerError::Stake(format!(
                "staking {missing} wei needs that much in {}, which holds {wallet} wei",
                self.me
            )));
        }
        tracing::info!(wei = %missing, "depositing stake");
        self.agency.deposit(missing).await?;
        Ok(())
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), WorkerError> {
        let mut ticker = tokio::time::interval(self.config.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                changed = stop.changed(), if stopping.is_none() => {
                    if changed.is_err() || *stop.borrow() {
                        tracing::info!(grace = ?self.config.grace, "shutting down: no new claims");
                        stopping = Some(Instant::now() + self.config.grace);
                        self.ctx.claiming = false;
                        for id in std::mem::take(&mut self.waiting) {
                            if let Some(job) = self.jobs.get_mut(&id) {
                                job.queued = false;
                            }
                            self.feed(id, Input::Discovered);
                        }
                    }
                }
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    if matches!(msg, Msg::Halt) {
                        tracing::warn!("halting (test hook)");
                        return Ok(());
                    }
                    self.handle(msg);
                    while let Ok(msg) = self.rx.try_recv() {
                        if matches!(msg, Msg::Halt) {
                            return Ok(());
                        }
                        self.handle(msg);
                    }
                }
                _ = ticker.tick() => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!(error = %e, "polling the chain failed; retrying");
                    }
                }
            }
            self.journal.sync_off_thread().await?;
            self.compact()?;
            self.dispatch();
            if let Some(by) = stopping
                && (self.settled() || Instant::now() >= by)
            {
                break;
            }
        }
        self.journal.sync()?;
        let left = self
            .jobs
            .values()
            .filter(|j| !j.record.state.is_done())
            .count();
        tracing::info!(jobs_left = left, "stopped; the journal holds the rest");
        Ok(())
    }

    /// Rewrites the journal with only the live jobs once stale lines outnumber them.
    fn compact(&mut self) -> Result<(), WorkerError> {
        if self.journal.lines() < COMPACT_AFTER + 2 * self.jobs.len() {
            return Ok(());
        }
        let cursor = self.stream.cursor().next_block;
        self.journal
            .rewrite(Some(cursor), self.jobs.values().map(|j| &j.record))?;
        Ok(())
    }

    /// No action is running and none is due: stopping now loses no work in progress.
    fn settled(&self) -> bool {
        self.jobs.values().all(|j| !j.busy) && self.pending.is_empty()
    }

    fn track(&mut self, record: JobRecord) {
        let terms = Terms::from(&record.terms);
        let facts = machine::Terms {
            replicas: terms.replicas,
            quorum: terms.quorum,
            reward: U256::from(terms.reward),
            collateral: U256::from(terms.collateral),
            min_reputation: terms.minReputation,
            deadline: terms.deadline.to::<u64>(),
        };
        self.jobs.insert(
            record.id,
            Tracked {
                record,
                terms,
                facts,
                busy: false,
                dirty: false,
                queued: false,
                last: None,
                since: Instant::now(),
            },
        );
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Input(id, input) => {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.busy = false;
                }
                if input == Input::Sent {
                    // A transaction moved collateral or pay: read the balance again.
                    self.account_stale = true;
                }
                self.feed(id, input);
            }
            Msg::Later(id, action) => {
                if let Some(job) = self.jobs.get_mut(&id) {
                    job.busy = false;
                }
                self.start_action(id, action);
            }
            Msg::Withdrew => {
                self.withdrawing = false;
                self.account_stale = true;
            }
            Msg::Halt => {}
        }
    }

    /// Steps job `id`'s machine with `input`, journals the change and queues its action.
    fn feed(&mut self, id: B256, input: Input) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let (next, action) = machine::step(&job.record.state, input, &job.facts, &self.ctx);
        if next != job.record.state {
            let (before, after) = (&job.record.state.phase, &next.phase);
            if std::mem::discriminant(before) != std::mem::discriminant(after) {
                tracing::debug!(job = %short(id), from = ?before, to = ?after, "phase");
                self.metrics
                    .observe(phase_name(before), job.since.elapsed().as_secs_f64());
                job.since = Instant::now();
            }
            if matches!(after, Phase::Working) && !matches!(before, Phase::Working) {
                self.metrics.jobs_claimed.inc();
            }
            job.record.state = next;
            self.journal.job(&job.record);
        }
        if let Phase::Done(end) = &job.record.state.phase {
            let end = end.clone();
            self.finish(id, end);
            return;
        }
        if job.dirty && matches!(action, Action::Idle | Action::WakeAt(_)) {
            job.dirty = false;
            self.pending.push_back((id, Action::Observe));
            return;
        }
        self.pending.push_back((id, action));
    }

    fn finish(&mut self, id: B256, end: End) {
        let Some(job) = self.jobs.remove(&id) else {
            return;
        };
        tracing::info!(job = %short(id), ?end, "done");
        match &end {
            End::Won(earned) => {
                self.metrics.jobs_succeeded.inc();
                self.metrics.earnings_wei.inc_by(wei_f64(*earned));
            }
            End::Passed | End::Unrunnable(_) | End::Vanished => {}
            other => {
                self.metrics
                    .jobs_failed
                    .get_or_create(&crate::metrics::Outcome {
                        outcome: end_name(other),
                    })
                    .inc();
            }
        }
        if job.record.state.result.is_some() {
            self.work.forget(id);
        }
        if job.queued {
            self.waiting.retain(|w| *w != id);
        }
        self.account_stale = true;
    }

    /// Starts the queued actions that may start now.
    fn dispatch(&mut self) {
        while let Some((id, action)) = self.pending.pop_front() {
            self.start_action(id, action);
        }
        // Free places go to waiting jobs, oldest first.
        while self.busy_places() < self.config.concurrency {
            let Some(id) = self.waiting.pop_front() else {
                break;
            };
            if let Some(job) = self.jobs.get_mut(&id) {
                job.queued = false;
                self.launch(id, Action::CheckSpec);
            }
        }
    }

    fn busy_places(&self) -> usize {
        self.jobs
            .values()
            .filter(|j| j.record.state.is_busy() && !j.queued)
            .count()
    }

    fn start_action(&mut self, id: B256, action: Action) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        match action {
            Action::Idle => {}
            Action::WakeAt(t) => {
                self.timers.entry(t).or_default().insert(id);
            }
            _ if job.busy => job.dirty = true,
            // Already in line: it starts when a place frees up.
            Action::CheckSpec if job.queued => {}
            Action::CheckSpec => {
                if self.busy_places() > self.config.concurrency {
                    if let Some(job) = self.jobs.get_mut(&id) {
                        job.queued = true;
                    }
                    self.waiting.push_back(id);
                } else {
                    self.launch(id, action);
                }
            }
            action => {
                // The same action again right after it came back: back off.
                if let Some((last, at, pause)) = &job.last
                    && *last == action
                    && !matches!(action, Action::Observe)
                    && at.elapsed() < *pause
                {
                    let pause = *pause;
                    job.last = Some((action.clone(), Instant::now(), (pause * 2).min(MAX_PAUSE)));
                    job.busy = true;
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(pause).await;
                        let _ = tx.send(Msg::Later(id, action));
                    });
                    return;
                }
                self.launch(id, action);
            }
        }
    }

    /// Runs `action` of job `id` as a task whose outcome comes back as a message.
    fn launch(&mut self, id: B256, action: Action) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.busy = true;
        let pause = match &job.last {
            Some((last, _, pause)) if *last == action => *pause,
            _ => Duration::from_millis(500),
        };
        job.last = Some((action.clone(), Instant::now(), pause));
        let ctx = ActionCtx {
            agency: self.agency.clone(),
            work: self.work.clone(),
            metrics: self.metrics.clone(),
            chain_id: self.chain_id,
            me: self.me,
            id,
            terms: job.terms.clone(),
            index: job.record.index,
            spec: job.record.spec,
            now: self.now(),
            halt: self.config.halt,
        };
        let tx = self.tx.clone();
        let span = tracing::info_span!("job", id = %short(id));
        tokio::spawn(
            async move {
                let msg = ctx.run(action).await;
                let _ = tx.send(msg);
            }
            .instrument(span),
        );
    }

    /// One poll: the clock, new events, due timers, the account.
    async fn tick(&mut self) -> Result<(), WorkerError> {
        self.refresh_clock().await?;
        loop {
            let items = self.stream.poll().await?;
            let more = items.iter().any(|i| matches!(i, StreamItem::Added(_)));
            for item in items {
                self.on_event(item);
            }
            self.journal.cursor(self.stream.cursor().next_block);
            if !more {
                break;
            }
        }
        let now = self.now();
        let due: Vec<u64> = self.timers.range(..=now).map(|(t, _)| *t).collect();
        for t in due {
            for id in self.timers.remove(&t).unwrap_or_default() {
                self.pending.push_back((id, Action::Observe));
            }
        }
        if self.account_stale {
            self.refresh_account().await?;
            self.auto_withdraw();
        }
        Ok(())
    }

    fn on_event(&mut self, item: StreamItem) {
        let (removed, event) = match item {
            StreamItem::Added(e) => (false, e),
            StreamItem::Removed(e) => (true, e),
        };
        let job_id = match &event.event {
            JobAgencyEvents::JobsPosted(p) => {
                let ids = (0..p.terms.count).map(|i| protocol::job_id(&p.terms, i));
                if removed {
                    for id in ids {
                        self.pending.push_back((id, Action::Observe));
                    }
                    return;
                }
                if p.specs.len() != p.terms.count as usize {
                    return;
                }
                for (index, spec) in p.specs.iter().enumerate() {
                    let index = index as u32;
                    let id = protocol::job_id(&p.terms, index);
                    if self.jobs.contains_key(&id) {
                        continue;
                    }
                    self.metrics.jobs_seen.inc();
                    self.track(JobRecord {
                        id,
                        terms: TermsRecord::from(&p.terms),
                        index,
                        spec: *spec,
                        state: machine::JobState::new(),
                    });
                    self.feed(id, Input::Discovered);
                }
                return;
            }
            JobAgencyEvents::Claimed(e) => e.job,
            JobAgencyEvents::Released(e) => e.job,
            JobAgencyEvents::Evicted(e) => e.job,
            JobAgencyEvents::Committed(e) => e.job,
            JobAgencyEvents::RevealsOpened(e) => e.job,
            JobAgencyEvents::Revealed(e) => e.job,
            JobAgencyEvents::Accepted(e) => e.job,
            JobAgencyEvents::NoConsensus(e) => e.job,
            JobAgencyEvents::Expired(e) => e.job,
            JobAgencyEvents::Cancelled(e) => e.job,
            JobAgencyEvents::Slashed(e) => e.job,
            JobAgencyEvents::Deposited(_) | JobAgencyEvents::Withdrawn(_) => return,
        };
        let Some(job) = self.jobs.get(&job_id) else {
            return;
        };
        let reopened = matches!(
            event.event,
            JobAgencyEvents::Released(_) | JobAgencyEvents::Evicted(_)
        );
        let ended = matches!(
            event.event,
            JobAgencyEvents::Accepted(_)
                | JobAgencyEvents::NoConsensus(_)
                | JobAgencyEvents::Expired(_)
                | JobAgencyEvents::Cancelled(_)
        );
        let look = match &job.record.state.phase {
            // A job passed over is worth a look only when a slot reopens or it ends.
            Phase::Skipped(_) | Phase::New => reopened || ended || removed,
            _ => true,
        };
        if look {
            self.pending.push_back((job_id, Action::Observe));
        }
    }

    /// The latest block's timestamp.
    async fn clock_now(&self) -> Result<u64, WorkerError> {
        let block = self
            .agency
            .contract()
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| WorkerError::Rpc(e.to_string()))?
            .ok_or_else(|| WorkerError::Rpc("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    async fn refresh_clock(&mut self) -> Result<(), WorkerError> {
        let ts = self.clock_now().await?;
        if ts != self.clock.0 {
            self.clock = (ts, Instant::now());
        }
        Ok(())
    }

    /// The chain's time now: the latest block's, plus the seconds since we saw that block.
    fn now(&self) -> u64 {
        self.clock.0 + self.clock.1.elapsed().as_secs()
    }

    async fn refresh_account(&mut self) -> Result<(), WorkerError> {
        let a = self.agency.account(self.me).await?;
        self.set_account(a);
        Ok(())
    }

    fn set_account(&mut self, a: agency_chain::Account) {
        self.ctx.balance = a.balance;
        self.ctx.score = i64::from(a.accepted) - i64::from(a.rejected) - i64::from(a.missed);
        self.metrics.stake_wei.set(wei_f64(a.balance));
        self.account_stale = false;
    }

    /// Withdraws the balance above the stake once it exceeds the stake by the threshold.
    fn auto_withdraw(&mut self) {
        let Some(threshold) = self.config.auto_withdraw else {
            return;
        };
        let excess = self.ctx.balance.saturating_sub(self.config.stake);
        if self.withdrawing || excess == U256::ZERO || excess < threshold {
            return;
        }
        self.withdrawing = true;
        let agency = self.agency.clone();
        let metrics = self.metrics.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            metrics.pending_transactions.inc();
            let call = agency
                .contract()
                .withdraw(excess)
                .into_transaction_request();
            match agency.transact("withdraw", call).await {
                Ok(_) => tracing::info!(wei = %excess, "withdrew earnings"),
                Err(e) => tracing::warn!(error = %e, "withdrawing earnings failed"),
            }
            metrics.pending_transactions.dec();
            let _ = tx.send(Msg::Withdrew);
        });
    }
}

/// Gas a reveal gets at least, plus [`FINALIZE_GAS_PER_SLOT`] per replica: a reveal that is
/// the last one also settles the job (contracts/snapshots/call.json: 43.8k for a plain reveal
/// at r = 3, 79.7k for the one that finalizes; settling pays and counts every slot).
const REVEAL_GAS: u64 = 60_000;
const FINALIZE_GAS_PER_SLOT: u64 = 30_000;

/// Stale journal lines tolerated before the journal is rewritten.
const COMPACT_AFTER: usize = 10_000;

/// How many times a start-up call is tried before the agent gives up starting.
const PATIENCE: u64 = 10;

/// Runs a start-up call until it succeeds, fails for good, or has failed [`PATIENCE`] times
/// with trouble that may pass (a node still starting, a dropped connection).
async fn patiently<T, F, Fut>(what: &str, mut call: F) -> Result<T, WorkerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, WorkerError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && tries < PATIENCE => {
                tracing::debug!(error = %e, "{what}: retrying");
                tokio::time::sleep(Duration::from_millis(100 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The longest pause between two tries of an action that keeps coming back refused.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// What an action task needs.
struct ActionCtx {
    agency: Agency,
    work: Work,
    metrics: Arc<Metrics>,
    chain_id: u64,
    me: Address,
    id: B256,
    terms: Terms,
    index: u32,
    spec: B256,
    now: u64,
    halt: Option<Halt>,
}

impl ActionCtx {
    async fn run(self, action: Action) -> Msg {
        let id = self.id;
        let input = match action {
            Action::Observe => Input::Observed(self.observe().await),
            Action::CheckSpec => Input::SpecChecked(self.work.check(self.spec).await.map(|_| ())),
            Action::Compute { by } => {
                let budget = Duration::from_secs(by.saturating_sub(self.now));
                match self.work.compute(id, self.spec, budget).await {
                    Ok(result) => Input::Computed {
                        result,
                        salt: B256::random(),
                    },
                    Err(why) => {
                        tracing::warn!(%why, "giving the job up");
                        Input::ComputeFailed(why)
                    }
                }
            }
            Action::Idle | Action::WakeAt(_) => return Msg::Input(id, Input::Sent),
            tx => {
                let (call, request) = self.transaction(&tx);
                if self.halt == Some(Halt::Before(call)) {
                    return Msg::Halt;
                }
                if let Action::Submit { result, .. }
                | Action::Reveal { result, .. }
                | Action::RevealLast { result, .. }
                | Action::ClaimAndSubmit { result }
                | Action::ClaimAndCommit { result, .. }
                | Action::ClaimAndReveal { result } = tx
                    && let Err(e) = self.work.republish(id, result).await
                {
                    tracing::warn!(error = %e, "the store lacks our result and it cannot be added");
                }
                self.send(call, request).await;
                if self.halt == Some(Halt::After(call)) {
                    return Msg::Halt;
                }
                Input::Sent
            }
        };
        Msg::Input(id, input)
    }

    fn transaction(&self, action: &Action) -> (&'static str, TransactionRequest) {
        let c = self.agency.contract();
        let t = self.terms.clone();
        let i = U256::from(self.index);
        match *action {
            Action::Claim => ("claim", c.claim(t, i).into_transaction_request()),
            Action::Submit { slot, result } => (
                "submit",
                c.submit(t, i, U256::from(slot), result)
                    .into_transaction_request(),
            ),
            Action::Commit { slot, result, salt } => (
                "commit",
                c.commit(t, i, U256::from(slot), self.sealed(result, salt))
                    .into_transaction_request(),
            ),
            Action::RevealLast { slot, result } => (
                "revealLast",
                c.revealLast(t, i, U256::from(slot), result)
                    .into_transaction_request(),
            ),
            Action::ClaimAndSubmit { result } => (
                "claimAndSubmit",
                c.claimAndSubmit(t, i, result).into_transaction_request(),
            ),
            Action::ClaimAndCommit { result, salt } => (
                "claimAndCommit",
                c.claimAndCommit(t, i, self.sealed(result, salt))
                    .into_transaction_request(),
            ),
            Action::ClaimAndReveal { result } => (
                "claimAndReveal",
                c.claimAndReveal(t, i, result).into_transaction_request(),
            ),
            Action::Reveal { slot, result, salt } => {
                // Estimated while others have yet to reveal, ours may land last and finalize
                // the job, which costs more: ask for the gas that would take.
                let floor = REVEAL_GAS + FINALIZE_GAS_PER_SLOT * u64::from(t.replicas);
                (
                    "reveal",
                    c.reveal(t, i, U256::from(slot), result, salt)
                        .into_transaction_request()
                        .gas_limit(floor),
                )
            }
            Action::Finalize => ("finalize", c.finalize(t, i).into_transaction_request()),
            Action::Expire => ("expire", c.expire(t, i).into_transaction_request()),
            Action::Release { slot } => (
                "release",
                c.release(t, i, U256::from(slot)).into_transaction_request(),
            ),
            _ => unreachable!("not a transaction: {action:?}"),
        }
    }

    /// This agent's commitment to `result` with `salt` for this job.
    fn sealed(&self, result: B256, salt: B256) -> B256 {
        protocol::commitment(
            self.chain_id,
            self.agency.address(),
            self.id,
            self.me,
            result,
            salt,
        )
    }

    /// Sends a transaction; retries what may pass, a few times. A refusal is not an error
    /// here: the next observation shows what happened.
    async fn send(&self, call: &'static str, request: TransactionRequest) {
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        for attempt in 0.. {
            self.metrics.pending_transactions.inc();
            let sent = self.agency.transact(call, request.clone()).await;
            self.metrics.pending_transactions.dec();
            match sent {
                Ok(_) => {
                    tracing::debug!(call, "mined");
                    self.metrics.observe(call, start.elapsed().as_secs_f64());
                    return;
                }
                // No receipt within the sender's budget (fee bumps included): the transaction
                // may still be pending, so sending again could make a second one. Look at the
                // job instead; the next step decides.
                Err(e @ ChainError::ReceiptTimeout { .. }) => {
                    tracing::warn!(call, error = %e, "no receipt; observing the job again");
                    return;
                }
                Err(e) if e.is_retryable() && attempt < 5 => {
                    tracing::debug!(call, error = %e, "retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(e) => {
                    tracing::info!(call, error = %e, "not sent");
                    return;
                }
            }
        }
    }

    /// Reads the job's view, retrying until the node answers.
    async fn observe(&self) -> View {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.agency.job(&self.terms, self.index).await {
                Ok(view) => return self.view(&view),
                Err(ChainError::Reverted {
                    error: JobAgencyErrors::UnknownJob(_),
                    ..
                }) => return unknown(self.now),
                Err(e) => {
                    tracing::debug!(error = %e, "reading the job failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn view(&self, v: &JobView) -> View {
        let status: Status = protocol::JobStatus::from_code(v.status);
        let phase = |p: u8| match p {
            1 => Some(SlotPhase::Claimed),
            2 => Some(SlotPhase::Committed),
            3 => Some(SlotPhase::Revealed),
            _ => None,
        };
        let mine = v.slots.iter().enumerate().find_map(|(i, s)| {
            let p = phase(s.phase)?;
            (s.agent == self.me).then(|| Mine {
                slot: i as u8,
                phase: p,
                deadline: s.deadline.saturating_to(),
            })
        });
        let free = v.slots.iter().filter(|s| s.phase == 0).count() as u8;
        View {
            now: self.now,
            status,
            reveal_end: v.revealEnd.saturating_to(),
            committed: v.committed.saturating_to(),
            free,
            mine,
            earned: (status == Some(protocol::JobStatus::Accepted))
                .then(|| earned(&self.terms, v, self.me))
                .flatten(),
        }
    }
}

fn unknown(now: u64) -> View {
    View {
        now,
        status: None,
        reveal_end: 0,
        committed: 0,
        free: 0,
        mine: None,
        earned: None,
    }
}

/// What `me` was credited beyond its collateral by an accepted job (docs/protocol.md §3), or
/// `None` if it was not among the winners.
pub(crate) fn earned(terms: &Terms, v: &JobView, me: Address) -> Option<U256> {
    const REVEALED: u8 = 3;
    if terms.replicas == 1 {
        let s = v.slots.first()?;
        return (s.agent == me).then(|| U256::from(terms.reward));
    }
    let revealed: Vec<_> = v.slots.iter().filter(|s| s.phase == REVEALED).collect();
    let win = revealed.iter().map(|s| s.sealedResult).find(|d| {
        revealed.iter().filter(|s| s.sealedResult == *d).count() >= usize::from(terms.quorum)
    })?;
    let held = v.slots.iter().filter(|s| s.phase != 0).count();
    let winners = revealed.iter().filter(|s| s.sealedResult == win).count();
    let pot = U256::from(terms.reward) + U256::from(terms.collateral) * U256::from(held - winners);
    let share = pot / U256::from(winners);
    let first = revealed.iter().find(|s| s.sealedResult == win)?;
    let mine = revealed
        .iter()
        .find(|s| s.agent == me && s.sealedResult == win)?;
    Some(if std::ptr::eq(*mine, *first) {
        pot - share * U256::from(winners - 1)
    } else {
        share
    })
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::New => "new",
        Phase::Skipped(_) => "skipped",
        Phase::Checking => "check",
        Phase::Running => "run-first",
        Phase::Claiming => "claim",
        Phase::Working => "work",
        Phase::GivingUp(_) => "give-up",
        Phase::Done(_) => "done",
    }
}

fn end_name(e: &End) -> &'static str {
    match e {
        End::Won(_) => "won",
        End::Lost => "lost",
        End::NoConsensus => "no-consensus",
        End::Missed => "missed",
        End::Released(_) => "released",
        End::Expired => "expired",
        End::Passed => "passed",
        End::Unrunnable(_) => "unrunnable",
        End::Vanished => "vanished",
    }
}

fn wei_f64(v: U256) -> f64 {
    f64::from(v)
}

/// The first 10 hex digits of a job id and its index: enough to tell jobs apart in logs.
pub(crate) fn short(id: B256) -> String {
    let (_, index) = protocol::split_job_id(id);
    format!("{}…/{index}", &id.to_string()[..10])
}

#[cfg(test)]
mod tests {
    use super::*;
    use agency_chain::bindings::IJobAgency::SlotView;

    fn slot(agent: u8, phase: u8, digest: u8) -> SlotView {
        SlotView {
            agent: Address::repeat_byte(agent),
            phase,
            deadline: U256::ZERO,
            sealedResult: B256::repeat_byte(digest),
        }
    }

    fn terms(replicas: u8, quorum: u8) -> Terms {
        Terms {
            reward: 100,
            collateral: 7,
            replicas,
            quorum,
            ..Terms::default()
        }
    }

    fn view(slots: Vec<SlotView>) -> JobView {
        JobView {
            status: 3,
            slots,
            ..JobView::default()
        }
    }

    #[test]
    fn earnings_follow_the_contracts_split() {
        // r = 1: the reward.
        let v = view(vec![slot(1, 3, 0)]);
        assert_eq!(
            earned(&terms(1, 1), &v, Address::repeat_byte(1)),
            Some(U256::from(100))
        );
        assert_eq!(earned(&terms(1, 1), &v, Address::repeat_byte(2)), None);
        // r = 3, a liar in slot 1: pot = 100 + 7 = 107 over two winners; the first winner by
        // slot order takes the odd wei.
        let v = view(vec![slot(1, 3, 9), slot(2, 3, 8), slot(3, 3, 9)]);
        let t = terms(3, 2);
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(1)),
            Some(U256::from(54))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(3)),
            Some(U256::from(53))
        );
        assert_eq!(earned(&t, &v, Address::repeat_byte(2)), None, "the liar");
        // A non-revealer (committed) is slashed into the pot too; an empty slot is not.
        let v = view(vec![
            slot(0, 0, 0),
            slot(2, 2, 5),
            slot(3, 3, 9),
            slot(4, 3, 9),
            slot(5, 3, 9),
        ]);
        let t = terms(5, 3);
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(3)),
            Some(U256::from(37))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(4)),
            Some(U256::from(35))
        );
        // No digest reached the quorum: nobody earned.
        let v = view(vec![slot(1, 3, 1), slot(2, 3, 2), slot(3, 3, 3)]);
        assert_eq!(earned(&terms(3, 2), &v, Address::repeat_byte(1)), None);
    }
}
