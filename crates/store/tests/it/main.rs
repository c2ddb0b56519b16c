//! Integration tests of agency-store: Kubo vectors, every backend, CAR, the HTTP API, and
//! interop with independent IPFS implementations (npm packages, see tests/interop/).

mod backends;
mod car;
mod interop;
mod server;
mod support;
mod vectors;
