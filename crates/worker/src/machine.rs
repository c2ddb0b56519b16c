//! The per-job state machine: `step(state, input, terms, agent) -> (state, action)`, pure.
//!
//! The machine is level-triggered. Besides what only the agent knows (its result and salt, and
//! whether it gave the job up), it keeps nothing it could read from the chain: every decision is
//! made on a fresh [`View`] of the job. So a restart, a lost receipt, a reorg or a missed event
//! all come down to the same thing: observe the job again and act on what is there. The driver
//! journals the state a step returns before it starts the step's action, so the result and salt a
//! commitment binds are on disk before the commitment is sent, and never change afterwards.

use agency_chain::Terms;
use agency_chain::protocol::{self, JobStatus};
use alloy::primitives::{B256, U256};

pub use agency_chain::SlotPhase;
use serde::{Deserialize, Serialize};

/// What the agent knows about one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    pub phase: Phase,
    /// The envelope digest this agent computed, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<B256>,
    /// The salt of its commitment (r > 1), chosen with the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<B256>,
    /// Claims sent for this job so far.
    #[serde(default)]
    pub claims: u8,
    /// The result is on chain (submitted, committed or revealed).
    #[serde(default)]
    pub delivered: bool,
}

/// Claims an agent sends for one job before it stops trying (each refused one costs nothing
/// but an estimate; a race lost to another agent is the usual reason).
pub const MAX_CLAIMS: u8 = 3;

/// Where the agent stands with a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "phase", content = "why")]
pub enum Phase {
    /// Discovered; not yet decided.
    New,
    /// Not worth claiming now (reason); looked at again if a slot reopens.
    Skipped(String),
    /// Fetching the spec to see whether this agent can run it.
    Checking,
    /// Running the job before claiming it (`run_first`): no slot held yet.
    Running,
    /// A claim is on its way (with the result, once the job ran first).
    Claiming,
    /// Holding a slot: computing, delivering, then waiting for reveals and settlement.
    Working,
    /// Giving the slot back (content missing, the run cannot finish).
    GivingUp(String),
    /// Nothing more to do.
    Done(End),
}

impl Phase {
    /// Its name in metrics and logs: `check`, `claim`, `work`…
    pub fn name(&self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Skipped(_) => "skipped",
            Self::Checking => "check",
            Self::Running => "run-first",
            Self::Claiming => "claim",
            Self::Working => "work",
            Self::GivingUp(_) => "give-up",
            Self::Done(_) => "done",
        }
    }
}

/// How a job ended for this agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "end", content = "detail")]
pub enum End {
    /// Its result won; the wei it earned (reward share plus slashes, collateral not counted).
    Won(U256),
    /// It revealed a result that lost to a quorum (slashed).
    Lost,
    /// Reveals ended without a quorum (collateral back, reward to the requester).
    NoConsensus,
    /// It held a slot but did not deliver or reveal in time (slashed).
    Missed,
    /// It gave its slot back (collateral back, `missed + 1`).
    Released(String),
    /// The job expired with this agent's commitment in (collateral back).
    Expired,
    /// Ended (or filled up) without this agent holding a slot.
    Passed,
    /// The spec cannot be run by this agent (unknown runtime, malformed, missing).
    Unrunnable(String),
    /// The job is not on chain (its post was reorged away).
    Vanished,
}

impl End {
    /// Its name in metrics: `won`, `lost`, `missed`…
    pub fn name(&self) -> &'static str {
        match self {
            Self::Won(_) => "won",
            Self::Lost => "lost",
            Self::NoConsensus => "no-consensus",
            Self::Missed => "missed",
            Self::Released(_) => "released",
            Self::Expired => "expired",
            Self::Passed => "passed",
            Self::Unrunnable(_) => "unrunnable",
            Self::Vanished => "vanished",
        }
    }
}

