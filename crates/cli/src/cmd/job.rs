//! `agency job`: the requester's side. Post a job (code and input to the store, the spec beside
//! them, the reward into escrow) and follow it: status, list, result, logs, cancel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use agency_chain::Posted;
use agency_chain::bindings::IJobAgency::{JobView, Terms};
use agency_chain::bindings::JobAgency::JobAgencyEvents;
use agency_chain::events::ChainEvent;
use agency_chain::protocol::{self, JobStatus};
use agency_primitives::{Cid, Envelope, JobSpec, parse_cid, parse_hex32, raw_cid};
use agency_store::{BlockStore, ImportOptions, import_file};
use alloy::primitives::aliases::U40;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use crate::connect::{Connection, DEV_CHAIN_ID, Signer, connect};
use crate::opts::{GlobalOpts, LimitOpts, eth, parse_amount};
use crate::output::Output;

/// Post jobs and follow them.
#[derive(Debug, Subcommand)]
pub(crate) enum JobCmd {
    /// Post a job: add its code and input to the store, write its spec, escrow the reward.
    ///
    /// Prints the job id. With --wait, follows the job on stderr (claimed, committed,
    /// revealing, accepted) and prints its result envelope on stdout: exit 0 when the job
    /// succeeded, 1 when it failed or ended without a result. Past the deadline, --wait settles
    /// the job itself (anyone may), so it never waits forever.
    Post(Box<PostArgs>),
    /// Show a job: status, terms, slots and their agents, result, and history.
    Status(JobRef),
    /// List the jobs posted to the contract, oldest first.
    List(ListArgs),
    /// Print an accepted job's result envelope (exit 0 if the job succeeded, 1 if it failed).
    Result(JobRef),
    /// Print the console logs in an accepted job's result.
    Logs(JobRef),
    /// Cancel a job no agent has claimed: the reward goes back to your balance in the
    /// contract (`agency account withdraw` sends it to your wallet).
    Cancel(JobRef),
}

/// Which job, and where to look for it.
#[derive(Debug, Args)]
pub(crate) struct JobRef {
    /// The job id (0x and 64 hex digits), as `agency job post` prints it.
    #[arg(value_name = "ID", value_parser = parse_job_id)]
    id: B256,
    #[command(flatten)]
    from: FromBlock,
}

/// Where the search for posts starts.
#[derive(Debug, Args)]
pub(crate) struct FromBlock {
    /// First block to search for jobs' posts (public nodes may refuse to search long ranges).
    #[arg(long, default_value_t = 0, value_name = "N")]
    from_block: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PostArgs {
    /// The job script (a file, or the CID of one already in the store). It defines
    /// `window.jsJobRun(input, options, callback)`.
    #[arg(value_name = "CODE")]
    code: String,
    /// The input JSON (a file, or the CID of one already in the store).
    #[arg(value_name = "INPUT")]
    input: String,
    /// Reward for the job, shared by the agents whose result wins: 0.01eth, 10gwei or wei.
    #[arg(long, default_value = "0.01eth", value_name = "AMOUNT", value_parser = parse_amount)]
    reward: U256,
    /// Replicas: how many agents run the job (1 to 15). Above 1 the results are compared
    /// by commit and reveal, and the quorum's wins.
    #[arg(long, default_value_t = 1, value_name = "R",
          value_parser = clap::value_parser!(u8).range(1..=15))]
    replicas: u8,
    /// Agreeing results needed to accept one [default: a majority of the replicas].
    #[arg(long, value_name = "Q")]
    quorum: Option<u8>,
    /// Stake each agent locks while it holds a slot, slashed if it lies or fails to deliver
    /// [default: the reward].
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    collateral: Option<U256>,
    /// Time from now until claims, submits and commits close: 90s, 10m, 1h, 2d.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = parse_duration)]
    deadline: Duration,
    /// Time an agent has to deliver after claiming (at least 1m).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_duration)]
    delivery_window: Duration,
    /// Time for reveals once all replicas committed (r > 1; at least 1m).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_duration)]
    reveal_window: Duration,
    /// Lowest reputation score (accepted − rejected − missed) an agent needs to claim.
    #[arg(long, default_value_t = 0, value_name = "N")]
    min_reputation: u32,
    /// Runtime the job needs: quickjs, or browser (a DOM, headless Chromium).
    #[arg(long, default_value = "quickjs", value_name = "quickjs|browser")]
    runtime: String,
    /// The `options` argument of jsJobRun, as inline JSON.
    #[arg(long, default_value = "{}", value_name = "JSON")]
    options: String,
    #[command(flatten)]
    limits: LimitOpts,
    /// Seed of Math.random, 64 hex digits [default: random].
    #[arg(long, value_name = "HEX")]
    seed: Option<String>,
    /// What Date.now() returns in the job, in seconds since the epoch [default: now].
    #[arg(long, value_name = "SECS")]
    timestamp: Option<u64>,
    /// Follow the job until it ends and print its result envelope.
    #[arg(long)]
    wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only the jobs you posted (your key's account; dev account 0 on a dev chain).
    #[arg(long)]
    mine: bool,
    /// Only jobs in this state.
    #[arg(long, value_name = "STATE", value_parser = state_parser())]
    state: Option<JobStatus>,
    #[command(flatten)]
    from: FromBlock,
}

