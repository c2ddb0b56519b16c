//! Actions: what the machine decides, performed. Each runs as a task and comes back as the
//! machine's next [`Input`]: a fresh view, a checked spec, a computed result, or word that a
//! transaction went (or was refused: either way the next view says what happened).

use std::sync::Arc;
use std::time::Duration;

use agency_chain::{Agency, Call, ChainError, JobStatus, JobView, Revert, Terms, protocol};
use alloy::primitives::{Address, B256};

use crate::machine::{Action, Input, Mine, View};
use crate::metrics::Metrics;
use crate::retry::Retry;
use crate::work::Work;

/// What every action of the agent works with: the contract (sending as the agent), the
/// off-chain work, the metrics, and who the agent is.
#[derive(Debug)]
pub(crate) struct Actor {
    pub(crate) agency: Agency,
    pub(crate) work: Work,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) chain_id: u64,
    pub(crate) me: Address,
}

/// The job an action is for, and the chain time it was decided at.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) id: B256,
    pub(crate) terms: Terms,
    pub(crate) index: u32,
    /// The spec digest.
    pub(crate) spec: B256,
    pub(crate) now: u64,
}

impl Actor {
    /// Performs `action` for `job`; returns what the machine learns from it.
    pub(crate) async fn act(&self, job: &Target, action: Action) -> Input {
        match action {
            Action::Observe => Input::Observed(self.observe(job).await),
            Action::CheckSpec => Input::SpecChecked(self.work.check(job.spec).await.map(|_| ())),
            Action::Compute { by } => {
                let budget = Duration::from_secs(by.saturating_sub(job.now));
                match self.work.compute(job.id, job.spec, budget).await {
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
            Action::Idle | Action::WakeAt(_) => Input::Sent,
            tx => {
                let call = self.call(job, &tx);
                if let Some(result) = published(&tx)
                    && let Err(e) = self.work.publish(job.id, result).await
                {
                    tracing::warn!(error = %e, "the result cannot be added to the store");
                }
                self.send(call).await;
                Input::Sent
            }
        }
    }

    /// The contract call a transaction action sends.
    pub(crate) fn call(&self, job: &Target, action: &Action) -> Call {
        let (terms, index) = (job.terms.clone(), job.index);
        match *action {
            Action::Claim => Call::Claim { terms, index },
            Action::Submit { slot, result } => Call::Submit {
                terms,
                index,
                slot,
                result,
            },
            Action::Commit { slot, result, salt } => Call::Commit {
                terms,
                index,
                slot,
                commitment: self.sealed(job.id, result, salt),
            },
            Action::RevealLast { slot, result } => Call::RevealLast {
                terms,
                index,
                slot,
                result,
            },
            Action::ClaimAndCommit { result, salt } => Call::ClaimAndCommit {
                terms,
                index,
                commitment: self.sealed(job.id, result, salt),
            },
            Action::Reveal { slot, result, salt } => Call::Reveal {
                terms,
                index,
                slot,
                result,
                salt,
            },
            Action::Finalize => Call::Finalize { terms, index },
            Action::Expire => Call::Expire { terms, index },
            Action::Release { slot } => Call::Release { terms, index, slot },
            Action::Idle
            | Action::Observe
            | Action::WakeAt(_)
            | Action::CheckSpec
            | Action::Compute { .. } => unreachable!("not a transaction: {action:?}"),
        }
    }

    /// This agent's commitment to `result` with `salt` for job `job`.
    fn sealed(&self, job: B256, result: B256, salt: B256) -> B256 {
        protocol::commitment(
            self.chain_id,
            self.agency.address(),
            job,
            self.me,
            result,
            salt,
        )
    }

    /// Sends a transaction; retries what may pass, a few times. A refusal is not an error
    /// here: the next observation shows what happened.
    async fn send(&self, call: Call) {
        let name = call.name();
        let start = std::time::Instant::now();
        let sent = Retry::SEND
            .run_if(
                name,
                || {
                    let call = call.clone();
                    async move {
                        self.metrics.pending_transactions.inc();
                        let sent = self.agency.send(call).await;
                        self.metrics.pending_transactions.dec();
                        sent
                    }
                },
                // No receipt within the sender's budget (fee bumps included): the transaction
                // may still be pending, so sending again could make a second one.
                |e: &ChainError| e.is_retryable() && !e.may_be_pending(),
            )
            .await;
        match sent {
            Ok(_) => {
                tracing::debug!(call = name, "mined");
                self.metrics.observe(name, start.elapsed().as_secs_f64());
            }
            Err(e) if e.may_be_pending() => {
                tracing::warn!(call = name, error = %e, "no receipt; observing the job again");
            }
            Err(e) => tracing::info!(call = name, error = %e, "not sent"),
        }
    }

    /// Reads the job's view, retrying until the node answers. A job the contract does not know
    /// (its post was reorged away), or one it reports with a code this build does not know, is
    /// seen as unknown: nothing this agent can act on.
    async fn observe(&self, job: &Target) -> View {
        let unknown = |e: &ChainError| {
            matches!(e.revert(), Some(Revert::UnknownJob(_)))
                || matches!(e, ChainError::UnknownCode { .. })
        };
        let read = Retry::READ
            .run_if(
                "reading the job",
                || self.agency.job(&job.terms, job.index),
                |e| !unknown(e),
            )
            .await;
        match read {
            Ok(view) => view_of(&view, &job.terms, self.me, job.now),
            Err(e) => {
                if matches!(e, ChainError::UnknownCode { .. }) {
                    tracing::warn!(error = %e, "the job's view is not one this build reads");
                }
                View {
                    now: job.now,
                    status: None,
                    reveal_end: 0,
                    committed: 0,
                    free: 0,
                    mine: None,
                    earned: None,
                }
            }
        }
    }
}

/// The result digest a transaction action puts on chain in the clear, always from a slot the
/// agent already holds: the store must hold its envelope first. A commitment binds a digest
/// without showing it, so a commit publishes nothing.
fn published(action: &Action) -> Option<B256> {
    match *action {
        Action::Submit { result, .. }
        | Action::Reveal { result, .. }
        | Action::RevealLast { result, .. } => Some(result),
        _ => None,
    }
}

/// The machine's view of a job from `jobOf`: what this agent holds, what it earned.
fn view_of(v: &JobView, terms: &Terms, me: Address, now: u64) -> View {
    let mine = v.slot_of(me).map(|(slot, s)| Mine {
        slot,
        phase: s.phase,
        deadline: s.deadline,
    });
    View {
        now,
        status: Some(v.status),
        reveal_end: v.reveal_end,
        committed: v.committed,
        free: v.free_slots(),
        mine,
        earned: (v.status == JobStatus::Accepted)
            .then(|| protocol::earned(terms, v, me))
            .flatten(),
    }
}