/// The job's status on chain: `None` when `jobOf` reverted with `UnknownJob` (or reported a
/// status this build does not know).
pub type Status = Option<JobStatus>;

/// This agent's slot in a job: a held one (never [`SlotPhase::Empty`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mine {
    pub slot: u8,
    pub phase: SlotPhase,
    /// `min(claim time + delivery window, deadline)`.
    pub deadline: u64,
}

/// A fresh look at the job on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The chain's time (seconds).
    pub now: u64,
    pub status: Status,
    /// When reveals end, once they are open.
    pub reveal_end: u64,
    /// Slots committed or revealed (r > 1).
    pub committed: u8,
    /// Empty slots.
    pub free: u8,
    pub mine: Option<Mine>,
    /// Once accepted: what this agent was credited beyond its collateral, if it won.
    pub earned: Option<U256>,
}

/// What the machine knows of the agent itself: its policy and where it stands (balance,
/// score), for deciding whether to claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agent {
    /// New claims allowed (false while shutting down).
    pub claiming: bool,
    pub min_reward: U256,
    /// The agent's free balance (claims draw collateral from it).
    pub balance: U256,
    /// The agent's reputation points (docs/protocol.md §6).
    pub points: u64,
    /// Seconds a claim must leave before the job's deadline to be worth making.
    pub margin: u64,
    /// Run a job before claiming it, then claim and commit in one transaction
    /// (`claimAndCommit`, r > 1), or claim and then deliver in the clear where the digest may
    /// be public (`submit` at r = 1, `revealLast` for the last slot when every other slot has
    /// committed): fewer transactions and less gas per job, for work lost when another agent
    /// claims first. A digest never travels before the claim that holds its slot has landed.
    pub run_first: bool,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The job was just discovered (its `JobsPosted` event).
    Discovered,
    /// A fresh view of the job.
    Observed(View),
    /// The spec was fetched: runnable here, or why not.
    SpecChecked(Result<(), String>),
    /// The job ran and its envelope is kept here (published only when its digest is sent); a
    /// fresh salt goes with it.
    Computed { result: B256, salt: B256 },
    /// The job cannot be finished here (content missing past its timeout, the wall-clock cap).
    ComputeFailed(String),
    /// A transaction was mined, or was refused for good (a revert): either way, look again.
    Sent,
}

/// What to do next. At most one per step; the driver feeds its outcome back as an [`Input`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing until an event of the job arrives.
    Idle,
    /// Read the job's view.
    Observe,
    /// Observe again once the chain's clock passes this time (or on an event of the job).
    WakeAt(u64),
    /// Fetch the spec and check this agent can run it.
    CheckSpec,
    Claim,
    /// Fetch, run and keep the envelope; give up if it cannot be done by `by` (chain time).
    Compute {
        by: u64,
    },
    Submit {
        slot: u8,
        result: B256,
    },
    Commit {
        slot: u8,
        result: B256,
        salt: B256,
    },
    Reveal {
        slot: u8,
        result: B256,
        salt: B256,
    },
    /// The last slot to deliver, in the clear (every other slot has committed).
    RevealLast {
        slot: u8,
        result: B256,
    },
    /// Claim and commit at once (r > 1), with the result of a run made before claiming: the
    /// commitment names this agent, so a copy of the call gains its sender nothing.
    ClaimAndCommit {
        result: B256,
        salt: B256,
    },
    Finalize,
    Expire,
    Release {
        slot: u8,
    },
}

impl JobState {
    /// A job just discovered.
    pub fn new() -> Self {
        Self {
            phase: Phase::New,
            result: None,
            salt: None,
            claims: 0,
            delivered: false,
        }
    }

    /// Whether the job needs nothing more from this agent.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done(_))
    }

    /// Whether the job occupies one of the agent's concurrent places: checking, claiming, or
    /// holding a slot whose result is not on chain yet.
    pub fn is_busy(&self) -> bool {
        match self.phase {
            Phase::Checking | Phase::Running | Phase::Claiming | Phase::GivingUp(_) => true,
            Phase::Working => !self.delivered,
            _ => false,
        }
    }
}

