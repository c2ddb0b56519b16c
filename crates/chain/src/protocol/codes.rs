//! The contract's codes: job status and slot phase (the `Status` and `Phase` enums of
//! `IJobAgency.sol`, carried as `uint8` in the ABI) and slash reasons (`SLASH_*` in
//! `JobAgency.sol`). Their names are the ones command-line output, JSON and the web UI show.

/// A job's status as `jobOf` reports it (`IJobAgency.Status`, docs/protocol.md §1). Code 0
/// is a job that does not exist; `jobOf` reverts with `UnknownJob` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Open,
    Revealing,
    Accepted,
    NoConsensus,
    Expired,
    Cancelled,
}

impl JobStatus {
    /// Every status, in the contract's order.
    pub const ALL: [Self; 6] = [
        Self::Open,
        Self::Revealing,
        Self::Accepted,
        Self::NoConsensus,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The status with the contract's `code`; `None` for 0 (no job) or a code this build does
    /// not know.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// Its name in command-line output and JSON: `open`, `no-consensus`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Revealing => "revealing",
            Self::Accepted => "accepted",
            Self::NoConsensus => "no-consensus",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status named `name` (as [`JobStatus::name`] spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the job is over: nothing more can happen to it.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Open | Self::Revealing)
    }
}

/// The phase of one slot of a job (`IJobAgency.Phase`, docs/protocol.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotPhase {
    Empty,
    Claimed,
    Committed,
    Revealed,
}

impl SlotPhase {
    /// Every phase, in the contract's order (code 0 first).
    pub const ALL: [Self; 4] = [Self::Empty, Self::Claimed, Self::Committed, Self::Revealed];

    /// The phase with the contract's `code`; `None` for a code this build does not know.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Its name in command-line output and JSON: `empty`, `claimed`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Claimed => "claimed",
            Self::Committed => "committed",
            Self::Revealed => "revealed",
        }
    }

    /// Whether an agent holds the slot.
    pub fn is_held(self) -> bool {
        self != Self::Empty
    }
}

/// Why a slot's collateral was slashed (the `reason` of a `Slashed` event, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlashReason {
    /// Its claim lapsed undelivered and someone evicted it (`SLASH_EVICTED`).
    Evicted,
    /// Still only claimed when the job settled (`SLASH_UNDELIVERED`).
    Undelivered,
    /// Committed but never revealed (`SLASH_NO_REVEAL`).
    NoReveal,
    /// Revealed a result that lost to the quorum (`SLASH_WRONG_RESULT`).
    WrongResult,
}

impl SlashReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 4] = [
        Self::Evicted,
        Self::Undelivered,
        Self::NoReveal,
        Self::WrongResult,
    ];

    /// The reason with the contract's `code`; `None` for a code this build does not know.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// What it means, for people: `evicted`, `wrong result`, …
    pub fn describe(self) -> &'static str {
        match self {
            Self::Evicted => "evicted",
            Self::Undelivered => "undelivered at the deadline",
            Self::NoReveal => "did not reveal",
            Self::WrongResult => "wrong result",
        }
    }

    /// The description of `code`, or `?` for a code this build does not know.
    pub fn describe_code(code: u8) -> &'static str {
        Self::from_code(code).map_or("?", Self::describe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::source;

    #[test]
    fn job_status_codes_are_the_contracts() {
        // The ABI carries enums as uint8 without their names: read them from the source.
        let names = source::enum_members("Status");
        assert_eq!(names.len(), 7, "{names:?}");
        assert_eq!(names[0], "None");
        assert_eq!(JobStatus::from_code(0), None);
        for (code, name) in names.iter().enumerate().skip(1) {
            let ours = JobStatus::from_code(code as u8).expect("a known code");
            assert_eq!(format!("{ours:?}"), *name, "code {code}");
            assert_eq!(JobStatus::from_name(ours.name()), Some(ours));
        }
        assert_eq!(JobStatus::from_code(7), None);
        assert_eq!(JobStatus::from_name("Open"), None);
        let terminal: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal.len(), 4);
    }

    #[test]
    fn slot_phase_codes_are_the_contracts() {
        let names = source::enum_members("Phase");
        assert_eq!(names.len(), SlotPhase::ALL.len(), "{names:?}");
        for (code, name) in names.iter().enumerate() {
            let ours = SlotPhase::from_code(code as u8).expect("a known code");
            assert_eq!(format!("{ours:?}"), *name, "code {code}");
        }
        assert_eq!(SlotPhase::from_code(4), None);
        assert!(!SlotPhase::Empty.is_held() && SlotPhase::Claimed.is_held());
    }

    #[test]
    fn slash_reason_codes_are_the_contracts() {
        let constants = [
            ("SLASH_EVICTED", SlashReason::Evicted),
            ("SLASH_UNDELIVERED", SlashReason::Undelivered),
            ("SLASH_NO_REVEAL", SlashReason::NoReveal),
            ("SLASH_WRONG_RESULT", SlashReason::WrongResult),
        ];
        for (name, ours) in constants {
            let code = source::constant(name);
            assert_eq!(SlashReason::from_code(code as u8), Some(ours), "{name}");
        }
        let declared = source::CONTRACT
            .lines()
            .filter(|l| l.contains("constant SLASH_"))
            .count();
        assert_eq!(
            declared,
            SlashReason::ALL.len(),
            "a slash reason this side lacks"
        );
        assert_eq!(SlashReason::describe_code(9), "?");
    }
}
