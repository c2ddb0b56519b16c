//! What `post` accepts (docs/protocol.md §2): the contract's bounds, the default quorum, and
//! [`TermsBuilder`], which refuses every batch the contract would refuse, before anything is
//! stored or paid.

use std::time::Duration;

use alloy::primitives::aliases::U40;
use alloy::primitives::{Address, B256, U256};

use crate::bindings::IJobAgency::Terms;
use crate::protocol::{batch_id, job_id, specs_hash};

/// Replicas a job may have at most (`MAX_REPLICAS`).
pub const MAX_REPLICAS: u8 = 15;
/// Jobs in one batch at most (`MAX_BATCH`).
pub const MAX_BATCH: u32 = 1024;
/// The longest deadline and window, in seconds (`MAX_DURATION`, 90 days).
pub const MAX_DURATION: u64 = 90 * 86_400;
/// The shortest delivery and reveal window, in seconds (`MIN_WINDOW`).
pub const MIN_WINDOW: u64 = 60;
/// The most wei the reward and the collateral of one job may add up to: balances are 96 bits wide
/// in the contract (its account word; `post` refuses more with `AmountTooLarge`).
pub const MAX_AMOUNT: u128 = (1 << 96) - 1;

/// The quorum of `replicas` when the requester names none: the smallest strict majority.
pub fn default_quorum(replicas: u8) -> u8 {
    replicas / 2 + 1
}

/// Whether `quorum` is one the contract takes for `replicas`: 1 for r = 1, else a strict
/// majority (`r/2 < quorum ≤ r`), so at most one result can reach it.
pub fn is_valid_quorum(quorum: u8, replicas: u8) -> bool {
    if replicas == 1 {
        quorum == 1
    } else {
        u16::from(quorum) * 2 > u16::from(replicas) && quorum <= replicas
    }
}

/// Whether an agent with `points` of reputation may claim a job of `terms` (`claim`, §2, §6): any
/// agent when `minReputation` is 0, else one whose points reach it.
pub fn meets_reputation(terms: &Terms, points: u64) -> bool {
    terms.minReputation == 0 || points >= u64::from(terms.minReputation)
}

/// Why the contract would refuse a batch; in the order `post` checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("of {count} jobs: a batch holds 1 to {MAX_BATCH}")]
    BadBatch { count: usize },
    #[error("of job {index}: a zero digest names no spec")]
    BadSpec { index: usize },
    #[error(
        "of job {index}: the same spec as job {first}; once one's result is public it answers \
         the other without computing (give each job its own seed)"
    )]
    DuplicateSpec { index: usize, first: usize },
    #[error("must be more than 0 wei")]
    ZeroReward,
    #[error("{wei} wei: the reward and the collateral together must be below 2^96 wei")]
    TooLarge { field: &'static str, wei: U256 },
    #[error("{replicas}: must be 1 to {MAX_REPLICAS}")]
    BadReplicas { replicas: u8 },
    #[error(
        "{quorum} with {replicas} replicas: it must be a majority (more than {replicas}/2, at \
         most {replicas})"
    )]
    BadQuorum { quorum: u8, replicas: u8 },
    #[error("{seconds}s from now: must be more than 0s and at most 90 days")]
    BadDeadline { seconds: u64 },
    #[error("{seconds}s: must be between 1m and 90 days")]
    BadWindow { field: &'static str, seconds: u64 },
}

impl TermsError {
    /// The term at fault, named as the CLI's options name it: `reward`, `quorum`,
    /// `delivery-window`, … (the messages read on from it: `--quorum 1 with 3 replicas: …`).
    pub fn field(&self) -> &'static str {
        match self {
            Self::BadBatch { .. } | Self::BadSpec { .. } | Self::DuplicateSpec { .. } => "specs",
            Self::ZeroReward => "reward",
            Self::TooLarge { field, .. } | Self::BadWindow { field, .. } => field,
            Self::BadReplicas { .. } => "replicas",
            Self::BadQuorum { .. } => "quorum",
            Self::BadDeadline { .. } => "deadline",
        }
    }
}

/// A batch to post: its terms, and one spec digest per job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub terms: Terms,
    pub specs: Vec<B256>,
}