impl Default for JobState {
    fn default() -> Self {
        Self::new()
    }
}

/// One step: the state after `input`, and the action to take.
pub fn step(state: &JobState, input: Input, terms: &Terms, agent: &Agent) -> (JobState, Action) {
    let mut next = state.clone();
    if state.is_done() {
        return (next, Action::Idle);
    }
    let action = match input {
        Input::Discovered => match worth_claiming(terms, agent, None) {
            Ok(()) => Action::Observe,
            Err(why) => {
                next.phase = Phase::Skipped(why);
                Action::Idle
            }
        },
        Input::SpecChecked(Ok(())) if state.phase == Phase::Checking && agent.run_first => {
            if state.result.is_some() {
                // Ran before (a slot reopened since): claim with that result.
                next.phase = Phase::Claiming;
                Action::Observe
            } else {
                next.phase = Phase::Running;
                run_before_claiming(terms, agent)
            }
        }
        Input::SpecChecked(Ok(())) if state.phase == Phase::Checking => {
            next.phase = Phase::Claiming;
            next.claims += 1;
            Action::Claim
        }
        Input::SpecChecked(Err(why)) if state.phase == Phase::Checking => {
            next.phase = Phase::Done(End::Unrunnable(why));
            Action::Idle
        }
        Input::Computed { result, salt } => {
            // Set once: a commitment may already bind them.
            if next.result.is_none() {
                next.result = Some(result);
                next.salt = Some(salt);
            }
            Action::Observe
        }
        Input::ComputeFailed(why) if state.phase == Phase::Running => {
            // Nothing held: nothing to give back.
            next.phase = Phase::Done(End::Unrunnable(why));
            Action::Idle
        }
        Input::ComputeFailed(why) if state.result.is_none() => {
            next.phase = Phase::GivingUp(why);
            Action::Observe
        }
        Input::Observed(view) => return observed(state, view, terms, agent),
        // A check or failure that no longer applies, or a mined transaction: look again.
        _ => Action::Observe,
    };
    (next, action)
}

/// Whether a job is worth claiming, from its terms and (once observed) its view.
fn worth_claiming(terms: &Terms, agent: &Agent, view: Option<&View>) -> Result<(), String> {
    if !agent.claiming {
        return Err("not claiming (shutting down)".into());
    }
    if U256::from(terms.reward) < agent.min_reward {
        return Err(format!(
            "reward {} wei is below the minimum {}",
            terms.reward, agent.min_reward
        ));
    }
    if !protocol::meets_reputation(terms, agent.points) {
        return Err(format!(
            "requires {} reputation points, this agent has {}",
            terms.minReputation, agent.points
        ));
    }
    if U256::from(terms.collateral) > agent.balance {
        return Err(format!(
            "collateral {} wei exceeds the free stake {}",
            terms.collateral, agent.balance
        ));
    }
    if let Some(view) = view {
        if view.status != Some(JobStatus::Open) {
            return Err("not open".into());
        }
        if view.free == 0 {
            return Err(NO_FREE_SLOT.into());
        }
        if view.now.saturating_add(agent.margin) >= deadline(terms) {
            return Err("too close to its deadline".into());
        }
    }
    Ok(())
}

/// The skip reason that a reopened slot (a release or eviction) makes worth looking at again.
pub const NO_FREE_SLOT: &str = "no free slot";

