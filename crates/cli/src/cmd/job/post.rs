//! `agency job post`: check everything the contract and the agents will check, add the code,
//! input and spec to the store, then escrow the reward; `--wait` follows the job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agency_chain::TermsBuilder;
use agency_chain::protocol::{MAX_DURATION, MAX_REPLICAS, MIN_WINDOW};
use agency_primitives::{Cid, JobSpec, Limits, Runtime, parse_cid, parse_hex32};
use agency_store::{BlockStore, ImportOptions, import_file};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use super::{follow, print_result, unix_now};
use crate::connect::{Signer, connect};
use crate::opts::{GlobalOpts, LimitOpts, eth, parse_amount, parse_duration};
use crate::output::Output;

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
          value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_REPLICAS)))]
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
    /// Reputation points an agent needs to claim (0: anyone). A point is a gwei the agent burned
    /// as the 1% reputation fee of rewards it won, less a point per gwei of collateral slashed:
    /// N points cost at least 100·N gwei of rewards won.
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

pub(super) async fn post(args: PostArgs, g: &GlobalOpts, out: Output) -> Result<bool> {
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
    let runtime: Runtime = args.runtime.parse().map_err(|_| {
        anyhow::anyhow!(
            "--runtime {:?}: unknown runtime (use quickjs or browser)",
            args.runtime
        )
    })?;
    // The contract takes any deadline in the future and ignores the reveal window at r = 1;
    // this command asks more of each: a job due sooner than the shortest window leaves no agent
    // time to deliver, and a window given is a window meant.
    for (name, d) in [
        ("deadline", args.deadline),
        ("delivery-window", args.delivery_window),
        ("reveal-window", args.reveal_window),
    ] {
        if d < Duration::from_secs(MIN_WINDOW) || d > Duration::from_secs(MAX_DURATION) {
            bail!(
                "--{name} {}: must be between 1m and 90 days",
                humantime::format_duration(d)
            );
        }
    }
    let seed = match &args.seed {
        Some(hex) => parse_hex32(hex).map_err(|e| anyhow::anyhow!("--seed: {e}"))?,
        None => B256::random().0,
    };
    // The terms' checks need no chain: a stand-in requester and spec digest do until the
    // account is known and the spec stored.
    let terms = |requester, spec| {
        TermsBuilder::new(requester, vec![spec])
            .reward(args.reward)
            .collateral(args.collateral.unwrap_or(args.reward))
            .replicas(args.replicas)
            .quorum(args.quorum)
            .min_reputation(args.min_reputation)
            .delivery_window(args.delivery_window)
            .reveal_window(args.reveal_window)
            .deadline_in(args.deadline)
    };
    terms(Address::ZERO, B256::repeat_byte(1))
        .check()
        .map_err(|e| anyhow::anyhow!("--{} {e}", e.field()))?;
    // Before anything is paid: limits no agent with default settings accepts would leave the
    // job unclaimed until it expires.
    args.limits
        .limits()
        .check_within(&Limits::AGENT_MAX)
        .map_err(|e| anyhow::anyhow!("the job's limits: {e}, by agents' defaults"))?;

    let conn = connect(&g.chain, Signer::OrDev, false).await?;
    conn.announce(out);
    let store = g.store.open()?;
    let code = code.add("code", &store).await?;
    let input = input.add("input", &store).await?;
    let mut spec = JobSpec::new(code, input);
    spec.options = options;
    spec.runtime = runtime;
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

    // An idle dev chain mines its next block at the wall clock's time: count from the later.
    let head = conn
        .agency
        .head()
        .await
        .context("reading the latest block")?;
    let now = head.timestamp.max(unix_now());
    let batch = terms(conn.account(), digest)
        .salt(rand_u64())
        .build(now)
        .map_err(|e| anyhow::anyhow!("--{} {e}", e.field()))?;
    conn.agency.post(&batch).await.context("posting the job")?;
    let terms = &batch.terms;
    let job = batch.job_id(0);
    let (r, quorum) = (terms.replicas, terms.quorum);
    let posted = json!({
        "job": job,
        "spec": spec_cid.to_string(),
        "code": code.to_string(),
        "input": input.to_string(),
        "requester": terms.requester,
        "reward": args.reward.to_string(),
        "replicas": r,
        "quorum": quorum,
        "deadline": now + args.deadline.as_secs(),
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
    let (state, envelope) = follow::follow(&conn, terms, 0, head.number, &store, out)
        .await
        .with_context(|| {
            format!("following job {job}, which is posted: see `agency job status {job}`")
        })?;
    Ok(print_result(job, state, envelope, out))
}

fn rand_u64() -> u64 {
    u64::from_be_bytes(B256::random().0[..8].try_into().expect("8 bytes"))
}