/// The job status with the contract's `code`.
fn status_of(code: u8) -> Result<JobStatus> {
    JobStatus::from_code(code)
        .with_context(|| format!("the contract reported an unknown job status {code}"))
}

/// `--state`: one of the status names.
fn state_parser() -> impl clap::builder::TypedValueParser<Value = JobStatus> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(JobStatus::ALL.map(JobStatus::name))
        .map(|name| JobStatus::from_name(&name).expect("one of the listed names"))
}

const PHASES: [&str; 4] = ["empty", "claimed", "committed", "revealed"];

pub(crate) async fn run(cmd: JobCmd, g: &GlobalOpts, out: Output) -> Result<bool> {
    match cmd {
        JobCmd::Post(args) => post(*args, g, out).await,
        JobCmd::Status(job) => status(job, g, out).await.map(|()| true),
        JobCmd::List(args) => list(args, g, out).await.map(|()| true),
        JobCmd::Result(job) => result(job, g, out).await,
        JobCmd::Logs(job) => logs(job, g, out).await.map(|()| true),
        JobCmd::Cancel(job) => cancel(job, g, out).await.map(|()| true),
    }
}

fn parse_job_id(text: &str) -> Result<B256, String> {
    let t = text.trim();
    if t.len() == 66
        && t.starts_with("0x")
        && let Ok(id) = t.parse::<B256>()
    {
        return Ok(id);
    }
    Err(format!(
        "{text:?} is not a job id (0x and 64 hex digits, as `agency job post` prints)"
    ))
}

pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); e.g. 90s, 10m, 1h, 2d"))
}

/// CODE or INPUT: a file to add, or content already in the store.
enum Source {
    File(PathBuf),
    Cid(Cid),
}

impl Source {
    fn parse(what: &str, text: &str) -> Result<Self> {
        let path = Path::new(text);
        if path.exists() {
            if path.is_dir() {
                bail!("{what} {text}: is a directory; give a file (or the CID of one)");
            }
            return Ok(Self::File(path.to_owned()));
        }
        match parse_cid(text) {
            Ok(cid) => Ok(Self::Cid(cid)),
            Err(e) => bail!("{what} {text:?}: no such file, and not a CID ({e})"),
        }
    }

    /// Adds the file, or checks that the store holds the CID; returns the CID.
    async fn add(&self, what: &str, store: &Arc<dyn BlockStore>) -> Result<Cid> {
        match self {
            Self::File(path) => {
                Ok(
                    import_file(path, ImportOptions::default(), Some(store.as_ref()), |_| {})
                        .await
                        .with_context(|| format!("adding the {what} {}", path.display()))?
                        .root,
                )
            }
            Self::Cid(cid) => {
                let held = store
                    .has(cid)
                    .await
                    .with_context(|| format!("looking for the {what} {cid} in the store"))?;
                if !held {
                    bail!(
                        "the {what} {cid} is not in the {} (agents could not fetch it): add \
                         the file instead, or `agency store add` it first",
                        store.name()
                    );
                }
                Ok(*cid)
            }
        }
    }
}

