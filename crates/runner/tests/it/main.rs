//! Integration tests of agency-runner: the JsJob fixtures, adversarial scripts, determinism
//! probes, against every executor.
#![allow(clippy::unwrap_used, unreachable_pub, reason = "test binary")]

mod adversarial;
#[cfg(feature = "browser")]
mod browser;
mod determinism;
mod envelopes;
mod fixtures;
mod sandbox;
mod zygote;

use std::{path::PathBuf, sync::Arc};

use agency_primitives::Envelope;
use agency_runner::{Executor, JobRun, QuickJsExecutor};

/// Every real executor: in this process, and in child processes (the production default).
pub fn executors() -> Vec<(&'static str, Arc<dyn Executor>)> {
    vec![
        ("in-process", Arc::new(QuickJsExecutor::in_process())),
        (
            "child",
            Arc::new(QuickJsExecutor::in_child(
                env!("CARGO_BIN_EXE_agency-job"),
                vec![],
            )),
        ),
    ]
}

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/jsjob")
}

/// Runs `code` with input `{"n": 21}` on `exec`, returning the envelope and its canonical text.
pub async fn run(exec: &dyn Executor, job: JobRun) -> (Envelope, String) {
    let env = exec.run(job).await.unwrap();
    let text = String::from_utf8(env.canonical_bytes()).unwrap();
    (env, text)
}
