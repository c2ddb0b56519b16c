//! The browser executor in real headless Chromium (Debian's `chromium`, installed by .ci/run).

use std::{sync::Arc, time::Duration};

use agency_primitives::ErrorKind;
use agency_runner::{BrowserExecutor, DEFAULT_CHROMIUM, Executor, JobRun, QuickJsExecutor};
use serde_json::json;

use crate::{run, vectors_dir};

async fn browser() -> Arc<BrowserExecutor> {
    Arc::new(
        BrowserExecutor::launch(DEFAULT_CHROMIUM)
            .await
            .expect("Chromium starts (apt-get install chromium)"),
    )
}

fn fixture(name: &str) -> JobRun {
    let code = std::fs::read_to_string(vectors_dir().join(format!("{name}.js"))).unwrap();
    JobRun::new(code, r#"{"n": 21}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn fixtures_in_chromium() {
    let b = browser().await;
    let quickjs = QuickJsExecutor::in_process();
    // Same envelope bytes as QuickJS wherever the engines agree on the script's semantics.
    for name in [
        "return-input",
        "return-error",
        "no-entrypoint",
        "return-nothing",
        "never-calls-back",
        "first-callback-wins",
        "timer-order",
        "throw-in-timer",
        "console-logs",
        "async-entry",
        "no-network",
    ] {
        let (_, ours) = run(b.as_ref(), fixture(name)).await;
        let (_, theirs) = run(&quickjs, fixture(name)).await;
        let strip = |s: &str| -> serde_json::Value {
            // Stacks are engine-specific; compare everything else.
            let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
            if let Some(e) = v.get_mut("error") {
                e["stack"] = json!("");
            }
            v
        };
        assert_eq!(
            strip(&ours),
            strip(&theirs),
            "{name}: browser {ours} vs quickjs {theirs}"
        );
    }
    // Seeded randomness and the fixed clock: byte-identical across the two engines.
    let mut job = fixture("deterministic-clock-random");
    job.seed = [0x5e; 32];
    job.timestamp_ms = 1_700_000_000_000;
    let (_, ours) = run(b.as_ref(), job.clone()).await;
    let (_, theirs) = run(&quickjs, job).await;
    assert_eq!(ours, theirs);

    let (env, text) = run(b.as_ref(), fixture("throw-directly")).await;
    let e = env.outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Threw, "{text}");
    assert!(
        e.message.contains("boom from explode") && e.stack.contains("explode"),
        "{text}"
    );
    let (env, text) = run(b.as_ref(), fixture("syntax-error")).await;
    assert_eq!(env.outcome.unwrap_err().kind, ErrorKind::Syntax, "{text}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dom_job_measures_layout() {
    let b = browser().await;
    let code = r#"
        window.jsJobRun = function (input, options, callback) {
          var box = document.createElement('div');
          box.style.cssText = 'width: 120px; padding: 10px; border: 5px solid black; font: 16px monospace';
          box.textContent = input.text;
          document.body.appendChild(box);
          var r = box.getBoundingClientRect();
          callback(null, { width: r.width, tag: box.tagName, html: document.body.innerHTML.length > 0 });
        };
    "#;
    let (env, text) = run(b.as_ref(), JobRun::new(code, r#"{"text": "hello"}"#)).await;
    assert_eq!(
        env.outcome.unwrap().result,
        json!({"width": 150, "tag": "DIV", "html": true}),
        "{text}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_is_unreachable_and_jobs_are_isolated() {
    let b = browser().await;
    let code = r#"
        window.jsJobRun = function (input, options, callback) {
          var img = document.createElement('img');
          img.onload = function () { callback(null, 'loaded'); };
          img.onerror = function () { callback(null, { blocked: true, seen: String(window.leftover) }); };
          img.src = 'http://127.0.0.1:1/pixel.png?' + input.n;
          document.body.appendChild(img);
          window.leftover = 'from an earlier job';
        };
    "#;
    // Wait on real events: the load must fail. The second run sees nothing of the first.
    for n in 0..2 {
        let mut job = JobRun::new(code, format!(r#"{{"n": {n}}}"#));
        job.wall_clock = Duration::from_secs(20);
        let (env, text) = run(b.as_ref(), job).await;
        assert_eq!(
            env.outcome.unwrap().result,
            json!({"blocked": true, "seen": "from an earlier job"}),
            "{text}"
        );
    }
    let (env, text) = run(
        b.as_ref(),
        JobRun::new(
            "window.jsJobRun = function (i, o, cb) { cb(null, String(window.leftover)); };",
            "null",
        ),
    )
    .await;
    assert_eq!(
        env.outcome.unwrap().result,
        json!("undefined"),
        "a fresh context per job: {text}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_job_hits_the_wall_clock_cap() {
    let b = browser().await;
    let mut job = JobRun::new("window.jsJobRun = function () { for (;;) {} };", "null");
    job.wall_clock = Duration::from_secs(2);
    let err = b.run(job).await.unwrap_err();
    assert!(
        matches!(err, agency_runner::RunnerError::WallClock { .. }),
        "{err:?}"
    );
    // The executor still works afterwards.
    let (env, _) = run(b.as_ref(), fixture("return-input")).await;
    assert!(env.is_ok());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_stops_chromium_and_leaves_no_profile_behind() {
    let b = browser().await;
    let (env, _) = run(b.as_ref(), fixture("return-input")).await;
    assert!(env.is_ok());
    let profile = b.profile_dir().unwrap();
    assert!(
        profile.join("Default").is_dir(),
        "Chromium wrote its profile"
    );
    b.close().await;
    assert_eq!(b.profile_dir(), None);
    // Chromium's helper processes are gone too: nothing writes the profile back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!profile.exists(), "{} is left behind", profile.display());
}
