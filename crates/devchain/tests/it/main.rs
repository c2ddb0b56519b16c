//! Integration tests of the dev chain: JSON-RPC conformance and bad input, JobAgency through
//! alloy (in-process and over HTTP), persistence, time travel, a differential run against anvil,
//! and clients we did not write: cast (npm `@foundry-rs/cast-linux-amd64`) and viem, both
//! installed by `npm ci` at the repository root.

mod cast;
mod client;
mod common;
mod differential;
mod http;
mod persist;
mod rpc;
mod smoke;
mod viem;
mod ws;