async fn post(args: PostArgs, g: &GlobalOpts, out: Output) -> Result<bool> {
    // Everything that can be checked here is checked before anything is added or paid.
    let code = Source::parse("CODE", &args.code)?;
    let input = Source::parse("INPUT", &args.input)?;
    if let Source::File(path) = &input {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice::<Value>(&text)
            .with_context(|| format!("INPUT {} is not JSON", path.display()))?;
    }
    let options: Value = serde_json::from_str(&args.options)
        .with_context(|| format!("--options {:?} is not JSON", args.options))?;
    if !["quickjs", "browser"].contains(&args.runtime.as_str()) {
        bail!(
            "--runtime {:?}: unknown runtime (use quickjs or browser)",
            args.runtime
        );
    }
    let r = args.replicas;
    let quorum = args.quorum.unwrap_or(r / 2 + 1);
    if quorum > r || (r > 1 && quorum <= r / 2) || (r == 1 && quorum != 1) {
        bail!(
            "--quorum {quorum} with {r} replicas: it must be a majority (more than {r}/2, at most {r})"
        );
    }
    let window = |name: &str, d: Duration| -> Result<u32> {
        if d < Duration::from_secs(60) || d > Duration::from_secs(90 * 86_400) {
            bail!(
                "--{name} {}: must be between 1m and 90 days",
                humantime::format_duration(d)
            );
        }
        Ok(d.as_secs() as u32)
    };
    let deadline_in = window("deadline", args.deadline)?;
    let delivery_window = window("delivery-window", args.delivery_window)?;
    let reveal_window = window("reveal-window", args.reveal_window)?;
    let reward = u128::try_from(args.reward)
        .ok()
        .filter(|r| *r > 0)
        .context("--reward must be more than 0 and below 2^128 wei")?;
    let collateral = u128::try_from(args.collateral.unwrap_or(args.reward))
        .context("--collateral must be below 2^128 wei")?;
    let seed = match &args.seed {
        Some(hex) => parse_hex32(hex).map_err(|e| anyhow::anyhow!("--seed: {e}"))?,
        None => B256::random().0,
    };

    let conn = connect(&g.chain, Signer::OrDev, false).await?;
    dev_notice(&conn, out);
    let store = g.store.open()?;
    let code = code.add("code", &store).await?;
    let input = input.add("input", &store).await?;
    let mut spec = JobSpec::new(code, input);
    spec.options = options;
    spec.runtime = args.runtime.clone();
    spec.limits = args.limits.limits();
    spec.seed = seed;
    spec.timestamp = match args.timestamp {
        Some(secs) => i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        None => (unix_now() * 1000) as i64,
    };
    let block = spec.to_block();
    let spec_cid = *block.cid();
    store.put(block).await.context("storing the job spec")?;
    let digest = B256::from_slice(spec_cid.hash().digest());

    let (now, head) = latest(&conn).await?;
    let terms = Terms {
        requester: conn.account(),
        salt: rand_u64(),
        count: 1,
        specs: protocol::specs_hash(&[digest]),
        reward,
        collateral,
        replicas: r,
        quorum,
        minReputation: args.min_reputation,
        deliveryWindow: delivery_window,
        revealWindow: reveal_window,
        deadline: U40::from(now + u64::from(deadline_in)),
    };
    conn.agency
        .post(&terms, &[digest])
        .await
        .context("posting the job")?;
    let job = protocol::job_id(&terms, 0);
    let posted = json!({
        "job": job,
        "spec": spec_cid.to_string(),
        "code": code.to_string(),
        "input": input.to_string(),
        "requester": terms.requester,
        "reward": args.reward.to_string(),
        "replicas": r,
        "quorum": quorum,
        "deadline": now + u64::from(deadline_in),
    });
    out.notice(format_args!(
        "posted job {job}: {} reward, {r} replica{} (quorum {quorum}), spec {spec_cid}",
        eth(args.reward),
        if r == 1 { "" } else { "s" },
    ));
    if !args.wait {
        if out.json {
            out.json(&posted);
        } else {
            out.line(job);
        }
        return Ok(true);
    }
    let (state, envelope) = follow(&conn, &terms, 0, head, &store, out)
        .await
        .with_context(|| {
            format!("following job {job}, which is posted: see `agency job status {job}`")
        })?;
    Ok(print_result(job, state, envelope, out))
}

