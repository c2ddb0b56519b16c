//! Subcommands, one module each.

pub(crate) mod chain;
pub(crate) mod run;
pub(crate) mod store;
pub(crate) mod worker;
