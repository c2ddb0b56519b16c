//! `agency job cancel`: the requester takes back a job no agent has claimed.

use agency_chain::JobStatus;
use alloy::primitives::U256;
use anyhow::{Context, Result, bail};
use serde_json::json;

use super::{JobRef, find};
use crate::connect::{Signer, connect};
use crate::opts::{GlobalOpts, eth};
use crate::output::Output;

pub(super) async fn cancel(job: JobRef, g: &GlobalOpts, out: Output) -> Result<()> {
    let conn = connect(&g.chain, Signer::OrDev, false).await?;
    conn.announce(out);
    let (posted, index) = find(&conn, &job).await?;
    if posted.terms.requester != conn.account() {
        bail!(
            "job {} was posted by {}, not by {}: only its requester may cancel it",
            job.id,
            posted.terms.requester,
            conn.account()
        );
    }
    let mined = conn
        .agency
        .cancel(&posted.terms, index)
        .await
        .with_context(|| format!("cancelling job {}", job.id))?;
    let reward = U256::from(posted.terms.reward);
    if out.json {
        out.json(&json!({
            "job": job.id,
            "status": JobStatus::Cancelled.name(),
            "refund": reward.to_string(),
            "tx": mined.tx,
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