/// Follows job `index` until it ends, printing each step on stderr as its events arrive;
/// returns how it ended and, if accepted, its result. `from_block` is at or before the post.
async fn follow(
    conn: &Connection,
    terms: &Terms,
    index: u32,
    from_block: u64,
    store: &Arc<dyn BlockStore>,
    out: Output,
) -> Result<(JobStatus, Option<(Cid, Vec<u8>)>)> {
    let job = protocol::job_id(terms, index);
    let pause = if conn.chain_id == DEV_CHAIN_ID {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(1)
    };
    let mut steps = Steps::new(terms.replicas);
    let mut seen = 0;
    let mut settle_sent: Option<Instant> = None;
    loop {
        // The view first: events up to it are then all in, so the last step is printed.
        let view = conn
            .agency
            .job(terms, index)
            .await
            .context("reading the job")?;
        let state = status_of(view.status)?;
        let events = conn
            .agency
            .job_events(job, from_block)
            .await
            .context("reading the job's events")?;
        for e in events.iter().skip(seen) {
            if let Some(line) = steps.line(&e.event) {
                out.notice(line);
            }
        }
        if seen == 0 && events.len() <= 1 {
            out.notice(format_args!(
                "open: waiting for {}",
                if terms.replicas == 1 {
                    "an agent".to_owned()
                } else {
                    format!("{} agents", terms.replicas)
                }
            ));
        }
        seen = events.len().max(1);
        if state == JobStatus::Accepted {
            let found = fetch_result(conn, job, from_block, store).await?;
            return Ok((state, Some(found)));
        }
        if state.is_terminal() {
            return Ok((state, None));
        }
        // Past its deadlines a job waits for anyone to settle it: do it, at most every 5 s.
        let now = chain_now(conn).await?;
        let deadline = terms.deadline.to::<u64>();
        let reveal_end = view.revealEnd.saturating_to::<u64>();
        let due = match state {
            JobStatus::Open => now > deadline,
            _ => reveal_end > 0 && now > reveal_end,
        };
        if due && settle_sent.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            settle_sent = Some(Instant::now());
            let call = conn
                .agency
                .contract()
                .settle(terms.clone(), vec![U256::from(index)]);
            match conn
                .agency
                .transact("settle", call.into_transaction_request())
                .await
            {
                Ok(_) => out.notice("past its deadline: settled the job"),
                Err(e) => tracing::debug!(error = %e, "settle"),
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// Turns a job's events into progress lines, counting claims, commits and reveals.
struct Steps {
    r: u8,
    claimed: u32,
    committed: u32,
    revealed: u32,
}

impl Steps {
    fn new(r: u8) -> Self {
        Self {
            r,
            claimed: 0,
            committed: 0,
            revealed: 0,
        }
    }

    fn line(&mut self, event: &JobAgencyEvents) -> Option<String> {
        use JobAgencyEvents as E;
        let r = self.r;
        Some(match event {
            E::Claimed(c) if r == 1 => format!("claimed by {}: running", c.agent),
            E::Claimed(c) => {
                self.claimed += 1;
                format!("claimed {}/{r} by {}", self.claimed, c.agent)
            }
            E::Released(c) => {
                self.claimed = self.claimed.saturating_sub(1);
                format!("released by {}: the slot is free again", c.agent)
            }
            E::Evicted(c) => {
                self.claimed = self.claimed.saturating_sub(1);
                format!("evicted {}: it did not deliver in time", c.agent)
            }
            E::Committed(c) => {
                self.committed += 1;
                format!("committed {}/{r} by {}", self.committed, c.agent)
            }
            E::RevealsOpened(c) => format!("revealing until {}", when(c.revealEnd.saturating_to())),
            E::Revealed(c) => {
                self.revealed += 1;
                format!("revealed {}/{r} by {}", self.revealed, c.agent)
            }
            E::Accepted(c) => format!(
                "accepted: {} ({} agent{} agreed)",
                raw_cid(c.result.0),
                c.winners,
                if c.winners == U256::from(1) { "" } else { "s" }
            ),
            E::NoConsensus(_) => "no consensus: no result reached the quorum".into(),
            E::Expired(_) => "expired: the deadline passed without enough results".into(),
            E::Cancelled(_) => "cancelled".into(),
            E::Slashed(c) => format!("slashed {}: {}", c.agent, slash_reason(c.reason)),
            _ => return None,
        })
    }
}

fn slash_reason(reason: u8) -> &'static str {
    match reason {
        0 => "evicted",
        1 => "undelivered at the deadline",
        2 => "did not reveal",
        3 => "wrong result",
        _ => "?",
    }
}

/// Prints how a followed job ended; returns whether it succeeded.
fn print_result(job: B256, state: JobStatus, result: Option<(Cid, Vec<u8>)>, out: Output) -> bool {
    let Some((cid, bytes)) = result else {
        if out.json {
            out.json(
                &json!({"job": job, "status": state.name(), "result": null, "envelope": null}),
            );
        }
        out.notice(format_args!("job {job} ended {}: no result", state.name()));
        return false;
    };
    let ok = serde_json::from_slice::<Envelope>(&bytes).is_ok_and(|e| e.is_ok());
    if out.json {
        let envelope: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        out.json(&json!({
            "job": job,
            "status": state.name(),
            "result": cid.to_string(),
            "envelope": envelope,
        }));
    } else {
        out.raw_line(&String::from_utf8_lossy(&bytes));
    }
    ok
}

/// The accepted result of `job`: its CID (from the `Accepted` event) and bytes (from the store).
async fn fetch_result(
    conn: &Connection,
    job: B256,
    from_block: u64,
    store: &Arc<dyn BlockStore>,
) -> Result<(Cid, Vec<u8>)> {
    let events = conn.agency.job_events(job, from_block).await?;
    let digest = events
        .iter()
        .find_map(|e| match &e.event {
            JobAgencyEvents::Accepted(a) => Some(a.result),
            _ => None,
        })
        .with_context(|| format!("job {job} is accepted but its Accepted event is not found"))?;
    let cid = raw_cid(digest.0);
    let block = tokio::time::timeout(Duration::from_secs(30), store.get(&cid))
        .await
        .map_err(|_| anyhow::anyhow!("the result {cid} did not come from the store within 30 s"))?
        .with_context(|| format!("fetching the result {cid} from the {}", store.name()))?;
    Ok((cid, block.data().to_vec()))
}

/// Finds a job's post; a clear error if this contract has none.
async fn find(conn: &Connection, job: &JobRef) -> Result<(Posted, u32)> {
    conn.agency
        .find_job(job.id, job.from.from_block)
        .await
        .context(
            "searching the job's post (if the node limits log searches, start later with \
             --from-block)",
        )?
        .with_context(|| {
            format!(
                "no job {} at {} on chain {}: it was never posted there{}",
                job.id,
                conn.agency.address(),
                conn.chain_id,
                if job.from.from_block > 0 {
                    format!(" (searched from block {})", job.from.from_block)
                } else {
                    String::new()
                }
            )
        })
}

async fn status(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let (posted, index) = find(&conn, &job).await?;
    let view = conn.agency.job(&posted.terms, index).await?;
    let events = conn.agency.job_events(job.id, posted.block).await?;
    let info = JobInfo::new(&posted, index, &view)?;
    let history: Vec<Value> = events.iter().map(event_json).collect();
    let result = events.iter().find_map(|e| match &e.event {
        JobAgencyEvents::Accepted(a) => Some(raw_cid(a.result.0).to_string()),
        _ => None,
    });
    if out.json {
        let mut doc = serde_json::to_value(&info)?;
        doc["result"] = json!(result);
        doc["slots"] = view
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "slot": i,
                    "agent": s.agent,
                    "phase": PHASES.get(s.phase as usize).copied().unwrap_or("?"),
                    "deadline": s.deadline.saturating_to::<u64>(),
                    "sealed": s.sealedResult,
                })
            })
            .collect();
        doc["reveal_end"] = json!(view.revealEnd.saturating_to::<u64>());
        doc["events"] = Value::Array(history);
        out.json(&doc);
        return Ok(());
    }
    let t = &posted.terms;
    out.line(format_args!("job         {}", info.job));
    out.line(format_args!("status      {}", info.status.name()));
    out.line(format_args!("requester   {}", t.requester));
    out.line(format_args!(
        "reward      {} (collateral {} per slot)",
        eth(U256::from(t.reward)),
        eth(U256::from(t.collateral))
    ));
    out.line(format_args!(
        "replicas    {} (quorum {}{})",
        t.replicas,
        t.quorum,
        if t.minReputation > 0 {
            format!(", reputation ≥ {}", t.minReputation)
        } else {
            String::new()
        }
    ));
    out.line(format_args!("deadline    {}", when(info.deadline)));
    out.line(format_args!("spec        {}", info.spec));
    if let Some(result) = &result {
        out.line(format_args!("result      {result}"));
    }
    out.line(format_args!(
        "posted      block {} (tx {})",
        posted.block, posted.tx
    ));
    for (i, s) in view.slots.iter().enumerate() {
        if s.phase == 0 {
            out.line(format_args!("slot {i}      empty"));
        } else {
            out.line(format_args!(
                "slot {i}      {} {}",
                s.agent,
                PHASES.get(s.phase as usize).copied().unwrap_or("?")
            ));
        }
    }
    for e in &history {
        let detail = e["detail"].as_str().unwrap_or_default();
        out.line(format_args!(
            "  block {:<6} {:<14} {detail}",
            e["block"].as_u64().unwrap_or_default(),
            e["event"].as_str().unwrap_or_default()
        ));
    }
    Ok(())
}

