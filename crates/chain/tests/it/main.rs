//! Integration tests of the chain client: the shared protocol vectors, and a real JobAgency
//! on anvil (npm `@foundry-rs/anvil-linux-amd64`, installed by `npm ci` at the repository root).

mod anvil;
mod keys;
mod sender;
mod vectors;
