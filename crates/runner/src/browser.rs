//! The browser executor: jobs that need a DOM, in headless Chromium over the DevTools protocol.
//!
//! One Chromium per executor, started with a fresh profile directory and every network request
//! dead-ended (a proxy on a closed port, host resolution mapped to nothing); each job gets its
//! own browser context (an incognito-like profile) and page, disposed afterwards. The page runs
//! the same prelude as QuickJS with a JavaScript host: `Date` is the job's timestamp, timers are
//! virtual, and `Math.random` draws the same xoshiro256** stream as the QuickJS executor. What
//! differs: transcendental `Math` is V8's, and the only limit enforced is the wall-clock cap (a
//! runaway job is an infrastructure error, never an envelope), so browser jobs are not for
//! replicated verification across engines.

use std::{path::PathBuf, time::Duration};

use agency_primitives::Envelope;
use async_trait::async_trait;
use chromiumoxide::{
    Browser, BrowserConfig,
    cdp::browser_protocol::target::{CreateBrowserContextParams, CreateTargetParams},
};
use futures::StreamExt;
use tokio::{sync::Mutex, task::JoinHandle};

use crate::{
    Executor, JobRun, RunnerError,
    engine::{PRELUDE, Report, envelope_of_report},
};

/// Where Debian installs Chromium.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

const PAGE_HOST: &str = include_str!("browser_host.js");

/// Writes `<profile>/launch`, which starts `chromium` with only `HOME` (the profile), `PATH`,
/// `TZ` and `LC_ALL` in its environment.
fn scrubbed_launcher(
    profile: &std::path::Path,
    chromium: &std::path::Path,
) -> std::io::Result<PathBuf> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let quote =
        |path: &std::path::Path| format!("'{}'", path.display().to_string().replace('\'', r"'\''"));
    let script = format!(
        "#!/bin/sh\nexec /usr/bin/env -i HOME={} PATH=/usr/bin:/bin TZ=UTC LC_ALL=C {} \"$@\"\n",
        quote(profile),
        quote(chromium)
    );
    let path = profile.join("launch");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&path)?
        .write_all(script.as_bytes())?;
    Ok(path)
}

/// Runs jobs in pages of one headless Chromium.
#[derive(Debug)]
pub struct BrowserExecutor {
    browser: Mutex<Browser>,
    handler: JoinHandle<()>,
    /// Chromium's profile; removed by [`Executor::close`].
    profile: std::sync::Mutex<Option<tempfile::TempDir>>,
}

/// How long [`Executor::close`] waits for Chromium to exit after asking it to.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl BrowserExecutor {
    /// Starts Chromium from `executable` (see [`DEFAULT_CHROMIUM`]) with a fresh profile.
    pub async fn launch(executable: impl Into<PathBuf>) -> Result<Self, RunnerError> {
        let executable = executable.into();
        let browser_err = |e: &dyn std::fmt::Display| {
            RunnerError::Engine(format!("Chromium at {}: {e}", executable.display()))
        };
        if !executable.exists() {
            return Err(browser_err(
                &"not installed (Debian: apt-get install chromium)",
            ));
        }
        let profile = tempfile::Builder::new()
            .prefix("agency-chromium-")
            .tempdir()
            .map_err(|e| browser_err(&e))?;
        // Chromium gets none of the agent's environment (its key may be there): it starts
        // through a script in its profile that clears the environment and execs it.
        let launcher =
            scrubbed_launcher(profile.path(), &executable).map_err(|e| browser_err(&e))?;
        let config = BrowserConfig::builder()
            .chrome_executable(&launcher)
            .user_data_dir(profile.path())
            .no_sandbox()
            .args([
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                // No network: every request goes to a proxy on a closed port, no name resolves.
                "--proxy-server=http://127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND",
            ])
            .build()
            .map_err(|e| browser_err(&e))?;
        let (browser, mut handler) = Browser::launch(config).await.map_err(|e| browser_err(&e))?;
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Ok(Self {
            browser: Mutex::new(browser),
            handler,
            profile: std::sync::Mutex::new(Some(profile)),
        })
    }

    /// The directory Chromium keeps its profile in; `None` once closed.
    pub fn profile_dir(&self) -> Option<PathBuf> {
        let profile = self.profile.lock().expect("profile lock");
        profile.as_ref().map(|p| p.path().to_owned())
    }

    async fn run_in_page(&self, job: &JobRun) -> Result<Report, RunnerError> {
        let cdp = |e: chromiumoxide::error::CdpError| RunnerError::Engine(format!("Chromium: {e}"));
        let context = self
            .browser
            .lock()
            .await
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .map_err(cdp)?;
        let target = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context.clone())
            .build()
            .map_err(|e| RunnerError::Engine(e.to_string()))?;
        let page = self
            .browser
            .lock()
            .await
            .new_page(target)
            .await
            .map_err(cdp)?;
        let script = page_script(job);
        let reply = tokio::time::timeout(job.wall_clock, page.evaluate(script)).await;
        let _ = page.close().await;
        let _ = self
            .browser
            .lock()
            .await
            .dispose_browser_context(context)
            .await;
        let value = match reply {
            Err(_) => {
                return Err(RunnerError::WallClock {
                    after: job.wall_clock,
                });
            }
            Ok(r) => r.map_err(cdp)?,
        };
        let text: String = value
            .into_value()
            .map_err(|e| RunnerError::Engine(format!("page reply: {e}")))?;
        serde_json::from_str(&text).map_err(|e| RunnerError::Engine(format!("page reply: {e}")))
    }
}

/// The script evaluated in the page: the JavaScript host, the prelude and the job.
fn page_script(job: &JobRun) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let seed: String = job.seed.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "({PAGE_HOST})({seed}, {ts}, {prelude}, {code}, {input}, {options})",
        seed = json(&seed),
        ts = job.timestamp_ms,
        prelude = json(PRELUDE),
        code = json(&job.code),
        input = json(&job.input),
        options = json(&job.options),
    )
}

impl Drop for BrowserExecutor {
    fn drop(&mut self) {
        self.handler.abort();
    }
}

#[async_trait]
impl Executor for BrowserExecutor {
    async fn run(&self, job: JobRun) -> Result<Envelope, RunnerError> {
        let report = self.run_in_page(&job).await?;
        Ok(envelope_of_report(report, job.limits.output))
    }

    /// Asks Chromium to close (kills it after 5 s), waits for it to exit, then removes the
    /// profile. Dropping the executor instead kills Chromium without waiting, and removes the
    /// profile while Chromium may still be writing it: the directory then stays behind.
    async fn close(&self) {
        let mut browser = self.browser.lock().await;
        let closed = tokio::time::timeout(CLOSE_WAIT, async {
            if browser.close().await.is_ok() {
                let _ = browser.wait().await;
            }
        })
        .await;
        if closed.is_err() {
            let _ = browser.kill().await;
        }
        drop(browser);
        let profile = self.profile.lock().expect("profile lock").take();
        if let Some(profile) = profile {
            let _ = profile.close();
        }
    }

    fn runtime(&self) -> crate::Runtime {
        crate::Runtime::Browser
    }
}
