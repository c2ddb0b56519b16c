//! The market's rules as the contract keeps them (docs/protocol.md), as pure functions and types:
//! the one home on the Rust side for every code, bound, default and split the contract defines.
//! The agent, the CLI and the benchmarks call these instead of re-deriving them, and each is
//! checked against the contract's own source or vectors, so a contract change fails here first.
//!
//! - [`codes`]: job status, slot phase and slash reason codes (`IJobAgency.sol`, `JobAgency.sol`);
//! - [`terms`]: the bounds `post` checks, the default quorum, and [`TermsBuilder`], which refuses
//!   what the contract would refuse;
//! - [`payout`]: how an accepted job's reward is split, what a settlement or release burns, and
//!   the reputation points a win earns (§3, §6);
//! - [`reveals`]: when reveals open;
//! - [`gas`]: gas limits that depend on what other agents do first (from the gas snapshots);
//! - ids and commitments (§1, §5), checked against `contracts/vectors/`.

pub mod codes;
pub mod gas;
pub mod payout;
pub mod reveals;
pub mod terms;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;

use crate::bindings::IJobAgency::Terms;

pub use codes::{JobStatus, SlashReason, SlotPhase};
pub use payout::{
    POINT, RELEASE_BURN_DIVISOR, REPUTATION_FEE_BPS, burned, earned, points, release_fee,
    reputation_fee, winners,
};
pub use reveals::reveals_open;
pub use terms::{
    Batch, MAX_AMOUNT, MAX_BATCH, MAX_DURATION, MAX_REPLICAS, MIN_WINDOW, TermsBuilder, TermsError,
    default_quorum, meets_reputation,
};

/// The protocol version this build speaks (docs/protocol.md, "v2"): a contract whose code is not
/// the committed artifact's is refused ([`crate::Deployed`]).
pub const VERSION: u32 = 2;

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

/// The contract's sources, for tests that check a rule here against the rule there (the ABI
/// carries neither enum names nor constants).
#[cfg(test)]
pub(crate) mod source {
    pub(crate) const INTERFACE: &str = include_str!("../../../../contracts/src/IJobAgency.sol");
    pub(crate) const CONTRACT: &str = include_str!("../../../../contracts/src/JobAgency.sol");

    /// The member names of `enum NAME { … }` in the interface, in order.
    pub(crate) fn enum_members(name: &str) -> Vec<&'static str> {
        let body = INTERFACE
            .split(&format!("enum {name} {{"))
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_else(|| panic!("IJobAgency.sol declares enum {name}"));
        body.split(',').map(str::trim).collect()
    }

    /// The value of `constant NAME = VALUE;` in the contract, with `days` and `gwei` expanded.
    pub(crate) fn constant(name: &str) -> u64 {
        let line = CONTRACT
            .lines()
            .find(|l| l.contains(&format!(" constant {name} =")))
            .unwrap_or_else(|| panic!("JobAgency.sol declares {name}"));
        let value = line
            .split('=')
            .nth(1)
            .and_then(|v| v.split(';').next())
            .expect("NAME = VALUE;")
            .trim();
        match value.split_once(' ') {
            Some((n, "days")) => n.parse::<u64>().expect("a number of days") * 86_400,
            Some((n, "gwei")) => n.parse::<u64>().expect("a number of gwei") * 1_000_000_000,
            _ => value.parse().unwrap_or_else(|_| panic!("{name} = {value}")),
        }
    }
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
    fn specs_hash_of_nothing_is_keccak_of_empty() {
        assert_eq!(specs_hash(&[]), keccak256([]));
    }
}
