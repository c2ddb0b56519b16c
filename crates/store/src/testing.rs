//! Test seams for other crates' tests (feature `test-utils`): [`Outage`], a store that can be
//! taken away.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Block, BlockStore, Cid, MemStore, StoreError};

/// A store that can be taken away: every call fails with a timeout while it is down, and
/// reads of the blocked CIDs fail as not found.
#[derive(Debug)]
pub struct Outage {
    pub inner: Arc<MemStore>,
    pub down: AtomicBool,
    pub blocked: Mutex<HashSet<Cid>>,
}

impl Outage {
    pub fn new(inner: Arc<MemStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
            blocked: Mutex::new(HashSet::new()),
        })
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(StoreError::Timeout {
                backend: "test store",
                what: "the request".into(),
                after: Duration::from_millis(1),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlockStore for Outage {
    async fn get(&self, cid: &Cid) -> Result<Block, StoreError> {
        self.check()?;
        if self
            .blocked
            .lock()
            .expect("the blocked set is never poisoned")
            .contains(cid)
        {
            return Err(StoreError::NotFound {
                cid: *cid,
                backend: "test store",
            });
        }
        self.inner.get(cid).await
    }

    async fn put(&self, block: Block) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(block).await
    }

    async fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.has(cid).await
    }

    fn name(&self) -> &'static str {
        "test store"
    }
}
