//! `agency job`: the requester's side. Post a job (code and input to the store, the spec beside
//! them, the reward into escrow) and follow it: status, list, result, logs, cancel.
//!
//! One file per concern: [`post`] (arguments, checks, posting), [`follow`] (`--wait`: progress
//! as events land, settling past the deadlines), [`show`] (`status`, `list`, `result`, `logs`),
//! [`cancel`], and [`events`], the one place events are put into words.

mod cancel;
mod events;
mod follow;
mod post;
mod show;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agency_chain::{Event, JobStatus, Posted};
use agency_primitives::{Cid, Envelope, raw_cid};
use agency_store::BlockStore;
use alloy::primitives::B256;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::connect::Connection;
use crate::opts::{GlobalOpts, parse_job_id};
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
    Post(Box<post::PostArgs>),
    /// Show a job: status, terms, slots and their agents, result, and history.
    Status(JobRef),
    /// List the jobs posted to the contract, oldest first.
    List(show::ListArgs),
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

pub(crate) async fn run(cmd: JobCmd, g: &GlobalOpts, out: Output) -> Result<bool> {
    match cmd {
        JobCmd::Post(args) => post::post(*args, g, out).await,
        JobCmd::Status(job) => show::status(job, g, out).await.map(|()| true),
        JobCmd::List(args) => show::list(args, g, out).await.map(|()| true),
        JobCmd::Result(job) => show::result(job, g, out).await,
        JobCmd::Logs(job) => show::logs(job, g, out).await.map(|()| true),
        JobCmd::Cancel(job) => cancel::cancel(job, g, out).await.map(|()| true),
    }
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
            Event::Accepted(a) => Some(a.result),
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

/// Prints how a job ended and, if accepted, its result; returns whether it succeeded.
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
