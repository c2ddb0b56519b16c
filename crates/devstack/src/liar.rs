//! [`Liar`]: an agent's executor that runs each job, then swaps the result for one of its own.
//! Honest replicas outvote it and the contract slashes it; colluding liars give the same answer.

use std::sync::Arc;

use agency_primitives::{Envelope, Success};
use agency_runner::{Executor, JobRun, RunnerError, Runtime};
use serde_json::{Value, json};

/// A lying executor over an honest one.
#[derive(Clone)]
pub struct Liar {
    inner: Arc<dyn Executor>,
    answer: Arc<dyn Fn() -> Value + Send + Sync>,
}

impl Liar {
    /// Answers every job with what `answer` returns (the same value for colluders, a fresh
    /// random one for a liar on its own).
    pub fn new(
        inner: Arc<dyn Executor>,
        answer: impl Fn() -> Value + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            answer: Arc::new(answer),
        }
    }

    /// Answers every job with `{"lie": tag}` (`agency dev --lying-workers`).
    pub fn tagged(inner: Arc<dyn Executor>, tag: String) -> Self {
        Self::new(inner, move || json!({ "lie": tag }))
    }
}

impl std::fmt::Debug for Liar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liar")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Executor for Liar {
    async fn run(&self, job: JobRun) -> Result<Envelope, RunnerError> {
        let mut envelope = self.inner.run(job).await?;
        envelope.outcome = Ok(Success {
            result: (self.answer)(),
            details: Value::Null,
        });
        Ok(envelope)
    }

    fn runtime(&self) -> Runtime {
        self.inner.runtime()
    }
}