/// One row of `job list`, and the head of `job status --json`.
#[derive(Debug, Serialize)]
struct JobInfo {
    job: B256,
    #[serde(serialize_with = "status_name")]
    status: JobStatus,
    requester: Address,
    reward: String,
    collateral: String,
    replicas: u8,
    quorum: u8,
    min_reputation: u32,
    deadline: u64,
    spec: String,
    posted_block: u64,
}

fn status_name<S: serde::Serializer>(status: &JobStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.name())
}

impl JobInfo {
    fn new(posted: &Posted, index: u32, view: &JobView) -> Result<Self> {
        let t = &posted.terms;
        Ok(Self {
            job: posted.job_id(index),
            status: status_of(view.status)?,
            requester: t.requester,
            reward: t.reward.to_string(),
            collateral: t.collateral.to_string(),
            replicas: t.replicas,
            quorum: t.quorum,
            min_reputation: t.minReputation,
            deadline: t.deadline.to::<u64>(),
            spec: posted
                .specs
                .get(index as usize)
                .map(|d| raw_cid(d.0).to_string())
                .unwrap_or_default(),
            posted_block: posted.block,
        })
    }
}

fn event_json(e: &ChainEvent) -> Value {
    use JobAgencyEvents as E;
    let (name, detail) = match &e.event {
        E::JobsPosted(c) => ("posted", format!("by {}", c.requester)),
        E::Claimed(c) => ("claimed", format!("slot {} by {}", c.slot, c.agent)),
        E::Released(c) => ("released", format!("slot {} by {}", c.slot, c.agent)),
        E::Evicted(c) => ("evicted", format!("slot {} of {}", c.slot, c.agent)),
        E::Committed(c) => ("committed", format!("slot {} by {}", c.slot, c.agent)),
        E::RevealsOpened(c) => (
            "reveals-opened",
            format!("until {}", when(c.revealEnd.saturating_to())),
        ),
        E::Revealed(c) => (
            "revealed",
            format!("slot {} by {}: {}", c.slot, c.agent, raw_cid(c.result.0)),
        ),
        E::Accepted(c) => (
            "accepted",
            format!("{} ({} winners)", raw_cid(c.result.0), c.winners),
        ),
        E::NoConsensus(_) => ("no-consensus", String::new()),
        E::Expired(_) => ("expired", String::new()),
        E::Cancelled(_) => ("cancelled", String::new()),
        E::Slashed(c) => (
            "slashed",
            format!(
                "{} lost {} ({})",
                c.agent,
                eth(c.amount),
                slash_reason(c.reason)
            ),
        ),
        other => ("other", format!("{other:?}")),
    };
    json!({"block": e.block, "tx": e.tx, "event": name, "detail": detail})
}

