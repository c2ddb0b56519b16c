//! `cargo bench -p agency-runner --features test-utils --bench runner`: sandbox costs.
//!
//! Fresh QuickJS context; per-job overhead of a trivial job in this process and in a child
//! process; CPU-heavy scripts (benches/cpu.js) under our executor and under bare QuickJS (the
//! same engine with no prelude and no interrupt handler), to show what our layer adds.
//! `node crates/runner/benches/cpu.js` gives the Node figures.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a benchmark binary"
)]

use std::time::{Duration, Instant};

use agency_runner::{Executor, JobRun, QuickJsExecutor, run_in_process};
use rquickjs::{Context, Runtime};

const TRIVIAL: &str =
    "window.jsJobRun = function (input, options, callback) { callback(null, input, null); };";

fn per_iter(n: u32, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn main() {
    let ctx_cost = per_iter(2000, || {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        drop(ctx);
    });
    println!(
        "fresh runtime + context (bare rquickjs)        {:>10.3} ms",
        ctx_cost.as_secs_f64() * 1e3
    );

    let job = JobRun::new(TRIVIAL, r#"{"n": 21}"#);
    let in_process = per_iter(2000, || {
        run_in_process(&job).unwrap();
    });
    println!(
        "trivial job, in process (all of it)           {:>10.3} ms  ({:.0} jobs/s on one core)",
        in_process.as_secs_f64() * 1e3,
        1.0 / in_process.as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let child = QuickJsExecutor::in_child(env!("CARGO_BIN_EXE_agency-job"), vec![]);
    let in_child = per_iter(300, || {
        rt.block_on(child.run(job.clone())).unwrap();
    });
    println!(
        "trivial job, child process, back to back     {:>10.3} ms  ({:.0} jobs/s)",
        in_child.as_secs_f64() * 1e3,
        1.0 / in_child.as_secs_f64()
    );
    // Jobs arriving with a gap (not timed) find a started child waiting.
    let mut warm = Duration::ZERO;
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(5));
        let t = Instant::now();
        rt.block_on(child.run(job.clone())).unwrap();
        warm += t.elapsed();
    }
    println!(
        "trivial job, child process, pre-started       {:>10.3} ms",
        warm.as_secs_f64() * 1e3 / 200.0
    );

    let code =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/cpu.js")).unwrap();
    #[cfg(feature = "browser")]
    browser(&rt, &job, &code);
    for name in ["fib", "primes"] {
        let mut heavy = JobRun::new(code.clone(), format!(r#"{{"job": "{name}"}}"#));
        heavy.limits.fuel = u64::MAX;
        heavy.wall_clock = Duration::from_secs(600);
        let ours = (0..3)
            .map(|_| {
                let t = Instant::now();
                let env = run_in_process(&heavy).unwrap();
                assert!(env.is_ok());
                t.elapsed()
            })
            .min()
            .unwrap();
        let bare = (0..3)
            .map(|_| {
                let rt = Runtime::new().unwrap();
                let ctx = Context::full(&rt).unwrap();
                ctx.with(|ctx| {
                    ctx.eval::<(), _>("var window = globalThis;").unwrap();
                    ctx.eval::<(), _>(code.as_str()).unwrap();
                    let t = Instant::now();
                    let _: rquickjs::Value<'_> = ctx.eval(format!("var r; window.jsJobRun({{job: '{name}'}}, {{}}, function (e, v) {{ r = v; }}); r")).unwrap();
                    t.elapsed()
                })
            })
            .min()
            .unwrap();
        println!(
            "{name:<7} ours {:>9.1} ms   bare QuickJS {:>9.1} ms   ours/bare {:.3}",
            ours.as_secs_f64() * 1e3,
            bare.as_secs_f64() * 1e3,
            ours.as_secs_f64() / bare.as_secs_f64()
        );
    }
}

/// The browser runtime on a warm Chromium: a trivial job, and the CPU-heavy scripts.
#[cfg(feature = "browser")]
fn browser(rt: &tokio::runtime::Runtime, trivial: &JobRun, code: &str) {
    let started = Instant::now();
    let b = rt
        .block_on(agency_runner::BrowserExecutor::launch(
            agency_runner::DEFAULT_CHROMIUM,
        ))
        .unwrap();
    println!(
        "browser launch (Chromium, fresh profile)      {:>10.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let per_job = per_iter(50, || {
        rt.block_on(b.run(trivial.clone())).unwrap();
    });
    println!(
        "trivial job, browser (context + page + run)   {:>10.3} ms",
        per_job.as_secs_f64() * 1e3
    );
    for name in ["fib", "primes"] {
        let mut heavy = JobRun::new(code, format!(r#"{{"job": "{name}"}}"#));
        heavy.wall_clock = Duration::from_secs(600);
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                assert!(rt.block_on(b.run(heavy.clone())).unwrap().is_ok());
                t.elapsed()
            })
            .min()
            .unwrap();
        println!(
            "{name:<7} browser {:>9.1} ms (includes the trivial-job overhead above)",
            best.as_secs_f64() * 1e3
        );
    }
}
