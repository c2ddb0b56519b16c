//! A fake executor for tests of code that runs jobs (the agent): answers from a function.

use std::sync::Arc;

use agency_primitives::{Envelope, Success};
use async_trait::async_trait;

use crate::{Executor, JobRun, RunnerError};

type Answer = dyn Fn(&JobRun) -> Result<Envelope, RunnerError> + Send + Sync;

/// An executor whose envelope for each job is computed by a test-supplied function.
#[derive(Clone)]
pub struct FakeExecutor {
    answer: Arc<Answer>,
}

impl std::fmt::Debug for FakeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeExecutor")
    }
}

impl FakeExecutor {
    /// Answers every job with `answer(job)`.
    pub fn new(
        answer: impl Fn(&JobRun) -> Result<Envelope, RunnerError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            answer: Arc::new(answer),
        }
    }

    /// Answers every job with its own input as the result (a trivially "honest" agent).
    pub fn echo() -> Self {
        Self::new(|job| {
            let result = serde_json::from_str(&job.input).unwrap_or(serde_json::Value::Null);
            Ok(Envelope {
                outcome: Ok(Success {
                    result,
                    details: serde_json::Value::Null,
                }),
                logs: vec![],
            })
        })
    }
}

#[async_trait]
impl Executor for FakeExecutor {
    async fn run(&self, job: JobRun) -> Result<Envelope, RunnerError> {
        (self.answer)(&job)
    }

    fn runtime(&self) -> crate::Runtime {
        crate::Runtime::QuickJs
    }
}