async fn list(args: ListArgs, g: &GlobalOpts, out: Output) -> Result<()> {
    let signer = if args.mine {
        Signer::OrDev
    } else {
        Signer::None
    };
    let conn = connect(&g.chain, signer, false).await?;
    if args.mine {
        dev_notice(&conn, out);
    }
    let batches = conn
        .agency
        .batches(
            conn.signer.as_ref().map(|s| s.address()),
            args.from.from_block,
        )
        .await
        .context("searching for posted jobs")?;
    let jobs: Vec<(&Posted, u32)> = batches
        .iter()
        .flat_map(|p| (0..p.terms.count).map(move |i| (p, i)))
        .collect();
    let agency = &conn.agency;
    let rows: Vec<JobInfo> = futures::stream::iter(jobs)
        .map(|(posted, index)| async move {
            let view = agency.job(&posted.terms, index).await?;
            JobInfo::new(posted, index, &view)
        })
        .buffered(16)
        .try_filter(|row| std::future::ready(args.state.is_none_or(|s| s == row.status)))
        .try_collect()
        .await?;
    if out.json {
        out.json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        out.notice("no jobs");
        return Ok(());
    }
    out.line(format_args!(
        "{:<66}  {:<12}  {:>2}  {:>14}  {:>7}",
        "JOB", "STATUS", "R", "REWARD", "BLOCK"
    ));
    for row in &rows {
        out.line(format_args!(
            "{:<66}  {:<12}  {:>2}  {:>14}  {:>7}",
            row.job.to_string(),
            row.status.name(),
            row.replicas,
            eth(row.reward.parse().unwrap_or_default()),
            row.posted_block
        ));
    }
    Ok(())
}

