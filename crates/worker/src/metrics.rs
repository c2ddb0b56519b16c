//! The agent's Prometheus metrics (OpenMetrics text via `prometheus-client`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How a job ended (`lost`, `missed`, `released`…).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

/// A phase of a job (`check`, `fetch`, `run`, `publish`, a transaction's name…).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    pub phase: &'static str,
}

/// Every metric the agent exports, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub jobs_seen: Counter,
    pub jobs_claimed: Counter,
    pub jobs_succeeded: Counter,
    /// By how the job ended (`lost`, `no-consensus`, `missed`, `released`, `expired`…).
    pub jobs_failed: Family<Outcome, Counter>,
    pub earnings_wei: Counter<f64, AtomicU64>,
    pub stake_wei: Gauge<f64, AtomicU64>,
    pub pending_transactions: Gauge,
    /// Seconds per phase (`check`, `claim`, `fetch`, `run`, `publish`, `deliver`, `reveal`…).
    pub phase_seconds: Family<PhaseLabel, Histogram>,
}

impl Metrics {
    /// Fresh metrics, registered under the `agency_worker` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("agency_worker");
        let m = Self {
            jobs_seen: Counter::default(),
            jobs_claimed: Counter::default(),
            jobs_succeeded: Counter::default(),
            jobs_failed: Family::default(),
            earnings_wei: Counter::default(),
            stake_wei: Gauge::default(),
            pending_transactions: Gauge::default(),
            phase_seconds: Family::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
                ])
            }),
            registry: Registry::default(),
        };
        registry.register("jobs_seen", "Jobs discovered", m.jobs_seen.clone());
        registry.register("jobs_claimed", "Slots claimed", m.jobs_claimed.clone());
        registry.register(
            "jobs_succeeded",
            "Jobs whose accepted result was this agent's",
            m.jobs_succeeded.clone(),
        );
        registry.register(
            "jobs_failed",
            "Claimed jobs that ended without pay, by how they ended",
            m.jobs_failed.clone(),
        );
        registry.register(
            "earnings_wei",
            "Rewards and slashes credited to this agent",
            m.earnings_wei.clone(),
        );
        registry.register(
            "stake_wei",
            "Free balance in the contract",
            m.stake_wei.clone(),
        );
        registry.register(
            "pending_transactions",
            "Transactions sent and not yet mined",
            m.pending_transactions.clone(),
        );
        registry.register(
            "phase_seconds",
            "Time spent per job phase",
            m.phase_seconds.clone(),
        );
        Self { registry, ..m }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Records `seconds` spent in `phase`.
    pub fn observe(&self, phase: &'static str, seconds: f64) {
        self.phase_seconds
            .get_or_create(&PhaseLabel { phase })
            .observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
