//! Typed client of the JobAgency contract (`contracts/src/JobAgency.sol`), and the one home of
//! the market's rules on the Rust side.
//!
//! Bindings come from the committed artifact (`contracts/artifacts/JobAgency.json`) through
//! alloy's `sol!`, so the Rust side can never drift from the deployed ABI. [`protocol`] holds the
//! contract's rules as pure functions and types (ids, commitments, status/phase/slash codes, the
//! bounds `post` checks, the payout split, gas floors), each checked against the contract's
//! source, its gas snapshots or the vectors in `contracts/vectors/`. [`Agency`] is the typed
//! surface every other crate uses: [`Call`]s to send, domain views back; alloy's providers and
//! contract instances stay inside. This crate talks to any Ethereum JSON-RPC endpoint; it never
//! depends on the store or the runner.

pub mod bindings;
mod call;
mod client;
mod error;
pub mod events;
mod keys;
mod lookup;
pub mod protocol;
mod sender;
#[cfg(feature = "test-utils")]
pub mod testing;
mod view;

pub use bindings::IJobAgency::Terms;
pub use bindings::JobAgency::{JobAgencyErrors as Revert, JobAgencyEvents as Event};
pub use call::Call;
pub use client::{
    Account, Agency, Deployed, Head, Mined, RECEIPT_TIMEOUT, RPC_TIMEOUT, http_client,
};
pub use error::ChainError;
pub use keys::{KeyError, KeySource};
pub use lookup::Posted;
pub use protocol::{Batch, JobStatus, SlashReason, SlotPhase, TermsBuilder, TermsError};
pub use sender::{SendConfig, Sender, Sent};
pub use view::{JobView, SlotView};
