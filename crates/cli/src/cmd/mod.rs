//! Subcommands, one module each.

pub(crate) mod run;
pub(crate) mod store;
