//! Putting a job's events into words, the one place that does: the history `job status` shows
//! (a name and a detail per event, as text or JSON) and the progress lines `--wait` prints
//! (with counts of claims, commits and reveals).

use agency_chain::events::ChainEvent;
use agency_chain::{Event, SlashReason};
use agency_primitives::raw_cid;
use alloy::primitives::U256;
use serde_json::{Value, json};

use super::when;
use crate::opts::eth;

/// Turns a job's events into progress lines, counting claims, commits and reveals.
pub(super) struct Progress {
    r: u8,
    claimed: u32,
    committed: u32,
    revealed: u32,
}

impl Progress {
    pub(super) fn new(r: u8) -> Self {
        Self {
            r,
            claimed: 0,
            committed: 0,
            revealed: 0,
        }
    }

    pub(super) fn line(&mut self, event: &Event) -> Option<String> {
        use Event as E;
        let r = self.r;
        Some(match event {
            E::Claimed(c) if r == 1 => format!("claimed by {}: running", c.agent),
            E::Claimed(c) => {
                self.claimed += 1;
                format!("claimed {}/{r} by {}", self.claimed, c.agent)
            }
            E::Released(c) => {
                self.claimed = self.claimed.saturating_sub(1);
                format!(
                    "released by {}: the slot is free again ({} of its collateral burned)",
                    c.agent,
                    eth(c.burned)
                )
            }
            E::Evicted(c) => {
                self.claimed = self.claimed.saturating_sub(1);
                format!("evicted {}: it did not deliver in time", c.agent)
            }
            E::Committed(c) => {
                self.committed += 1;
                format!("committed {}/{r} by {}", self.committed, c.agent)
            }
            E::RevealsOpened(c) => format!("revealing until {}", when(c.revealEnd.saturating_to())),
            E::Revealed(c) => {
                self.revealed += 1;
                format!("revealed {}/{r} by {}", self.revealed, c.agent)
            }
            E::Accepted(c) => format!(
                "accepted: {} ({} agent{} agreed)",
                raw_cid(c.result.0),
                c.winners,
                if c.winners == U256::from(1) { "" } else { "s" }
            ),
            E::NoConsensus(_) => "no consensus: no result reached the quorum".into(),
            E::Expired(_) => "expired: the deadline passed without enough results".into(),
            E::Cancelled(_) => "cancelled".into(),
            E::Slashed(c) => format!(
                "slashed {}: {} ({} burned)",
                c.agent,
                SlashReason::describe_code(c.reason),
                eth(c.amount)
            ),
            _ => return None,
        })
    }
}

/// One event of a job's history: `{"block", "tx", "event", "detail"}`.
pub(super) fn history(e: &ChainEvent) -> Value {
    use Event as E;
    let (name, detail) = match &e.event {
        E::JobsPosted(c) => ("posted", format!("by {}", c.requester)),
        E::Claimed(c) => ("claimed", format!("slot {} by {}", c.slot, c.agent)),
        E::Released(c) => (
            "released",
            format!("slot {} by {} ({} burned)", c.slot, c.agent, eth(c.burned)),
        ),
        E::Evicted(c) => ("evicted", format!("slot {} of {}", c.slot, c.agent)),
        E::Committed(c) => ("committed", format!("slot {} by {}", c.slot, c.agent)),
        E::RevealsOpened(c) => (
            "reveals-opened",
            format!("until {}", when(c.revealEnd.saturating_to())),
        ),
        E::Revealed(c) => (
            "revealed",
            format!("slot {} by {}: {}", c.slot, c.agent, raw_cid(c.result.0)),
        ),
        E::Accepted(c) => (
            "accepted",
            format!("{} ({} winners)", raw_cid(c.result.0), c.winners),
        ),
        E::NoConsensus(_) => ("no-consensus", String::new()),
        E::Expired(_) => ("expired", String::new()),
        E::Cancelled(_) => ("cancelled", String::new()),
        E::Slashed(c) => (
            "slashed",
            format!(
                "{} lost {}, burned ({})",
                c.agent,
                eth(c.amount),
                SlashReason::describe_code(c.reason)
            ),
        ),
        other => ("other", format!("{other:?}")),
    };
    json!({"block": e.block, "tx": e.tx, "event": name, "detail": detail})
}
