//! The JobAgency ABI as Rust types: calls, events, custom errors and the bytecode.

alloy::sol!(
    #[allow(missing_docs, unreachable_pub)]
    #[sol(rpc, all_derives)]
    JobAgency,
    "../../contracts/artifacts/JobAgency.json"
);
