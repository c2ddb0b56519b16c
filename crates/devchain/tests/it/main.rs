//! Integration tests of the dev chain: JSON-RPC conformance and bad input, JobAgency through
//! alloy (in-process and over HTTP), persistence, time travel, and differential runs against
//! anvil and cast (npm `@foundry-rs/*-linux-amd64`, installed by `npm ci` at the repository root).

mod cast;
mod client;
mod common;
mod differential;
mod persist;
mod rpc;
mod smoke;
mod ws;
