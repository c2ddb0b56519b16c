//! The child-process executor's zygote: job processes are its forks, it is started again when
//! it dies, a job process is killed when its job is abandoned, and nothing outlives the
//! executor. Linux's /proc is how the tests see processes.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use agency_runner::{Executor, JobRun, QuickJsExecutor};

const TRIVIAL: &str = "window.jsJobRun = function (i, o, cb) { cb(null, i.n * 2); };";

fn executor() -> QuickJsExecutor {
    QuickJsExecutor::in_child(env!("CARGO_BIN_EXE_agency-job"), vec![])
}

async fn doubles(exec: &QuickJsExecutor) {
    let env = exec
        .run(JobRun::new(TRIVIAL, r#"{"n": 21}"#))
        .await
        .unwrap();
    assert_eq!(env.outcome.unwrap().result, serde_json::json!(42));
}

/// The process's state letter from /proc (R running, S sleeping, Z zombie), if it exists.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// CPU time the process has used in user mode, in clock ticks (field 14 of /proc's stat).
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_comm = stat.rsplit_once(')')?.1.to_owned();
            // Fields after "(comm)" start at field 3 (the state): utime is the 12th of them.
            after_comm.split_whitespace().nth(11)?.parse().ok()
        })
        .unwrap_or(0)
}

fn parent(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))?
        .trim()
        .parse()
        .ok()
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn job_processes_are_forks_of_one_zygote_that_is_restarted_when_it_dies() {
    let exec = executor();
    assert_eq!(exec.zygote_pid(), None, "started lazily");
    for _ in 0..5 {
        doubles(&exec).await;
    }
    let zygote = exec.zygote_pid().unwrap();
    assert_eq!(parent(zygote), Some(std::process::id()));
    let exe = std::fs::read_link(format!("/proc/{zygote}/exe")).unwrap();
    assert_eq!(exe, Path::new(env!("CARGO_BIN_EXE_agency-job")));
    // The jobs ran in forks of it: the ones started ahead are its children, waiting, and they
    // are the same program.
    eventually("job processes wait", || {
        children(zygote).iter().any(|&c| state(c) == Some('S'))
    })
    .await;
    for child in children(zygote) {
        if let Ok(path) = std::fs::read_link(format!("/proc/{child}/exe")) {
            assert_eq!(path, exe);
        }
    }

    // Killed, it is started again on the next job; jobs keep working.
    std::process::Command::new("kill")
        .args(["-KILL", &zygote.to_string()])
        .status()
        .unwrap();
    eventually("the zygote is dead", || {
        matches!(state(zygote), None | Some('Z'))
    })
    .await;
    for _ in 0..(QuickJsExecutor::WARM_CHILDREN + 3) {
        doubles(&exec).await;
    }
    let second = exec.zygote_pid().unwrap();
    assert_ne!(second, zygote);
    assert_eq!(parent(second), Some(std::process::id()));

    // Nothing outlives the executor: the zygote is killed and reaped, and the job processes
    // waiting for a job are killed with their handles.
    let waiting = children(second);
    drop(exec);
    // (A refill of the waiting processes still in flight holds the pool a moment longer.)
    eventually("the zygote was killed and reaped", || {
        state(second).is_none()
    })
    .await;
    eventually("the waiting job processes are gone", || {
        waiting
            .iter()
            .all(|&c| matches!(state(c), None | Some('Z')))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_job_kills_its_process() {
    let exec = std::sync::Arc::new(executor());
    doubles(&exec).await;
    let zygote = exec.zygote_pid().unwrap();
    let mut endless = JobRun::new("window.jsJobRun = function () { for (;;) {} };", "null");
    endless.limits.fuel = u64::MAX;
    endless.wall_clock = Duration::from_secs(60);
    let running = {
        let exec = exec.clone();
        tokio::spawn(async move { exec.run(endless).await })
    };
    // The job's process is the zygote's child that burns CPU (the waiting ones sleep).
    let mut job = None;
    eventually("the endless job runs", || {
        job = children(zygote).into_iter().find(|&c| cpu_ticks(c) >= 20);
        job.is_some()
    })
    .await;
    let job = job.unwrap();
    running.abort();
    eventually("the abandoned job process is killed", || {
        matches!(state(job), None | Some('Z'))
    })
    .await;
    // The executor still works.
    doubles(&exec).await;
}
