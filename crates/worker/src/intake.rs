//! Intake: the contract's events, from the journal's cursor, turned into what the driver acts
//! on: jobs to track, and jobs worth a fresh look. Events only wake the machines; what a job's
//! state is, the machine reads from the chain itself (it is level-triggered).

use agency_chain::events::{Cursor, EventStream, StreamItem};
use agency_chain::{Agency, ChainError, Event, Terms, protocol};
use alloy::primitives::B256;

use crate::machine::Phase;

/// What an event tells the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum News {
    /// A job was posted.
    Posted {
        id: B256,
        terms: Terms,
        index: u32,
        spec: B256,
    },
    /// Something happened to a job.
    Changed { job: B256, change: Change },
}

/// How an event touched a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// A slot opened again (a release or an eviction).
    pub(crate) reopened: bool,
    /// The job ended.
    pub(crate) ended: bool,
    /// A reorg took the event back.
    pub(crate) removed: bool,
}

impl Change {
    /// Whether a job in `phase` should be looked at again: a job passed over only when a slot
    /// reopens, it ends, or history changed under it; any other job always.
    pub(crate) fn worth_a_look(&self, phase: &Phase) -> bool {
        match phase {
            Phase::Skipped(_) | Phase::New => self.reopened || self.ended || self.removed,
            _ => true,
        }
    }
}

/// The contract's events since the saved cursor.
#[derive(Debug)]
pub(crate) struct Intake {
    stream: EventStream,
}

impl Intake {
    /// Events from block `cursor` on, `confirmations` deep.
    pub(crate) fn new(agency: &Agency, cursor: u64, confirmations: u64) -> Self {
        Self {
            stream: agency.events(Cursor::from_block(cursor), confirmations),
        }
    }

    /// The next block to scan: what the journal saves.
    pub(crate) fn cursor(&self) -> u64 {
        self.stream.cursor().next_block
    }

    /// One scan: the news, and whether more blocks wait (call again to catch up).
    pub(crate) async fn poll(&mut self) -> Result<(Vec<News>, bool), ChainError> {
        let items = self.stream.poll().await?;
        let more = items.iter().any(|i| matches!(i, StreamItem::Added(_)));
        Ok((items.into_iter().flat_map(read).collect(), more))
    }
}

/// What one stream item says.
fn read(item: StreamItem) -> Vec<News> {
    let (removed, event) = match item {
        StreamItem::Added(e) => (false, e.event),
        StreamItem::Removed(e) => (true, e.event),
    };
    let job = match &event {
        Event::JobsPosted(p) => {
            let ids = (0..p.terms.count).map(|i| protocol::job_id(&p.terms, i));
            if removed {
                // The post is gone: every job of it needs a look (it will show as unknown).
                let change = Change {
                    reopened: false,
                    ended: false,
                    removed: true,
                };
                return ids.map(|job| News::Changed { job, change }).collect();
            }
            if p.specs.len() != p.terms.count as usize {
                return Vec::new();
            }
            return p
                .specs
                .iter()
                .enumerate()
                .map(|(index, spec)| News::Posted {
                    id: protocol::job_id(&p.terms, index as u32),
                    terms: p.terms.clone(),
                    index: index as u32,
                    spec: *spec,
                })
                .collect();
        }
        Event::Claimed(e) => e.job,
        Event::Released(e) => e.job,
        Event::Evicted(e) => e.job,
        Event::Committed(e) => e.job,
        Event::RevealsOpened(e) => e.job,
        Event::Revealed(e) => e.job,
        Event::Accepted(e) => e.job,
        Event::NoConsensus(e) => e.job,
        Event::Expired(e) => e.job,
        Event::Cancelled(e) => e.job,
        Event::Slashed(e) => e.job,
        Event::Deposited(_) | Event::Withdrawn(_) => return Vec::new(),
    };
    let change = Change {
        reopened: matches!(event, Event::Released(_) | Event::Evicted(_)),
        ended: matches!(
            event,
            Event::Accepted(_) | Event::NoConsensus(_) | Event::Expired(_) | Event::Cancelled(_)
        ),
        removed,
    };
    vec![News::Changed { job, change }]
}
