//! Integration tests of agency-store: Kubo vectors, every backend, CAR, the HTTP API, and
//! interop with independent IPFS implementations (npm packages, see tests/interop/).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]
#![allow(unreachable_pub, reason = "a test binary exports nothing")]

mod backends;
mod car;
mod interop;
mod server;
mod support;
mod vectors;
