//! The agent's one retry policy: an operation that fails with trouble that may pass (its error's
//! `is_retryable`) is tried again after a pause that doubles each time, up to a cap, within a
//! budget of tries or a deadline. Each use below names its budget; nothing else in the agent
//! loops on errors.

use std::future::Future;
use std::time::{Duration, Instant};

/// A retry budget: the first pause, the longest, and how many tries or how long in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    first: Duration,
    max: Duration,
    tries: Option<u32>,
    until: Option<Instant>,
}

impl Retry {
    /// Start-up calls (chain id, clock, stake): a node still starting, a dropped connection.
    pub(crate) const STARTUP: Self = Self::new(100, 800, Some(10));
    /// A transaction the node could not take (not a refusal: those are final).
    pub(crate) const SEND: Self = Self::new(100, 3_200, Some(6));
    /// Reading a job's view: until the node answers.
    pub(crate) const READ: Self = Self::new(100, 5_000, None);
    /// Content from the store, which may not have arrived yet; bounded by a deadline.
    pub(crate) const FETCH: Self = Self::new(50, 2_000, None);
    /// A job process that died without an envelope: run it again, at once, twice at most.
    pub(crate) const RUN: Self = Self::new(0, 0, Some(3));
    /// The pause before an action that came back refused is tried again (the scheduler's).
    pub(crate) const REFUSED: Self = Self::new(500, 30_000, None);

    const fn new(first_ms: u64, max_ms: u64, tries: Option<u32>) -> Self {
        Self {
            first: Duration::from_millis(first_ms),
            max: Duration::from_millis(max_ms),
            tries,
            until: None,
        }
    }

    /// The same budget, ending at `deadline` at the latest.
    pub(crate) fn until(self, deadline: Instant) -> Self {
        Self {
            until: Some(deadline),
            ..self
        }
    }

    /// The first pause.
    pub(crate) fn first(&self) -> Duration {
        self.first
    }

    /// The pause after `pause`: doubled, capped.
    pub(crate) fn next(&self, pause: Duration) -> Duration {
        (pause * 2).min(self.max)
    }

    /// Runs `op` until it succeeds, fails for good, or the budget is spent; errors that may
    /// pass are the ones `E::is_retryable` names.
    pub(crate) async fn run<T, E, F, Fut>(&self, what: &str, op: F) -> Result<T, E>
    where
        E: Retryable + std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_if(what, op, E::is_retryable).await
    }

    /// [`Retry::run`] with the caller's notion of what may pass (a block not in the store yet,
    /// say).
    pub(crate) async fn run_if<T, E, F, Fut>(
        &self,
        what: &str,
        mut op: F,
        may_pass: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut pause = self.first;
        let mut tries = 0;
        loop {
            tries += 1;
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if may_pass(&e) && self.allows(tries) => {
                    tracing::debug!(error = %e, "{what}: retrying");
                    let left = self
                        .until
                        .map_or(pause, |u| u.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(pause.min(left)).await;
                    pause = self.next(pause);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn allows(&self, tries: u32) -> bool {
        self.tries.is_none_or(|n| tries < n) && self.until.is_none_or(|u| Instant::now() < u)
    }
}

/// What start-up calls try again: what may pass, and any failure of the node to answer well (a
/// node still starting may answer with errors of every kind for a while).
pub(crate) fn starting(e: &agency_chain::ChainError) -> bool {
    e.is_retryable() || matches!(e, agency_chain::ChainError::Rpc { .. })
}

/// An error that says whether trying again may succeed.
pub(crate) trait Retryable {
    fn is_retryable(&self) -> bool;
}

impl Retryable for agency_chain::ChainError {
    fn is_retryable(&self) -> bool {
        agency_chain::ChainError::is_retryable(self)
    }
}

impl Retryable for crate::WorkerError {
    fn is_retryable(&self) -> bool {
        crate::WorkerError::is_retryable(self)
    }
}

impl Retryable for agency_store::StoreError {
    fn is_retryable(&self) -> bool {
        agency_store::StoreError::is_retryable(self)
    }
}

impl Retryable for agency_runner::RunnerError {
    fn is_retryable(&self) -> bool {
        agency_runner::RunnerError::is_retryable(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug)]
    struct E(bool);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "e{}", self.0)
        }
    }
    impl Retryable for E {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_what_may_pass_within_its_tries_and_nothing_else() {
        let calls = Cell::new(0);
        let r: Result<(), E> = Retry::STARTUP
            .run("x", || {
                calls.set(calls.get() + 1);
                async { Err(E(true)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 10, "ten tries");

        calls.set(0);
        let r: Result<(), E> = Retry::STARTUP
            .run("x", || {
                calls.set(calls.get() + 1);
                async { Err(E(false)) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1, "a final error is not retried");

        calls.set(0);
        let r: Result<u32, E> = Retry::READ
            .run("x", || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 20 { Err(E(true)) } else { Ok(n) } }
            })
            .await;
        assert_eq!(r.unwrap(), 20, "READ has no try limit");
    }

    #[tokio::test]
    async fn pauses_double_up_to_the_cap_and_stop_at_the_deadline() {
        assert_eq!(Retry::REFUSED.first(), Duration::from_millis(500));
        assert_eq!(
            Retry::REFUSED.next(Duration::from_secs(20)),
            Duration::from_secs(30)
        );
        let start = Instant::now();
        let r: Result<(), E> = Retry::FETCH
            .until(start + Duration::from_millis(300))
            .run("x", || async { Err(E(true)) })
            .await;
        assert!(r.is_err());
        let spent = start.elapsed();
        assert!(
            spent >= Duration::from_millis(300) && spent < Duration::from_millis(600),
            "{spent:?}"
        );
    }
}