fn observed(state: &JobState, view: View, terms: &Terms, agent: &Agent) -> (JobState, Action) {
    let mut next = state.clone();
    let done = |end: End| {
        let mut next = state.clone();
        next.phase = Phase::Done(end);
        (next, Action::Idle)
    };
    // A job that ended: how it ended for this agent.
    match view.status {
        None => return done(End::Vanished),
        Some(status) if status.is_terminal() => return done(ended(&view, state)),
        Some(_) => {}
    }
    let held_before = matches!(state.phase, Phase::Working | Phase::GivingUp(_));
    let Some(mine) = view.mine.filter(|m| m.phase.is_held()) else {
        // No slot. Had one: it was released (by us) or evicted; else, maybe claim.
        if let Phase::GivingUp(why) = &state.phase {
            return done(End::Released(why.clone()));
        }
        if held_before {
            return done(End::Missed);
        }
        return match worth_claiming(terms, agent, Some(&view)) {
            // Running, but no run in flight (the driver observes a job only between its
            // actions): a restart lost it. Run again.
            Ok(()) if state.phase == Phase::Running && state.result.is_none() => {
                (next, run_before_claiming(terms, agent))
            }
            Ok(())
                if matches!(state.phase, Phase::Running | Phase::Claiming)
                    && state.claims < MAX_CLAIMS =>
            {
                // Ran first, or the claim went nowhere (refused) and a slot is still free:
                // claim (again).
                next.phase = Phase::Claiming;
                next.claims += 1;
                (next, claim(state, &view, terms))
            }
            Ok(()) if state.phase == Phase::Claiming => {
                next.phase = Phase::Skipped(format!("{MAX_CLAIMS} claims refused"));
                (next, Action::Idle)
            }
            Ok(()) => {
                next.phase = Phase::Checking;
                (next, Action::CheckSpec)
            }
            Err(why) => {
                next.phase = Phase::Skipped(why);
                (next, Action::Idle)
            }
        };
    };
    if !matches!(state.phase, Phase::GivingUp(_)) {
        next.phase = Phase::Working;
    }
    if mine.phase != SlotPhase::Claimed {
        next.delivered = true;
    }
    let wake = |t: u64| Action::WakeAt(later(view.now, t));
    // Settling (finalize, expire) is open to anyone past a time; the agents of a job take
    // turns by slot, so they do not all send the same call at once and all but one revert.
    let settle = |after: u64, action: Action| {
        let turn = after + SETTLE_STAGGER * u64::from(mine.slot);
        if view.now > turn {
            action
        } else {
            wake(turn + 1)
        }
    };
    // When reveals end: `revealEnd` once they are open, else (opened by the deadline) the
    // deadline is the earliest they can.
    let deadline = deadline(terms);
    let end = if view.reveal_end == 0 {
        deadline
    } else {
        view.reveal_end
    };
    let action = match (mine.phase, state.result, state.salt) {
        (SlotPhase::Claimed, _, _) if view.status == Some(JobStatus::Revealing) => {
            // Commits closed by the deadline without us: we are slashed at finalize, which
            // anyone may call once reveals end.
            settle(view.reveal_end, Action::Finalize)
        }
        (SlotPhase::Claimed, _, _) if view.now > mine.deadline => {
            // Lapsed: anyone may evict it now; nothing this agent can do but watch.
            wake(deadline.max(mine.deadline) + 1)
        }
        (SlotPhase::Claimed, None, _) => match &state.phase {
            Phase::GivingUp(_) => Action::Release { slot: mine.slot },
            _ => Action::Compute {
                by: mine.deadline.saturating_sub(agent.margin),
            },
        },
        (SlotPhase::Claimed, Some(result), _) if terms.replicas == 1 => Action::Submit {
            slot: mine.slot,
            result,
        },
        // Everyone else has committed: nobody is left to copy the result, so deliver it in
        // the clear and save the reveal.
        (SlotPhase::Claimed, Some(result), Some(_))
            if agent.run_first && view.committed + 1 == terms.replicas =>
        {
            Action::RevealLast {
                slot: mine.slot,
                result,
            }
        }
        (SlotPhase::Claimed, Some(result), Some(salt)) => Action::Commit {
            slot: mine.slot,
            result,
            salt,
        },
        // Claimed with a result but no salt (r > 1) cannot happen: both are set together.
        (SlotPhase::Claimed, Some(_), None) => Action::Release { slot: mine.slot },
        (SlotPhase::Committed, result, salt) => {
            let reveals_open = view
                .status
                .is_some_and(|s| protocol::reveals_open(terms, s, view.committed, view.now));
            match (result, salt) {
                _ if reveals_open && view.now > end && view.reveal_end != 0 => {
                    settle(end, Action::Finalize)
                }
                (Some(result), Some(salt)) if reveals_open => Action::Reveal {
                    slot: mine.slot,
                    result,
                    salt,
                },
                // Too few commits by the deadline: expire it to get the collateral back.
                _ if !reveals_open && view.now > deadline => settle(deadline, Action::Expire),
                (Some(_), Some(_)) => wake(deadline + 1),
                // Committed, but the result or salt is gone (the journal was lost): this slot
                // cannot reveal. Wait for the job to settle.
                _ => wake(end.max(deadline) + 1),
            }
        }
        (SlotPhase::Revealed, _, _) => {
            if view.status == Some(JobStatus::Revealing) && view.now > end {
                settle(end, Action::Finalize)
            } else {
                wake(end + 1)
            }
        }
        (SlotPhase::Empty, _, _) => unreachable!("`mine` is a held slot (filtered above)"),
    };
    (next, action)
}

