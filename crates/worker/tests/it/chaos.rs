//! The chaos market: many jobs, agents that lie, collude and crash, requesters that cancel,
//! time warped past deadlines, and the money counted after every block.
//!
//! The test is the block producer: automine is off and it mines a block every few
//! milliseconds, so it can check the contract's books against a state no transaction can
//! change under it. 200 jobs by default; `AGENCY_CHAOS_JOBS=1000` for the long run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agency_chain::{Event as JobAgencyEvents, JobStatus, SlashReason, Terms, protocol};
use agency_devstack::Liar;
use agency_worker::WorkerHandle;
use alloy::primitives::{Address, B256, U256};

use crate::support::{CODE, COLLATERAL, Market};

const ACCEPTED: JobStatus = JobStatus::Accepted;

/// xorshift64*: the test's own reproducible randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn lying(answer: impl Fn() -> serde_json::Value + Send + Sync + 'static) -> Arc<Liar> {
    let honest = Arc::new(agency_runner::QuickJsExecutor::in_process());
    Arc::new(Liar::new(honest, answer))
}

/// One posted job and what the test knows about it.
struct Job {
    terms: Terms,
    honest: B256,
    terminal: Option<JobStatus>,
}

/// Mines a block every few milliseconds and, after each block with transactions, checks that
/// the contract holds exactly Σ balances + Σ locked collateral + Σ escrowed rewards + the
/// burned total (slashes and release fees, docs/protocol.md §8). It learns
/// the jobs from the `JobsPosted` events themselves, so none escapes the count.
async fn mine_and_audit(
    m: Arc<Market>,
    people: Vec<Address>,
    stop: Arc<AtomicBool>,
    audited: Arc<AtomicU64>,
) {
    let cheats = m.cheats();
    let mut live: Vec<Terms> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        cheats.mine().await;
        if cheats.latest_transactions().await == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
            continue;
        }
        // Nothing is mined until the next evm_mine: this state is the block's.
        let n = m.requester.head().await.unwrap().number;
        for posted in m.requester.batches(None, n).await.unwrap() {
            if posted.block == n {
                live.push(posted.terms);
            }
        }
        let held = m.requester.holdings().await.unwrap();
        let mut owed = m.requester.burned().await.unwrap();
        for who in &people {
            owed += m.requester.account(*who).await.unwrap().balance;
        }
        let mut still = Vec::with_capacity(live.len());
        for terms in live.drain(..) {
            let view = m.requester.job(&terms, 0).await.unwrap();
            if view.status.is_terminal() {
                continue; // terminal: it holds nothing and never changes again
            }
            let slots = view.slots.iter().filter(|s| s.phase.is_held()).count();
            owed += U256::from(terms.reward) + U256::from(terms.collateral) * U256::from(slots);
            still.push(terms);
        }
        live = still;
        assert_eq!(
            held, owed,
            "block {n}: the contract holds {held} wei but owes {owed}"
        );
        audited.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_market_loses_no_wei_and_accepts_no_wrong_result() {
    let count: usize = std::env::var("AGENCY_CHAOS_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed = 0x05EE_D0FC_4A05;
    let mut rng = Rng(seed);
    let started = Instant::now();
    let m = Arc::new(Market::dev().await);
    m.cheats().set_automine(false).await;
    let jobs = Arc::new(tokio::sync::Mutex::new(Vec::<Job>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let audited = Arc::new(AtomicU64::new(0));
    let people: Vec<Address> = (0..=6).map(|i| m.who(i)).collect();
    let miner = tokio::spawn(mine_and_audit(
        m.clone(),
        people.clone(),
        stop.clone(),
        audited.clone(),
    ));

    // Agents 1 and 2 are honest; 3 is honest but killed and restarted at random moments;
    // 4 returns random results; 5 and 6 collude on the same wrong result. Agents 2, 4 and 6
    // run jobs before claiming them (claiming and committing in one transaction where r > 1);
    // the others claim first.
    let config = |i: usize| {
        let mut c = m.config(i);
        c.concurrency = 8;
        c.run_first = i.is_multiple_of(2);
        c
    };
    let quickjs = || Arc::new(agency_runner::QuickJsExecutor::in_process());
    let mut agents: Vec<WorkerHandle> = Vec::new();
    for i in 1..=2 {
        agents.push(
            m.agent_with(i, config(i), quickjs(), m.store.clone(), None)
                .await,
        );
    }
    let noise = Arc::new(AtomicU64::new(1));
    let random =
        lying(move || serde_json::json!({"sum": noise.fetch_add(7919, Ordering::Relaxed)}));
    agents.push(
        m.agent_with(4, config(4), random, m.store.clone(), None)
            .await,
    );
    for i in 5..=6 {
        let pair = lying(|| serde_json::json!({"sum": -1}));
        agents.push(
            m.agent_with(i, config(i), pair, m.store.clone(), None)
                .await,
        );
    }
    let mut crasher = Some(
        m.agent_with(3, config(3), quickjs(), m.store.clone(), None)
            .await,
    );
    let mut restarts = 0;

    // Post in waves; cancel some at once; warp the clock now and then.
    let mut cancelled = 0;
    let mut cancel_refused = 0;
    let mut posted = 0;
    while posted < count {
        for _ in 0..20.min(count - posted) {
            let replicas = if rng.below(5) == 0 { 1 } else { 3 };
            let input = format!(r#"{{"a": {posted}, "b": {}}}"#, rng.below(1000));
            let spec = m.spec(CODE, &input).await;
            let (_, honest) = m.expected(&spec, CODE, &input).await;
            let deadline = if rng.below(10) == 0 { 70 } else { 600 };
            let terms = m.post_timed(&spec, replicas, deadline, 60).await;
            if rng.below(12) == 0 {
                match m.requester.cancel(&terms, 0).await {
                    Ok(_) => cancelled += 1,
                    Err(_) => cancel_refused += 1, // claimed first: refused, nothing moves
                }
            }
            jobs.lock().await.push(Job {
                terms,
                honest,
                terminal: None,
            });
            posted += 1;
        }
        assert!(!miner.is_finished(), "the audit stopped");
        // Kill the crasher at a random moment and bring it back on the same journal.
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        if let Some(c) = crasher.take() {
            c.abort().await;
            restarts += 1;
            crasher = Some(
                m.agent_with(3, config(3), quickjs(), m.store.clone(), None)
                    .await,
            );
        }
        if rng.below(4) == 0 {
            m.warp(75).await; // past the short deadlines and some slot deadlines
        }
    }

    let posted_in = started.elapsed();
    // Let the market work, then run the clock past every deadline and reveal window and
    // settle whatever is left (anyone may).
    // Until every job ended, or none has ended for 3 s (the rest wait on deadlines).
    let (mut left, mut since) = (usize::MAX, Instant::now());
    loop {
        assert!(!miner.is_finished(), "the audit stopped");
        let now_left = refresh(&m, &jobs).await;
        if now_left < left {
            (left, since) = (now_left, Instant::now());
        }
        if left == 0 || since.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let worked_in = started.elapsed();
    m.warp(2_000).await;
    let settle_by = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(!miner.is_finished(), "the audit stopped");
        refresh(&m, &jobs).await;
        let open: Vec<Terms> = jobs
            .lock()
            .await
            .iter()
            .filter(|j| j.terminal.is_none())
            .map(|j| j.terms.clone())
            .collect();
        if open.is_empty() {
            break;
        }
        assert!(
            Instant::now() < settle_by,
            "{} jobs never ended",
            open.len()
        );
        for terms in open {
            let _ = m.requester.settle(&terms, vec![0]).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for a in agents {
        a.shutdown();
        a.join().await.expect("the agent stops cleanly");
    }
    if let Some(c) = crasher {
        c.shutdown();
        c.join().await.expect("the crasher stops cleanly");
    }
    stop.store(true, Ordering::Relaxed);
    miner.await.expect("every audited block balanced");

    // The outcomes.
    let honest: Vec<Address> = (1..=3).map(|i| m.who(i)).collect();
    let liars: Vec<Address> = (4..=6).map(|i| m.who(i)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut slashed: HashMap<Address, usize> = HashMap::new();
    let mut honest_wrong: HashMap<Address, usize> = HashMap::new();
    let mut earned: HashMap<Address, U256> = HashMap::new();
    let mut paid = U256::ZERO;
    let mut wrong_where_colluders_held_a_majority = 0;
    for job in jobs.lock().await.iter() {
        let id = protocol::job_id(&job.terms, 0);
        let view = m.requester.job(&job.terms, 0).await.unwrap();
        let status = job.terminal.expect("terminal");
        assert_eq!(view.status, status);
        counts
            .entry(status.name())
            .and_modify(|c| *c += 1)
            .or_insert(1);
        let events = m.requester.job_events(id, 0).await.unwrap();
        let holders: Vec<Address> = view
            .slots
            .iter()
            .filter(|s| s.phase.is_held())
            .map(|s| s.agent)
            .collect();
        let honest_slots = holders.iter().filter(|a| honest.contains(a)).count();
        let honest_majority = honest_slots * 2 > usize::from(job.terms.replicas);
        for e in &events {
            if let JobAgencyEvents::Slashed(s) = &e.event {
                *slashed.entry(s.agent).or_default() += 1;
                if SlashReason::from_code(s.reason) == Some(SlashReason::WrongResult)
                    && honest_majority
                    && honest.contains(&s.agent)
                {
                    *honest_wrong.entry(s.agent).or_default() += 1;
                }
            }
        }
        if status != ACCEPTED {
            continue;
        }
        paid += U256::from(job.terms.reward);
        let result = events
            .iter()
            .find_map(|e| match &e.event {
                JobAgencyEvents::Accepted(a) => Some((a.result, a.winners)),
                _ => None,
            })
            .expect("an Accepted event");
        if honest_majority {
            assert_eq!(
                result.0, job.honest,
                "job {id}: a wrong result won although honest agents held {honest_slots} of {} slots",
                job.terms.replicas
            );
        } else if result.0 != job.honest {
            wrong_where_colluders_held_a_majority += 1;
        }
        if result.0 == job.honest {
            let winners = result.1.to::<u64>().max(1);
            for a in holders.iter().filter(|a| honest.contains(a)) {
                // The reward less its reputation fee, shared (the odd wei aside).
                let pot = job.terms.reward - protocol::reputation_fee(job.terms.reward);
                *earned.entry(*a).or_default() += U256::from(pot / u128::from(winners));
            }
        }
    }
    let mut by_agent = Vec::new();
    for (i, who) in people.iter().enumerate().skip(1) {
        let a = m.requester.account(*who).await.unwrap();
        by_agent.push(format!(
            "agent {i}: balance {} accepted {} rejected {} missed {} slashed {}",
            a.balance,
            a.accepted,
            a.rejected,
            a.missed,
            slashed.get(who).copied().unwrap_or(0)
        ));
    }
    eprintln!(
        "chaos market, seed {seed:#x}: {count} jobs in {:.1?} (posted by {posted_in:.1?}, worked by {worked_in:.1?}); {counts:?}; cancels refused {cancel_refused}; \
         crasher restarts {restarts}; blocks audited {}; rewards paid {paid} wei; wrong results \
         accepted where liars held a majority {wrong_where_colluders_held_a_majority}\n{}",
        started.elapsed(),
        audited.load(Ordering::Relaxed),
        by_agent.join("\n")
    );

    assert!(
        audited.load(Ordering::Relaxed) > count as u64,
        "the audit ran on the market's blocks"
    );
    assert_eq!(counts.get("cancelled").copied().unwrap_or(0), cancelled);
    // Liars are caught: each lost collateral at least once.
    for liar in &liars {
        assert!(
            slashed.get(liar).copied().unwrap_or(0) > 0,
            "liar {liar} was never slashed"
        );
        assert!(m.requester.account(*liar).await.unwrap().rejected > 0);
    }
    // Honest agents lose collateral only where honesty cannot win: outvoted by a liars'
    // majority, or holding a slot the test's clock jumped past. Their balance is at least
    // their stake plus their rewards less exactly those losses.
    for who in &honest {
        assert_eq!(
            honest_wrong.get(who).copied().unwrap_or(0),
            0,
            "honest {who} was slashed for a wrong result on a job honest agents held"
        );
        let balance = m.requester.account(*who).await.unwrap().balance;
        let lost = U256::from(COLLATERAL) * U256::from(slashed.get(who).copied().unwrap_or(0));
        let floor =
            U256::from(crate::support::STAKE) + earned.get(who).copied().unwrap_or_default();
        assert!(
            balance + lost >= floor,
            "honest {who}: balance {balance} + lost {lost} < stake + rewards {floor}"
        );
    }
    assert!(
        counts.get("accepted").copied().unwrap_or(0) > count / 3,
        "{counts:?}"
    );
}

/// Notes which jobs ended; returns how many are still going.
async fn refresh(m: &Market, jobs: &tokio::sync::Mutex<Vec<Job>>) -> usize {
    let mut left = 0;
    for job in jobs
        .lock()
        .await
        .iter_mut()
        .filter(|j| j.terminal.is_none())
    {
        let status = m.requester.job(&job.terms, 0).await.unwrap().status;
        if status.is_terminal() {
            job.terminal = Some(status);
        } else {
            left += 1;
        }
    }
    left
}
