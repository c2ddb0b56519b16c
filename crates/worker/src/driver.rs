//! The driver: one loop that feeds the per-job machines and performs what they decide. Each of
//! its parts has a module of its own: [`intake`](crate::intake) (events), [`schedule`](crate::schedule)
//! (when actions start), [`actions`](crate::actions) (doing them), [`account`] (stake, balance,
//! withdrawals), [`clock`](crate::clock) (chain time), [`journal`](crate::journal) (what
//! survives a crash).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::{ChainError, protocol};
use alloy::primitives::{B256, U256};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::account::{self, Purse};
use crate::actions::{Actor, Target};
use crate::clock::Clock;
use crate::intake::{Intake, News};
use crate::journal::{Header, JobRecord, Journal};
use crate::machine::{self, End, Input, Phase};
use crate::metrics::Metrics;
use crate::retry::{Retry, starting};
use crate::schedule::Schedule;
use crate::work::Work;
use crate::{Deps, WorkerConfig, WorkerError};

/// A job the driver tracks.
#[derive(Debug)]
struct Tracked {
    record: JobRecord,
    /// When the current phase started, for the phase histogram.
    since: Instant,
}

/// A task's outcome.
enum Done {
    Acted(B256, Input),
    Withdrew,
}

/// What a running task is for, to recover from its panic.
#[derive(Debug, Clone, Copy)]
enum Task {
    Action(B256),
    Withdrawal,
}

pub(crate) struct Driver {
    config: WorkerConfig,
    actor: Arc<Actor>,
    journal: Journal,
    intake: Intake,
    jobs: HashMap<B256, Tracked>,
    schedule: Schedule,
    clock: Clock,
    purse: Purse,
    /// What the machines know of the agent (policy, balance, score).
    agent: machine::Agent,
    tasks: JoinSet<Done>,
    running: HashMap<tokio::task::Id, Task>,
}

impl Driver {
    /// Opens the journal, resumes its jobs and deposits the stake.
    pub(crate) async fn start(
        config: WorkerConfig,
        deps: Deps,
        metrics: Arc<Metrics>,
    ) -> Result<Self, WorkerError> {
        let Deps {
            agency,
            agent: me,
            store,
            executors,
        } = deps;
        let chain_id = Retry::STARTUP
            .run_if("reading the chain id", || agency.chain_id(), starting)
            .await?;
        let header = Header {
            chain: chain_id,
            agency: agency.address(),
            agent: me,
        };
        let (journal, loaded) = Journal::open(&config.data_dir, header)?;
        let intake = Intake::new(
            &agency,
            loaded.cursor.unwrap_or(config.from_block),
            config.confirmations,
        );
        let work = Work {
            store,
            executors,
            results: config.data_dir.join("results"),
            fetch_timeout: config.fetch_timeout,
            wall_clock: config.wall_clock,
            max_limits: config.max_limits,
            metrics: metrics.clone(),
        };
        let now = Retry::STARTUP
            .run_if("reading the latest block", || agency.chain_time(), starting)
            .await?;
        let agent = machine::Agent {
            claiming: true,
            min_reward: config.min_reward,
            balance: U256::ZERO,
            points: 0,
            margin: config.margin,
            run_first: config.run_first,
        };
        let mut driver = Self {
            purse: Purse::new(config.stake, config.auto_withdraw),
            schedule: Schedule::new(config.concurrency),
            config,
            actor: Arc::new(Actor {
                agency,
                work,
                metrics,
                chain_id,
                me,
            }),
            journal,
            intake,
            jobs: HashMap::new(),
            clock: Clock::new(now),
            agent,
            tasks: JoinSet::new(),
            running: HashMap::new(),
        };
        for record in loaded.jobs {
            let id = record.id;
            tracing::info!(job = %short(id), phase = ?record.state.phase, "resuming");
            driver.track(record);
            driver.schedule.observe(id);
        }
        driver.dispatch();
        driver
            .purse
            .deposit_stake(&driver.actor.agency, me, driver.locked())
            .await?;
        let account = Retry::STARTUP
            .run_if(
                "reading the account",
                || driver.actor.agency.account(me),
                starting,
            )
            .await?;
        driver
            .purse
            .read(&account, &mut driver.agent, &driver.actor.metrics);
        Ok(driver)
    }

