//! What a job runs with: its deterministic limits, the runtime, and Chromium for the browser
//! runtime.

use std::path::PathBuf;

use agency_primitives::{Limits, Runtime};
use clap::Args;

/// A job's deterministic limits (`agency run`, `agency job post`).
#[derive(Debug, Args)]
pub(crate) struct LimitOpts {
    /// Fuel: CPU budget in deterministic units (interrupt checks plus the charged work of
    /// builtins, promise jobs and timers; about 13,000 per second of any work here).
    #[arg(long, default_value_t = Limits::default().fuel, value_name = "N")]
    fuel: u64,
    /// Memory the JavaScript heap may allocate, in bytes.
    #[arg(long, default_value_t = Limits::default().memory, value_name = "BYTES")]
    memory: u64,
    /// Native stack the engine may use, in bytes.
    #[arg(long, default_value_t = Limits::default().stack, value_name = "BYTES")]
    stack: u64,
    /// Largest envelope (logs included), in bytes.
    #[arg(long, default_value_t = Limits::default().output, value_name = "BYTES")]
    output_limit: u64,
}

impl LimitOpts {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory: self.memory,
            stack: self.stack,
            output: self.output_limit,
        }
    }
}

/// Where Chromium is, for the browser runtime.
#[derive(Debug, Args)]
pub(crate) struct ChromiumOpt {
    /// Chromium executable for the browser runtime.
    #[arg(
        long,
        env = "AGENCY_CHROMIUM",
        default_value = "/usr/bin/chromium",
        value_name = "PATH"
    )]
    pub(crate) chromium: PathBuf,
}

/// A runtime of jobs run here (`run --runtime`, `worker --runtimes`): one this build offers.
/// Parsed in the command, not by clap, so the error comes in the command's order and, with
/// `--json`, as JSON.
pub(crate) fn offered_runtime(text: &str) -> Result<Runtime, agency_runner::RunnerError> {
    match text.parse::<Runtime>() {
        Ok(runtime) if crate::exec::offers(runtime) => Ok(runtime),
        _ => Err(agency_runner::RunnerError::UnknownRuntime(
            text.trim().to_owned(),
        )),
    }
}