impl Batch {
    /// The batch id (docs/protocol.md §1).
    pub fn id(&self) -> B256 {
        batch_id(&self.terms)
    }

    /// The id of job `index`.
    pub fn job_id(&self, index: u32) -> B256 {
        job_id(&self.terms, index)
    }

    /// What posting it pays: the reward of every job.
    pub fn value(&self) -> U256 {
        U256::from(self.terms.reward) * U256::from(self.terms.count)
    }
}

/// Terms for a batch, checked as `post` checks them. Defaults: one replica, the collateral equal
/// to the reward, the [`default_quorum`], no reputation needed, delivery and reveal windows of
/// 10 minutes, a deadline an hour after posting, salt 0. The reward has no default.
#[derive(Debug, Clone)]
pub struct TermsBuilder {
    requester: Address,
    specs: Vec<B256>,
    salt: u64,
    reward: U256,
    collateral: Option<U256>,
    replicas: u8,
    quorum: Option<u8>,
    min_reputation: u32,
    delivery_window: Duration,
    reveal_window: Duration,
    deadline_in: Duration,
}

impl TermsBuilder {
    /// Terms for one job per spec digest in `specs`, posted by `requester`.
    pub fn new(requester: Address, specs: Vec<B256>) -> Self {
        Self {
            requester,
            specs,
            salt: 0,
            reward: U256::ZERO,
            collateral: None,
            replicas: 1,
            quorum: None,
            min_reputation: 0,
            delivery_window: Duration::from_secs(600),
            reveal_window: Duration::from_secs(600),
            deadline_in: Duration::from_secs(3600),
        }
    }

    /// Makes otherwise equal batches distinct (a batch is posted once).
    pub fn salt(mut self, salt: u64) -> Self {
        self.salt = salt;
        self
    }

    /// The reward per job, in wei, shared by the winners.
    pub fn reward(mut self, wei: U256) -> Self {
        self.reward = wei;
        self
    }

    /// What each agent locks while it holds a slot, in wei.
    pub fn collateral(mut self, wei: U256) -> Self {
        self.collateral = Some(wei);
        self
    }

    pub fn replicas(mut self, replicas: u8) -> Self {
        self.replicas = replicas;
        self
    }

    /// Agreeing reveals needed; `None` for the [`default_quorum`].
    pub fn quorum(mut self, quorum: Option<u8>) -> Self {
        self.quorum = quorum;
        self
    }

    /// The reputation points a claimant needs (§6); 0 lets anyone claim.
    pub fn min_reputation(mut self, points: u32) -> Self {
        self.min_reputation = points;
        self
    }

    /// Time a claimant has to submit or commit.
    pub fn delivery_window(mut self, window: Duration) -> Self {
        self.delivery_window = window;
        self
    }

    /// Time for reveals once they open (r > 1).
    pub fn reveal_window(mut self, window: Duration) -> Self {
        self.reveal_window = window;
        self
    }

    /// The deadline, counted from the chain time [`TermsBuilder::build`] is given.
    pub fn deadline_in(mut self, after: Duration) -> Self {
        self.deadline_in = after;
        self
    }

    /// The quorum the terms will carry.
    pub fn quorum_or_default(&self) -> u8 {
        self.quorum.unwrap_or(default_quorum(self.replicas))
    }