    /// Runs until `cancel` fires and in-flight work is done (or the grace period is over).
    pub(crate) async fn run(mut self, cancel: CancellationToken) -> Result<(), WorkerError> {
        let mut ticker = tokio::time::interval(self.config.poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping: Option<Instant> = None;
        loop {
            let pause_over = self.schedule.next_delay();
            let far = || Instant::now() + Duration::from_secs(3_600);
            tokio::select! {
                biased;
                () = cancel.cancelled(), if stopping.is_none() => {
                    stopping = Some(self.stop_claiming());
                }
                Some(done) = self.tasks.join_next_with_id() => {
                    self.done(done);
                    while let Some(done) = self.tasks.try_join_next_with_id() {
                        self.done(done);
                    }
                }
                () = tokio::time::sleep_until(pause_over.unwrap_or_else(far).into()),
                    if pause_over.is_some() => {}
                _ = ticker.tick() => {
                    if let Err(e) = self.tick().await {
                        tracing::warn!(error = %e, "polling the chain failed; retrying");
                    }
                }
            }
            self.journal.sync_off_thread().await?;
            self.compact()?;
            self.dispatch();
            // Settled: no action running, paused or due, and no withdrawal on its way.
            if let Some(by) = stopping
                && ((self.schedule.settled() && !self.purse.withdrawing()) || Instant::now() >= by)
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

    /// A graceful stop begins: no new claims; jobs waiting for a place are passed over.
    /// Returns when the grace period ends.
    fn stop_claiming(&mut self) -> Instant {
        tracing::info!(grace = ?self.config.grace, "shutting down: no new claims");
        self.agent.claiming = false;
        for id in self.schedule.drain_waiting() {
            self.feed(id, Input::Discovered);
        }
        Instant::now() + self.config.grace
    }

    /// One poll: the clock, new events, due wake-ups, the account.
    async fn tick(&mut self) -> Result<(), ChainError> {
        self.clock.observe(self.actor.agency.chain_time().await?);
        loop {
            let (news, more) = self.intake.poll().await?;
            for n in news {
                self.on_news(n);
            }
            self.journal.cursor(self.intake.cursor());
            if !more {
                break;
            }
        }
        self.schedule.due(self.clock.now());
        if self.purse.is_stale() {
            let account = self.actor.agency.account(self.actor.me).await?;
            let metrics = &self.actor.metrics;
            self.purse.read(&account, &mut self.agent, metrics);
            if let Some(excess) = self.purse.withdrawal_due(self.agent.balance) {
                let task = account::withdraw(self.actor.agency.clone(), excess, metrics.clone());
                let handle = self.tasks.spawn(async move {
                    task.await;
                    Done::Withdrew
                });
                self.running.insert(handle.id(), Task::Withdrawal);
            }
        }
        Ok(())
    }

    fn on_news(&mut self, news: News) {
        match news {
            News::Posted {
                id,
                terms,
                index,
                spec,
            } => {
                if self.jobs.contains_key(&id) {
                    return;
                }
                self.actor.metrics.jobs_seen.inc();
                self.track(JobRecord {
                    id,
                    terms,
                    index,
                    spec,
                    state: machine::JobState::new(),
                });
                self.feed(id, Input::Discovered);
            }
            News::Changed { job, change } => {
                if let Some(j) = self.jobs.get(&job)
                    && change.worth_a_look(&j.record.state.phase)
                {
                    self.schedule.observe(job);
                }
            }
        }
    }

    /// A task came back (or panicked: its job is looked at again after a pause, so a panic
    /// that repeats does not spin).
    fn done(&mut self, done: Result<(tokio::task::Id, Done), tokio::task::JoinError>) {
        let done = match done {
            Ok((task, done)) => {
                self.running.remove(&task);
                done
            }
            Err(e) => {
                tracing::error!(error = %e, "a task of the agent failed");
                match self.running.remove(&e.id()) {
                    Some(Task::Action(job)) => {
                        self.schedule.returned(job);
                        self.schedule.observe_after(job, PANIC_PAUSE);
                        return;
                    }
                    Some(Task::Withdrawal) | None => Done::Withdrew,
                }
            }
        };
        match done {
            Done::Acted(id, input) => {
                self.schedule.returned(id);
                if input == Input::Sent {
                    // A transaction moved collateral or pay: read the balance again.
                    self.purse.touch();
                }
                self.feed(id, input);
            }
            Done::Withdrew => self.purse.withdrew(),
        }
    }

    /// Steps job `id`'s machine with `input`, journals the change and schedules its action.
    fn feed(&mut self, id: B256, input: Input) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let (next, action) =
            machine::step(&job.record.state, input, &job.record.terms, &self.agent);
        if next != job.record.state {
            let (before, after) = (&job.record.state.phase, &next.phase);
            if std::mem::discriminant(before) != std::mem::discriminant(after) {
                tracing::debug!(job = %short(id), from = ?before, to = ?after, "phase");
                self.actor
                    .metrics
                    .observe(before.name(), job.since.elapsed().as_secs_f64());
                job.since = Instant::now();
            }
            if matches!(after, Phase::Working) && !matches!(before, Phase::Working) {
                self.actor.metrics.jobs_claimed.inc();
            }
            job.record.state = next;
            self.journal.job(&job.record);
        }
        self.schedule.set_holds(id, job.record.state.is_busy());
        if let Phase::Done(end) = &job.record.state.phase {
            let end = end.clone();
            self.finish(id, end);
            return;
        }
        self.schedule.decided(id, action);
    }

    fn finish(&mut self, id: B256, end: End) {
        let Some(job) = self.jobs.remove(&id) else {
            return;
        };
        self.schedule.forget(id);
        tracing::info!(job = %short(id), ?end, "done");
        let metrics = &self.actor.metrics;
        match &end {
            End::Won(earned) => {
                metrics.jobs_succeeded.inc();
                metrics.earnings_wei.inc_by(f64::from(*earned));
            }
            End::Passed | End::Unrunnable(_) | End::Vanished => {}
            other => {
                metrics
                    .jobs_failed
                    .get_or_create(&crate::metrics::Outcome {
                        outcome: other.name(),
                    })
                    .inc();
            }
        }
        if job.record.state.result.is_some() {
            self.actor.work.forget(id);
        }
        self.purse.touch();
    }

    fn track(&mut self, record: JobRecord) {
        self.schedule.track(record.id, record.state.is_busy());
        self.jobs.insert(
            record.id,
            Tracked {
                record,
                since: Instant::now(),
            },
        );
    }

    /// Starts every action the schedule says may start now, each as a task whose outcome
    /// comes back to the loop.
    fn dispatch(&mut self) {
        for (id, action) in self.schedule.dispatch() {
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            let target = Target {
                id,
                terms: job.record.terms.clone(),
                index: job.record.index,
                spec: job.record.spec,
                now: self.clock.now(),
            };
            let actor = self.actor.clone();
            let span = tracing::info_span!("job", id = %short(id));
            let handle = self.tasks.spawn(
                async move { Done::Acted(id, actor.act(&target, action).await) }.instrument(span),
            );
            self.running.insert(handle.id(), Task::Action(id));
        }
    }

    /// Collateral locked in the slots the journal says the agent holds (or may hold: a claim
    /// was on its way).
    fn locked(&self) -> U256 {
        self.jobs
            .values()
            .filter(|j| {
                matches!(
                    j.record.state.phase,
                    Phase::Claiming | Phase::Working | Phase::GivingUp(_)
                )
            })
            .map(|j| U256::from(j.record.terms.collateral))
            .sum()
    }

    /// Rewrites the journal with only the live jobs once stale lines outnumber them.
    fn compact(&mut self) -> Result<(), WorkerError> {
        if self.journal.lines() < COMPACT_AFTER + 2 * self.jobs.len() {
            return Ok(());
        }
        let cursor = self.intake.cursor();
        self.journal
            .rewrite(Some(cursor), self.jobs.values().map(|j| &j.record))?;
        Ok(())
    }
}

/// How long a job whose action panicked waits before it is looked at again.
const PANIC_PAUSE: Duration = Duration::from_secs(5);

/// Stale journal lines tolerated before the journal is rewritten.
const COMPACT_AFTER: usize = 10_000;

/// The first 10 hex digits of a job id and its index: enough to tell jobs apart in logs.
pub(crate) fn short(id: B256) -> String {
    let (_, index) = protocol::split_job_id(id);
    format!("{}…/{index}", &id.to_string()[..10])
}
