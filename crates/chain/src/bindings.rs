//! The JobAgency ABI as Rust types: calls, events, custom errors and the bytecode.
//!
//! Every type also derives serde, so the one `Terms` shape is what the agent journals (its
//! fields keep their Solidity names; `deadline` is written as hex and read from a number too).

alloy::sol!(
    #[allow(missing_docs, unreachable_pub)]
    #[sol(rpc, all_derives, extra_derives(serde::Serialize, serde::Deserialize))]
    JobAgency,
    "../../contracts/artifacts/JobAgency.json"
);