    /// Checks what the contract checks at `post`, in its order. Needs no chain: the deadline is
    /// relative to the time of posting.
    pub fn check(&self) -> Result<(), TermsError> {
        let count = self.specs.len();
        if count == 0 || count > MAX_BATCH as usize {
            return Err(TermsError::BadBatch { count });
        }
        if let Some(index) = self.specs.iter().position(|d| d.is_zero()) {
            return Err(TermsError::BadSpec { index });
        }
        let mut seen = std::collections::HashMap::with_capacity(self.specs.len());
        for (index, digest) in self.specs.iter().enumerate() {
            if let Some(&first) = seen.get(digest) {
                return Err(TermsError::DuplicateSpec { index, first });
            }
            seen.insert(*digest, index);
        }
        if self.reward.is_zero() {
            return Err(TermsError::ZeroReward);
        }
        let collateral = self.collateral.unwrap_or(self.reward);
        if self.reward.saturating_add(collateral) > U256::from(MAX_AMOUNT) {
            let field = if self.collateral.is_some() && collateral > self.reward {
                "collateral"
            } else {
                "reward"
            };
            let wei = if field == "reward" {
                self.reward
            } else {
                collateral
            };
            return Err(TermsError::TooLarge { field, wei });
        }
        let r = self.replicas;
        if r == 0 || r > MAX_REPLICAS {
            return Err(TermsError::BadReplicas { replicas: r });
        }
        let quorum = self.quorum_or_default();
        if !is_valid_quorum(quorum, r) {
            return Err(TermsError::BadQuorum {
                quorum,
                replicas: r,
            });
        }
        let deadline = self.deadline_in.as_secs();
        if deadline == 0 || deadline > MAX_DURATION {
            return Err(TermsError::BadDeadline { seconds: deadline });
        }
        let window = |field, d: Duration| {
            let seconds = d.as_secs();
            (!(MIN_WINDOW..=MAX_DURATION).contains(&seconds))
                .then_some(TermsError::BadWindow { field, seconds })
        };
        if let Some(e) = window("delivery-window", self.delivery_window) {
            return Err(e);
        }
        if r > 1
            && let Some(e) = window("reveal-window", self.reveal_window)
        {
            return Err(e);
        }
        Ok(())
    }

