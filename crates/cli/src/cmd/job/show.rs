//! `agency job status|list|result|logs`: what the chain and the store say about posted jobs.

use agency_chain::{Event, JobStatus, JobView, Posted};
use agency_primitives::{Cid, Envelope, raw_cid};
use alloy::primitives::{Address, B256, U256};
use anyhow::{Context, Result, bail};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::{FromBlock, JobRef, events, fetch_result, find, print_result, when};
use crate::connect::{Signer, connect};
use crate::opts::{GlobalOpts, eth};
use crate::output::Output;

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

/// `--state`: one of the status names.
fn state_parser() -> impl clap::builder::TypedValueParser<Value = JobStatus> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(JobStatus::ALL.map(JobStatus::name))
        .map(|name| JobStatus::from_name(&name).expect("one of the listed names"))
}

pub(super) async fn status(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let (posted, index) = find(&conn, &job).await?;
    let view = conn.agency.job(&posted.terms, index).await?;
    let events = conn.agency.job_events(job.id, posted.block).await?;
    let info = JobInfo::new(&posted, index, &view);
    let history: Vec<Value> = events.iter().map(events::history).collect();
    let result = events.iter().find_map(|e| match &e.event {
        Event::Accepted(a) => Some(raw_cid(a.result.0).to_string()),
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
                    "phase": s.phase.name(),
                    "deadline": s.deadline,
                    "sealed": s.sealed,
                })
            })
            .collect();
        doc["reveal_end"] = json!(view.reveal_end);
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
            format!(", reputation ≥ {} points", t.minReputation)
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
        if s.phase.is_held() {
            out.line(format_args!("slot {i}      {} {}", s.agent, s.phase.name()));
        } else {
            out.line(format_args!("slot {i}      {}", s.phase.name()));
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
    fn new(posted: &Posted, index: u32, view: &JobView) -> Self {
        let t = &posted.terms;
        Self {
            job: posted.job_id(index),
            status: view.status,
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
        }
    }
}

pub(super) async fn list(args: ListArgs, g: &GlobalOpts, out: Output) -> Result<()> {
    let signer = if args.mine {
        Signer::OrDev
    } else {
        Signer::None
    };
    let conn = connect(&g.chain, signer, false).await?;
    if args.mine {
        conn.announce(out);
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
            anyhow::Ok(JobInfo::new(posted, index, &view))
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

pub(super) async fn result(job: JobRef, g: &GlobalOpts, out: Output) -> Result<bool> {
    let (state, found) = accepted_result(&job, g).await?;
    Ok(print_result(job.id, state, Some(found), out))
}

/// The result of an accepted job; an error naming the state otherwise.
async fn accepted_result(job: &JobRef, g: &GlobalOpts) -> Result<(JobStatus, (Cid, Vec<u8>))> {
    let conn = connect(&g.chain, Signer::None, false).await?;
    let (posted, index) = find(&conn, job).await?;
    let state = conn.agency.job(&posted.terms, index).await?.status;
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

pub(super) async fn logs(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
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
