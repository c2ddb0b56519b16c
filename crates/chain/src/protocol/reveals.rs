//! When reveals open (docs/protocol.md §2, `reveal`): at the r-th commit, or once the deadline
//! has passed with at least a quorum of commits. The contract applies the second half lazily:
//! `jobOf` already reports such a job as `Revealing`, but only as of the block it read; a client
//! whose clock has moved past the deadline since then applies the rule itself.

use crate::bindings::IJobAgency::Terms;
use crate::protocol::JobStatus;

/// Whether `reveal` is taken at chain time `now` for a job `jobOf` reported with `status` and
/// `committed` slots.
pub fn reveals_open(terms: &Terms, status: JobStatus, committed: u8, now: u64) -> bool {
    status == JobStatus::Revealing
        || (status == JobStatus::Open
            && now > terms.deadline.to::<u64>()
            && committed >= terms.quorum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::aliases::U40;

    #[test]
    fn reveals_open_at_the_last_commit_or_by_the_deadline_with_a_quorum() {
        let t = Terms {
            replicas: 3,
            quorum: 2,
            deadline: U40::from(1_000),
            ..Terms::default()
        };
        assert!(reveals_open(&t, JobStatus::Revealing, 3, 10));
        assert!(
            !reveals_open(&t, JobStatus::Open, 2, 1_000),
            "not past the deadline"
        );
        assert!(reveals_open(&t, JobStatus::Open, 2, 1_001));
        assert!(
            !reveals_open(&t, JobStatus::Open, 1, 1_001),
            "no quorum of commits"
        );
        assert!(!reveals_open(&t, JobStatus::Accepted, 3, 1_001), "over");
    }
}