async fn result(job: JobRef, g: &GlobalOpts, out: Output) -> Result<bool> {
    let (state, found) = accepted_result(&job, g).await?;
    Ok(print_result(job.id, state, Some(found), out))
}

/// The result of an accepted job; an error naming the state otherwise.
async fn accepted_result(job: &JobRef, g: &GlobalOpts) -> Result<(JobStatus, (Cid, Vec<u8>))> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let (posted, index) = find(&conn, job).await?;
    let view = conn.agency.job(&posted.terms, index).await?;
    let state = status_of(view.status)?;
    if state != JobStatus::Accepted {
        let why = if state.is_terminal() {
            "it ended without a result"
        } else {
            "no result yet"
        };
        bail!(
            "job {} is {}: {why} (see `agency job status {}`)",
            job.id,
            state.name(),
            job.id
        );
    }
    let store = g.store.open()?;
    let found = fetch_result(&conn, job.id, posted.block, &store).await?;
    Ok((state, found))
}

async fn logs(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
    let (_, (cid, bytes)) = accepted_result(&job, g).await?;
    let envelope: Envelope = serde_json::from_slice(&bytes)
        .with_context(|| format!("the result {cid} is not a result envelope"))?;
    if out.json {
        out.json(&envelope.logs);
        return Ok(());
    }
    for entry in &envelope.logs {
        out.line(format_args!("{}: {}", entry.level, entry.message));
    }
    Ok(())
}

async fn cancel(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::OrDev, false).await?;
    dev_notice(&conn, out);
    let (posted, index) = find(&conn, &job).await?;
    if posted.terms.requester != conn.account() {
        bail!(
            "job {} was posted by {}, not by {}: only its requester may cancel it",
            job.id,
            posted.terms.requester,
            conn.account()
        );
    }
    let call = conn
        .agency
        .contract()
        .cancel(posted.terms.clone(), U256::from(index));
    let receipt = conn
        .agency
        .transact("cancel", call.into_transaction_request())
        .await
        .with_context(|| format!("cancelling job {}", job.id))?;
    let reward = U256::from(posted.terms.reward);
    if out.json {
        out.json(&json!({
            "job": job.id,
            "status": JobStatus::Cancelled.name(),
            "refund": reward.to_string(),
            "tx": receipt.transaction_hash,
        }));
    } else {
        out.line(format_args!(
            "cancelled job {}: {} back to your balance (agency account withdraw)",
            job.id,
            eth(reward)
        ));
    }
    Ok(())
}

/// Tells the user which account acts when none was given.
pub(crate) fn dev_notice(conn: &Connection, out: Output) {
    if conn.dev_key {
        out.notice(format_args!(
            "acting as dev account 0 ({}): no key given, and this is a dev chain",
            conn.account()
        ));
    }
}

/// The chain's time, or the wall clock if the chain's last block is older (an idle dev chain
/// mines the next block at the wall clock's time).
async fn chain_now(conn: &Connection) -> Result<u64> {
    Ok(latest(conn).await?.0)
}

/// [`chain_now`] and the latest block's number, from one read.
async fn latest(conn: &Connection) -> Result<(u64, u64)> {
    let block = conn
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .context("reading the latest block")?
        .context("the node has no latest block")?;
    Ok((block.header.timestamp.max(unix_now()), block.header.number))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rand_u64() -> u64 {
    u64::from_be_bytes(B256::random().0[..8].try_into().expect("8 bytes"))
}

/// A unix time as RFC 3339, with how far it is from now.
fn when(secs: u64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let stamp = humantime::format_rfc3339_seconds(at);
    let now = unix_now();
    let rel = if secs >= now {
        format!(
            "in {}",
            humantime::format_duration(Duration::from_secs(secs - now))
        )
    } else {
        format!(
            "{} ago",
            humantime::format_duration(Duration::from_secs(now - secs))
        )
    };
    format!("{stamp} ({rel})")
}
