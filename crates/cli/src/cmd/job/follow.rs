//! `--wait`: a posted job followed to its end, each event printed as it lands; past its
//! deadlines the follower settles the job itself (anyone may), so it never waits forever.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agency_chain::{JobStatus, Terms, protocol};
use agency_primitives::Cid;
use agency_store::BlockStore;
use anyhow::{Context, Result};

use super::events::Progress;
use super::fetch_result;
use crate::connect::{Connection, DEV_CHAIN_ID};
use crate::output::Output;

/// Follows job `index` until it ends, printing each step on stderr as its events arrive;
/// returns how it ended and, if accepted, its result. `from_block` is at or before the post.
pub(super) async fn follow(
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
    let mut steps = Progress::new(terms.replicas);
    let mut seen = 0;
    let mut settle_sent: Option<Instant> = None;
    loop {
        // The view first: events up to it are then all in, so the last step is printed.
        let view = conn
            .agency
            .job(terms, index)
            .await
            .context("reading the job")?;
        let state = view.status;
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
        let now = conn
            .agency
            .next_block_time()
            .await
            .context("reading the latest block")?;
        let deadline = terms.deadline.to::<u64>();
        let reveal_end = view.reveal_end;
        let due = match state {
            JobStatus::Open => now > deadline,
            _ => reveal_end > 0 && now > reveal_end,
        };
        if due && settle_sent.is_none_or(|t| t.elapsed() > Duration::from_secs(5)) {
            settle_sent = Some(Instant::now());
            match conn.agency.settle(terms, vec![index]).await {
                Ok(_) => out.notice("past its deadline: settled the job"),
                Err(e) => tracing::debug!(error = %e, "settle"),
            }
        }
        tokio::time::sleep(pause).await;
    }
}
