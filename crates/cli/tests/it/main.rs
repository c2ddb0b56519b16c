//! Tests of the `agency` binary as users run it.
#![allow(clippy::unwrap_used, unreachable_pub, reason = "test binary")]

mod bench;
mod chain;
mod dev;
mod examples;
mod exposed;
mod hosts;
mod readme;
mod run;
mod store;
mod tls;
mod web;
mod worker;

use std::{
    path::Path,
    process::{Command, Output},
};

/// Runs `agency` with `args` and a private data dir; returns its output.
pub fn agency(data_dir: &Path, args: &[&str]) -> Output {
    agency_cmd(data_dir).args(args).output().unwrap()
}

/// The `agency` command with a private data dir and no inherited Agency settings.
pub fn agency_cmd(data_dir: &Path) -> Command {
    clean_cmd(env!("CARGO_BIN_EXE_agency"), data_dir)
}

/// `program` with a private data dir and no inherited Agency settings.
pub fn clean_cmd(program: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("AGENCY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AGENCY_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
