//! The executors this binary offers: QuickJS in job processes (this same binary as
//! `agency __job`, forked from a zygote), and headless Chromium with the `browser` feature.
//! `agency run`, `agency worker`, `agency dev` and `agency bench` get theirs here.

use std::path::Path;
use std::sync::Arc;

use agency_runner::{Executor, QuickJsExecutor, Runtime};
use anyhow::{Context, Result, bail};

/// The hidden first argument that makes this binary a job child process (see agency-runner).
pub(crate) const JOB_CHILD_ARG: &str = "__job";

/// Whether this build can run jobs of `runtime`.
pub(crate) fn offers(runtime: Runtime) -> bool {
    match runtime {
        Runtime::QuickJs => true,
        Runtime::Browser => cfg!(feature = "browser"),
    }
}

/// The child-process executor: this same binary, as `agency __job`.
pub(crate) fn job_process() -> Result<QuickJsExecutor> {
    let exe = std::env::current_exe().context("finding the agency executable for job processes")?;
    Ok(QuickJsExecutor::in_child(
        exe,
        vec![JOB_CHILD_ARG.to_owned()],
    ))
}

/// The child-process executor of a long-running agent (`agency worker`, `agency dev`): its
/// zygote started now, so that a broken job program fails at start, and the sandbox its job
/// processes get said on stderr, each layer the kernel refused as a warning.
pub(crate) fn agent_job_process() -> Result<QuickJsExecutor> {
    let exec = job_process()?;
    let report = exec
        .sandbox()
        .expect("a child-process executor")
        .context("starting the job processes' zygote")?;
    for (layer, why) in &report.refused {
        tracing::warn!(
            "job sandbox: the kernel refused {} ({why}); jobs run without it",
            layer.describe()
        );
    }
    let applied: Vec<String> = report
        .applied
        .iter()
        .map(|&l| match l {
            agency_runner::Layer::OwnUid => format!("{} ({})", l.describe(), report.uid),
            _ => l.describe().to_owned(),
        })
        .collect();
    tracing::info!("job sandbox: {}", applied.join(", "));
    Ok(exec)
}

/// One executor per runtime in `runtimes` (each one this build offers); Chromium at `chromium`
/// for the browser runtime.
#[cfg_attr(
    not(feature = "browser"),
    expect(unused_variables, reason = "Chromium is for the browser runtime")
)]
pub(crate) async fn executors(
    runtimes: &[Runtime],
    chromium: &Path,
) -> Result<Vec<Arc<dyn Executor>>> {
    let mut out: Vec<Arc<dyn Executor>> = Vec::new();
    for runtime in runtimes {
        out.push(match runtime {
            Runtime::QuickJs => Arc::new(agent_job_process()?),
            #[cfg(feature = "browser")]
            Runtime::Browser => Arc::new(
                agency_runner::BrowserExecutor::launch(chromium)
                    .await
                    .context("starting Chromium for the browser runtime")?,
            ),
            #[cfg(not(feature = "browser"))]
            Runtime::Browser => {
                return Err(agency_runner::RunnerError::UnknownRuntime(runtime.to_string()).into());
            }
        });
    }
    if out.is_empty() {
        bail!("--runtimes names no runtime");
    }
    Ok(out)
}
