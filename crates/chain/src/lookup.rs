//! Reading a job's history back from the chain: the terms a job id was posted with, the
//! batches a requester posted, and everything that happened to one job.
//!
//! Terms are calldata, never storage (docs/protocol.md §1), so a client that holds only a job
//! id finds its terms in the `JobsPosted` event indexed by the batch id the job id starts with.

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;

use crate::bindings::IJobAgency::Terms;
use crate::bindings::JobAgency::{JobAgencyEvents, JobsPosted};
use crate::client::Agency;
use crate::error::ChainError;
use crate::events::{ChainEvent, decode};
use crate::protocol;

/// A batch as its `JobsPosted` event recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub batch: B256,
    pub terms: Terms,
    /// One spec digest per job, in index order.
    pub specs: Vec<B256>,
    pub block: u64,
    pub tx: B256,
}

impl Posted {
    /// The id of job `index` of this batch.
    pub fn job_id(&self, index: u32) -> B256 {
        protocol::job_id(&self.terms, index)
    }
}

impl Agency {
    /// The batch whose id is `batch`, posted at or after `from_block`; `None` if this contract
    /// has no such batch.
    pub async fn posted(&self, batch: B256, from_block: u64) -> Result<Option<Posted>, ChainError> {
        let filter = Filter::new()
            .address(self.address())
            .event_signature(JobsPosted::SIGNATURE_HASH)
            .topic1(batch)
            .from_block(from_block);
        Ok(self.posted_where(filter).await?.into_iter().next())
    }

    /// The batches posted at or after `from_block`, oldest first; only `requester`'s if given.
    pub async fn batches(
        &self,
        requester: Option<Address>,
        from_block: u64,
    ) -> Result<Vec<Posted>, ChainError> {
        let mut filter = Filter::new()
            .address(self.address())
            .event_signature(JobsPosted::SIGNATURE_HASH)
            .from_block(from_block);
        if let Some(requester) = requester {
            filter = filter.topic2(requester.into_word());
        }
        self.posted_where(filter).await
    }

    /// The job id's batch and index, if this contract has such a job.
    pub async fn find_job(
        &self,
        job: B256,
        from_block: u64,
    ) -> Result<Option<(Posted, u32)>, ChainError> {
        let (batch, index) = protocol::split_job_id(job);
        Ok(self
            .posted(batch, from_block)
            .await?
            .filter(|posted| index < posted.terms.count)
            .map(|posted| (posted, index)))
    }

    /// Every event about job `job` (claims, commits, reveals, slashes, its end), oldest first.
    pub async fn job_events(
        &self,
        job: B256,
        from_block: u64,
    ) -> Result<Vec<ChainEvent>, ChainError> {
        let filter = Filter::new()
            .address(self.address())
            .topic1(job)
            .from_block(from_block);
        let logs = self.logs(&filter).await?;
        logs.iter().map(decode).collect()
    }

    async fn posted_where(&self, filter: Filter) -> Result<Vec<Posted>, ChainError> {
        let logs = self.logs(&filter).await?;
        let mut out = Vec::with_capacity(logs.len());
        for log in &logs {
            let event = decode(log)?;
            let JobAgencyEvents::JobsPosted(posted) = event.event else {
                continue;
            };
            out.push(Posted {
                batch: posted.batch,
                terms: posted.terms,
                specs: posted.specs,
                block: event.block,
                tx: event.tx,
            });
        }
        Ok(out)
    }

    async fn logs(&self, filter: &Filter) -> Result<Vec<alloy::rpc::types::Log>, ChainError> {
        self.provider()
            .get_logs(filter)
            .await
            .map_err(|e| crate::client::rpc("eth_getLogs", e))
    }
}
