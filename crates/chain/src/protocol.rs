//! The contract's arithmetic (docs/protocol.md §1, §5) as pure functions: what a client needs to
//! name jobs and seal results without asking the chain.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;

use crate::bindings::IJobAgency::Terms;

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

/// How many low bits of a job id hold its index in the batch.
pub const INDEX_BITS: u32 = 32;

/// `keccak256(abi.encodePacked(digests))`: the `specs` field of [`Terms`] for these spec digests.
pub fn specs_hash(digests: &[B256]) -> B256 {
    keccak256(digests.iter().flat_map(|d| d.0).collect::<Vec<u8>>())
}

/// The id of the batch `terms` posts: the keccak of its ABI encoding, low 32 bits cleared.
pub fn batch_id(terms: &Terms) -> B256 {
    let mut id = keccak256(terms.abi_encode());
    id.0[28..].fill(0);
    id
}

/// The id of job `index` of the batch `terms` posts.
pub fn job_id(terms: &Terms, index: u32) -> B256 {
    let mut id = batch_id(terms);
    id.0[28..].copy_from_slice(&index.to_be_bytes());
    id
}

/// Splits a job id into its batch id and its index in the batch.
pub fn split_job_id(job: B256) -> (B256, u32) {
    let mut batch = job;
    batch.0[28..].fill(0);
    let index: [u8; 4] = job.0[28..].try_into().expect("the last 4 of 32 bytes");
    (batch, u32::from_be_bytes(index))
}

/// The commitment an agent stores for `result` on job `job` (docs/protocol.md §5): binds the
/// chain, the contract, the job and the agent, so a copied commitment never reveals.
pub fn commitment(
    chain_id: u64,
    agency: Address,
    job: B256,
    agent: Address,
    result: B256,
    salt: B256,
) -> B256 {
    keccak256((U256::from(chain_id), agency, job, agent, result, salt).abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_round_trip_through_split() {
        let mut batch = B256::repeat_byte(0xab);
        batch.0[28..].fill(0);
        for index in [0u32, 1, 41, u32::MAX] {
            let mut job = batch;
            job.0[28..].copy_from_slice(&index.to_be_bytes());
            assert_eq!(split_job_id(job), (batch, index));
        }
    }

    #[test]
    fn job_status_codes_are_the_contracts() {
        // The ABI carries enums as uint8 without their names: read them from the source.
        let source = include_str!("../../../contracts/src/IJobAgency.sol");
        let body = source
            .split("enum Status {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("IJobAgency.sol declares enum Status");
        let names: Vec<&str> = body.split(',').map(str::trim).collect();
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
    fn specs_hash_of_nothing_is_keccak_of_empty() {
        assert_eq!(specs_hash(&[]), keccak256([]));
    }
}
