//! Typed client of the JobAgency contract (`contracts/src/JobAgency.sol`).
//!
//! Bindings come from the committed artifact (`contracts/artifacts/JobAgency.json`) through
//! alloy's `sol!`, so the Rust side can never drift from the deployed ABI. [`protocol`] holds the
//! contract's arithmetic as pure functions (batch and job ids, commitments), checked against the
//! vectors in `contracts/vectors/`. This crate talks to any Ethereum JSON-RPC endpoint; it never
//! depends on the store or the runner.

pub mod bindings;
mod client;
mod error;
pub mod events;
mod keys;
mod lookup;
pub mod protocol;
mod sender;

pub use client::{
    Account, Agency, RECEIPT_TIMEOUT, RPC_TIMEOUT, http_client, http_provider, wait_receipt,
};
pub use error::ChainError;
pub use keys::{KeyError, KeySource};
pub use lookup::Posted;
pub use sender::{SendConfig, Sender, Sent};
