//! The contract's arithmetic (docs/protocol.md §1, §5) as pure functions: what a client needs to
//! name jobs and seal results without asking the chain.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::SolValue;

use crate::bindings::IJobAgency::Terms;

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
    fn specs_hash_of_nothing_is_keccak_of_empty() {
        assert_eq!(specs_hash(&[]), keccak256([]));
    }
}
