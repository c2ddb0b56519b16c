//! [`Call`]: every transaction the agents and the requester send to JobAgency, as one typed
//! value. [`crate::Agency::send`] sends one; its methods are shorthands for each.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::TransactionRequest;

use crate::bindings::IJobAgency::Terms;
use crate::bindings::JobAgency::JobAgencyInstance;
use crate::protocol::gas;

/// A JobAgency transaction. Jobs are named by their batch's terms and their index (terms are
/// calldata, docs/protocol.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Posts `terms.count` jobs, one per spec digest, paying every reward.
    Post {
        terms: Terms,
        specs: Vec<B256>,
    },
    Cancel {
        terms: Terms,
        index: u32,
    },
    Deposit {
        amount: U256,
    },
    /// Sends `amount` of the balance to `to` (the caller when `None`).
    Withdraw {
        amount: U256,
        to: Option<Address>,
    },
    Claim {
        terms: Terms,
        index: u32,
    },
    Release {
        terms: Terms,
        index: u32,
        slot: u8,
    },
    Submit {
        terms: Terms,
        index: u32,
        slot: u8,
        result: B256,
    },
    Commit {
        terms: Terms,
        index: u32,
        slot: u8,
        commitment: B256,
    },
    ClaimAndCommit {
        terms: Terms,
        index: u32,
        commitment: B256,
    },
    RevealLast {
        terms: Terms,
        index: u32,
        slot: u8,
        result: B256,
    },
    /// Opens a commitment. Its gas limit is at least [`gas::reveal_floor`] (see
    /// [`Call::gas_floor`]): it may land last and settle the job.
    Reveal {
        terms: Terms,
        index: u32,
        slot: u8,
        result: B256,
        salt: B256,
    },
    Finalize {
        terms: Terms,
        index: u32,
    },
    Evict {
        terms: Terms,
        index: u32,
        slot: u8,
    },
    Expire {
        terms: Terms,
        index: u32,
    },
    /// Finalizes or expires each of these jobs of a batch that can be settled now.
    Settle {
        terms: Terms,
        indices: Vec<u32>,
    },
}

impl Call {
    /// The contract function's name (`claimAndSubmit`), for errors and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Post { .. } => "post",
            Self::Cancel { .. } => "cancel",
            Self::Deposit { .. } => "deposit",
            Self::Withdraw { to: None, .. } => "withdraw",
            Self::Withdraw { to: Some(_), .. } => "withdrawTo",
            Self::Claim { .. } => "claim",
            Self::Release { .. } => "release",
            Self::Submit { .. } => "submit",
            Self::Commit { .. } => "commit",
            Self::ClaimAndCommit { .. } => "claimAndCommit",
            Self::RevealLast { .. } => "revealLast",
            Self::Reveal { .. } => "reveal",
            Self::Finalize { .. } => "finalize",
            Self::Evict { .. } => "evict",
            Self::Expire { .. } => "expire",
            Self::Settle { .. } => "settle",
        }
    }

    /// The least gas limit the call asks for, above its estimate: for calls whose cost depends
    /// on what others send first.
    pub fn gas_floor(&self) -> Option<u64> {
        match self {
            Self::Reveal { terms, .. } => Some(gas::reveal_floor(terms.replicas)),
            _ => None,
        }
    }

    /// The transaction request for the contract `c`.
    pub(crate) fn request<P: alloy::providers::Provider>(
        &self,
        c: &JobAgencyInstance<P>,
    ) -> TransactionRequest {
        let i = |index: &u32| U256::from(*index);
        let s = |slot: &u8| U256::from(*slot);
        match self {
            Self::Post { terms, specs } => {
                let value = U256::from(terms.reward) * U256::from(terms.count);
                c.post(terms.clone(), specs.clone())
                    .value(value)
                    .into_transaction_request()
            }
            Self::Cancel { terms, index } => {
                c.cancel(terms.clone(), i(index)).into_transaction_request()
            }
            Self::Deposit { amount } => c.deposit().value(*amount).into_transaction_request(),
            Self::Withdraw { amount, to: None } => c.withdraw(*amount).into_transaction_request(),
            Self::Withdraw {
                amount,
                to: Some(to),
            } => c.withdrawTo(*to, *amount).into_transaction_request(),
            Self::Claim { terms, index } => {
                c.claim(terms.clone(), i(index)).into_transaction_request()
            }
            Self::Release { terms, index, slot } => c
                .release(terms.clone(), i(index), s(slot))
                .into_transaction_request(),
            Self::Submit {
                terms,
                index,
                slot,
                result,
            } => c
                .submit(terms.clone(), i(index), s(slot), *result)
                .into_transaction_request(),
            Self::Commit {
                terms,
                index,
                slot,
                commitment,
            } => c
                .commit(terms.clone(), i(index), s(slot), *commitment)
                .into_transaction_request(),
            Self::ClaimAndCommit {
                terms,
                index,
                commitment,
            } => c
                .claimAndCommit(terms.clone(), i(index), *commitment)
                .into_transaction_request(),
            Self::RevealLast {
                terms,
                index,
                slot,
                result,
            } => c
                .revealLast(terms.clone(), i(index), s(slot), *result)
                .into_transaction_request(),
            Self::Reveal {
                terms,
                index,
                slot,
                result,
                salt,
            } => c
                .reveal(terms.clone(), i(index), s(slot), *result, *salt)
                .into_transaction_request(),
            Self::Finalize { terms, index } => c
                .finalize(terms.clone(), i(index))
                .into_transaction_request(),
            Self::Evict { terms, index, slot } => c
                .evict(terms.clone(), i(index), s(slot))
                .into_transaction_request(),
            Self::Expire { terms, index } => {
                c.expire(terms.clone(), i(index)).into_transaction_request()
            }
            Self::Settle { terms, indices } => c
                .settle(terms.clone(), indices.iter().map(i).collect())
                .into_transaction_request(),
        }
    }
}