    /// The batch, its deadline counted from the chain time `now` (seconds).
    pub fn build(&self, now: u64) -> Result<Batch, TermsError> {
        self.check()?;
        // Checked: at most 90 days; an r = 1 reveal window, which the contract ignores, is
        // not checked and saturates.
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let reward = self.reward.to::<u128>();
        let terms = Terms {
            requester: self.requester,
            salt: self.salt,
            count: self.specs.len() as u32,
            specs: specs_hash(&self.specs),
            reward,
            collateral: self.collateral.map_or(reward, |c| c.to::<u128>()),
            replicas: self.replicas,
            quorum: self.quorum_or_default(),
            minReputation: self.min_reputation,
            deliveryWindow: secs(self.delivery_window),
            revealWindow: secs(self.reveal_window),
            deadline: U40::from(now.saturating_add(self.deadline_in.as_secs())),
        };
        Ok(Batch {
            terms,
            specs: self.specs.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::source;

    #[test]
    fn bounds_are_the_contracts() {
        assert_eq!(source::constant("MAX_REPLICAS"), u64::from(MAX_REPLICAS));
        assert_eq!(source::constant("MAX_BATCH"), u64::from(MAX_BATCH));
        assert_eq!(source::constant("MAX_DURATION"), MAX_DURATION);
        assert_eq!(source::constant("MIN_WINDOW"), MIN_WINDOW);
        // The messages spell the bounds out.
        let window = TermsError::BadWindow {
            field: "delivery-window",
            seconds: 1,
        };
        assert!(
            window.to_string().contains(&format!(
                "between {}m and {} days",
                MIN_WINDOW / 60,
                MAX_DURATION / 86_400
            )),
            "{window}"
        );
    }

    #[test]
    fn the_default_quorum_is_the_smallest_majority() {
        for r in 1..=MAX_REPLICAS {
            let q = default_quorum(r);
            assert!(is_valid_quorum(q, r), "r = {r}");
            assert!(
                q == 1 || !is_valid_quorum(q - 1, r),
                "r = {r}: {q} is not the smallest"
            );
        }
        assert_eq!(
            (1..=5).map(default_quorum).collect::<Vec<_>>(),
            [1, 2, 2, 3, 3]
        );
        // r = 1 takes only 1; r = 4 takes 3 or 4 (2 is a tie, not a majority).
        assert!(!is_valid_quorum(0, 1) && !is_valid_quorum(2, 1));
        assert!(!is_valid_quorum(2, 4) && is_valid_quorum(3, 4) && !is_valid_quorum(5, 4));
    }

    #[test]
    fn reputation_matters_only_where_the_job_asks_for_it() {
        let terms = |min| Terms {
            minReputation: min,
            ..Terms::default()
        };
        // minReputation 0: anyone (the contract skips the check).
        assert!(meets_reputation(&terms(0), 0));
        assert!(meets_reputation(&terms(2), 2));
        assert!(!meets_reputation(&terms(2), 1));
        // The contract's own rule, as written there.
        assert!(
            source::CONTRACT.contains("if (t.minReputation != 0) {")
                && source::CONTRACT
                    .contains("if (points < t.minReputation) revert ReputationTooLow"),
            "JobAgency.sol checks reputation another way now: update meets_reputation"
        );
    }

    fn builder() -> TermsBuilder {
        TermsBuilder::new(Address::repeat_byte(1), vec![B256::repeat_byte(2)])
            .reward(U256::from(100))
    }

    #[test]
    fn what_post_refuses_the_builder_refuses() {
        let day = Duration::from_secs(86_400);
        let cases: Vec<(TermsBuilder, TermsError)> = vec![
            (
                TermsBuilder::new(Address::ZERO, vec![]).reward(U256::from(1)),
                TermsError::BadBatch { count: 0 },
            ),
            (
                TermsBuilder::new(Address::ZERO, vec![B256::repeat_byte(1); 1025])
                    .reward(U256::from(1)),
                TermsError::BadBatch { count: 1025 },
            ),
            (
                TermsBuilder::new(Address::ZERO, vec![B256::repeat_byte(1), B256::ZERO])
                    .reward(U256::from(1)),
                TermsError::BadSpec { index: 1 },
            ),
            (
                TermsBuilder::new(
                    Address::ZERO,
                    vec![
                        B256::repeat_byte(1),
                        B256::repeat_byte(2),
                        B256::repeat_byte(1),
                    ],
                )
                .reward(U256::from(1)),
                TermsError::DuplicateSpec { index: 2, first: 0 },
            ),
            (builder().reward(U256::from(0)), TermsError::ZeroReward),
            (
                builder().reward(U256::from(MAX_AMOUNT / 2 + 1)),
                TermsError::TooLarge {
                    field: "reward",
                    wei: U256::from(MAX_AMOUNT / 2 + 1),
                },
            ),
            (
                builder().collateral(U256::MAX),
                TermsError::TooLarge {
                    field: "collateral",
                    wei: U256::MAX,
                },
            ),
            (
                builder().replicas(0),
                TermsError::BadReplicas { replicas: 0 },
            ),
            (
                builder().replicas(16),
                TermsError::BadReplicas { replicas: 16 },
            ),
            (
                builder().replicas(3).quorum(Some(1)),
                TermsError::BadQuorum {
                    quorum: 1,
                    replicas: 3,
                },
            ),
            (
                builder().quorum(Some(2)),
                TermsError::BadQuorum {
                    quorum: 2,
                    replicas: 1,
                },
            ),
            (
                builder().deadline_in(Duration::ZERO),
                TermsError::BadDeadline { seconds: 0 },
            ),
            (
                builder().deadline_in(day * 91),
                TermsError::BadDeadline {
                    seconds: 91 * 86_400,
                },
            ),
            (
                builder().delivery_window(Duration::from_secs(59)),
                TermsError::BadWindow {
                    field: "delivery-window",
                    seconds: 59,
                },
            ),
            (
                builder().replicas(3).reveal_window(day * 91),
                TermsError::BadWindow {
                    field: "reveal-window",
                    seconds: 91 * 86_400,
                },
            ),
        ];
        for (b, expected) in cases {
            assert_eq!(b.check(), Err(expected.clone()), "{b:?}");
            assert_eq!(b.build(1_000), Err(expected));
        }
        // The reveal window does not matter at r = 1, as in the contract.
        assert!(builder().reveal_window(Duration::ZERO).check().is_ok());
        assert!(builder().deadline_in(day * 90).check().is_ok());
    }

    #[test]
    fn built_terms_carry_the_defaults_and_the_deadline_from_now() {
        let batch = builder().replicas(3).salt(7).build(1_000).unwrap();
        let t = &batch.terms;
        assert_eq!((t.replicas, t.quorum, t.salt), (3, 2, 7));
        assert_eq!(
            (t.reward, t.collateral),
            (100, 100),
            "collateral defaults to the reward"
        );
        assert_eq!(t.deadline, U40::from(1_000 + 3_600));
        assert_eq!((t.deliveryWindow, t.revealWindow), (600, 600));
        assert_eq!(t.specs, specs_hash(&batch.specs));
        assert_eq!(batch.value(), U256::from(100));
        assert_eq!(batch.job_id(0), job_id(t, 0));
    }
}