/// Runs the job with no slot held (`run_first`): it must end `margin` before the job's deadline.
fn run_before_claiming(terms: &Terms, agent: &Agent) -> Action {
    Action::Compute {
        by: deadline(terms).saturating_sub(agent.margin),
    }
}

/// The job's deadline, in seconds.
fn deadline(terms: &Terms) -> u64 {
    terms.deadline.to()
}

/// The claim to send: fused with the commitment when the job ran first (r > 1), else plain.
/// A result digest in the clear (r = 1, or the last slot of r > 1) waits for the claim to land:
/// sent with it, anyone watching pending transactions could send the same call first and be
/// paid, and the requester could cancel ahead of it and keep the result (docs/security.md).
fn claim(state: &JobState, view: &View, terms: &Terms) -> Action {
    match (state.result, state.salt) {
        _ if terms.replicas == 1 => Action::Claim,
        // The last free slot, every other one committed: claim, then deliver in the clear.
        _ if view.free == 1 && view.committed + 1 == terms.replicas => Action::Claim,
        (Some(result), Some(salt)) => Action::ClaimAndCommit { result, salt },
        _ => Action::Claim,
    }
}

/// Seconds each slot waits after the one before it to settle a job (slot 0 at once).
pub const SETTLE_STAGGER: u64 = 10;

/// Seconds between looks at a job that waits on someone else (an eviction, a finalize) past
/// its deadlines; its events wake it sooner.
pub const RECHECK: u64 = 60;

/// `t` if it is still ahead of `now`, else a while from now: a wake-up time never in the past.
fn later(now: u64, t: u64) -> u64 {
    if t > now { t } else { now + RECHECK }
}

/// How a terminal job ended for this agent, from its final view.
fn ended(view: &View, state: &JobState) -> End {
    let Some(mine) = view.mine else {
        return match &state.phase {
            Phase::GivingUp(why) => End::Released(why.clone()),
            Phase::Working => End::Missed,
            _ => End::Passed,
        };
    };
    match (view.status, mine.phase) {
        (Some(JobStatus::Accepted), SlotPhase::Revealed) => match view.earned {
            Some(earned) => End::Won(earned),
            None => End::Lost,
        },
        (Some(JobStatus::NoConsensus), SlotPhase::Revealed) => End::NoConsensus,
        (Some(JobStatus::Expired), SlotPhase::Committed) => End::Expired,
        _ => End::Missed,
    }
}

#[cfg(test)]
mod tests;
