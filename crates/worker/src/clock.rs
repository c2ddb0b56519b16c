//! The chain's clock as the agent keeps it: the latest block's timestamp, plus the seconds
//! since the agent saw that block. Deadlines are chain time, never the local wall clock; between
//! blocks the estimate runs on, and each poll sets it back on the chain's.

use std::time::Instant;

/// The chain time, in seconds, as last read and carried forward.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    seen: u64,
    at: Instant,
}

impl Clock {
    /// A clock at the latest block's timestamp `seen`.
    pub(crate) fn new(seen: u64) -> Self {
        Self {
            seen,
            at: Instant::now(),
        }
    }

    /// Takes a fresh reading of the latest block's timestamp. The same timestamp again does not
    /// reset the count of seconds since it was first seen.
    pub(crate) fn observe(&mut self, timestamp: u64) {
        if timestamp != self.seen {
            *self = Self::new(timestamp);
        }
    }

    /// The chain's time now.
    pub(crate) fn now(&self) -> u64 {
        self.seen + self.at.elapsed().as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_runs_on_from_the_latest_block_and_follows_new_ones() {
        let mut c = Clock::new(1_000);
        assert_eq!(c.now(), 1_000);
        c.at -= std::time::Duration::from_secs(5);
        assert_eq!(c.now(), 1_005, "runs on between blocks");
        c.observe(1_000);
        assert_eq!(c.now(), 1_005, "the same block again changes nothing");
        c.observe(2_000);
        assert_eq!(c.now(), 2_000, "a new block sets it");
    }
}
