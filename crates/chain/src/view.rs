//! A job's state as `jobOf` reports it, in domain types: status and phases as enums, times as
//! seconds, counts as small numbers.

use alloy::primitives::{Address, B256};

use crate::bindings::IJobAgency;
use crate::error::ChainError;
use crate::protocol::{JobStatus, SlotPhase};

/// One job's state. A job whose reveals the deadline opened shows as [`JobStatus::Revealing`]
/// before any call moves it (the contract applies that rule in the view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub id: B256,
    pub status: JobStatus,
    /// Slots held (r > 1; 0 or 1 at r = 1).
    pub held: u8,
    /// Slots committed or revealed (r > 1).
    pub committed: u8,
    /// Slots revealed (r > 1).
    pub revealed: u8,
    /// When reveals end, in seconds; 0 until they are open.
    pub reveal_end: u64,
    /// One per replica, in slot order.
    pub slots: Vec<SlotView>,
}

/// One slot of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    /// The holder (the zero address when empty).
    pub agent: Address,
    pub phase: SlotPhase,
    /// `min(claim time + delivery window, deadline)`, in seconds; 0 when empty.
    pub deadline: u64,
    /// The commitment while committed, the result digest once revealed (r > 1).
    pub sealed: B256,
}

impl JobView {
    /// Empty slots.
    pub fn free_slots(&self) -> u8 {
        self.slots.iter().filter(|s| !s.phase.is_held()).count() as u8
    }

    /// The slot `agent` holds, with its number.
    pub fn slot_of(&self, agent: Address) -> Option<(u8, &SlotView)> {
        self.slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.phase.is_held() && s.agent == agent)
            .map(|(i, s)| (i as u8, s))
    }

    pub(crate) fn decode(v: IJobAgency::JobView) -> Result<Self, ChainError> {
        let code = |what: &'static str, code: u8| ChainError::UnknownCode { what, code };
        let small = |n: alloy::primitives::U256| n.saturating_to::<u8>();
        let slots = v
            .slots
            .iter()
            .map(|s| {
                Ok(SlotView {
                    agent: s.agent,
                    phase: SlotPhase::from_code(s.phase).ok_or(code("slot phase", s.phase))?,
                    deadline: s.deadline.saturating_to(),
                    sealed: s.sealedResult,
                })
            })
            .collect::<Result<_, ChainError>>()?;
        Ok(Self {
            id: v.id,
            status: JobStatus::from_code(v.status).ok_or(code("job status", v.status))?,
            held: small(v.held),
            committed: small(v.committed),
            revealed: small(v.revealed),
            reveal_end: v.revealEnd.saturating_to(),
            slots,
        })
    }
}
