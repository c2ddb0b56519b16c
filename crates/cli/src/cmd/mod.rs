//! Subcommands, one module each.

pub(crate) mod account;
pub(crate) mod bench;
pub(crate) mod chain;
pub(crate) mod deploy;
pub(crate) mod dev;
pub(crate) mod job;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod store;
pub(crate) mod worker;
