//! End-to-end latency of a trivial job on the in-process dev chain: from the post's receipt to
//! the job's acceptance, with one agent (r = 1) and three (r = 3), each polling every 10 ms.
//!
//! `cargo bench -p agency-worker --bench latency [-- JOBS]` (default 50 jobs per case).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    unreachable_pub,
    reason = "benchmark"
)]

#[path = "../tests/it/support.rs"]
#[allow(dead_code, reason = "the tests' helpers, not all used here")]
mod support;

use std::time::{Duration, Instant};

use support::{CODE, INPUT, Market};

async fn case(replicas: u8, jobs: usize) -> Vec<Duration> {
    let m = Market::dev().await;
    let mut agents = Vec::new();
    for account in 1..=usize::from(replicas) {
        let mut config = m.config(account);
        config.poll_interval = Duration::from_millis(10);
        agents.push(
            m.agent_with(
                account,
                config,
                std::sync::Arc::new(agency_runner::QuickJsExecutor::in_process()),
                m.store.clone(),
                None,
            )
            .await,
        );
    }
    let spec = m.spec(CODE, INPUT).await;
    let mut times = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let terms = m.post(&spec, replicas).await;
        let start = Instant::now();
        loop {
            if m.job(&terms).await.status.is_terminal() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(start.elapsed());
    }
    for a in agents {
        a.shutdown();
        a.join().await.unwrap();
    }
    times.sort();
    times
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    println!("post → accepted, in-process dev chain, agents polling every 10 ms, {jobs} jobs each");
    for replicas in [1u8, 3] {
        let t = case(replicas, jobs).await;
        println!(
            "r = {replicas}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            pct(&t, 0.5).as_secs_f64() * 1e3,
            pct(&t, 0.95).as_secs_f64() * 1e3,
            t[t.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
