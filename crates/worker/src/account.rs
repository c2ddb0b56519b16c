//! The agent's account in the contract: the stake deposited at start, the balance and score the
//! machine decides claims with, and withdrawals of what is earned beyond the stake.

use agency_chain::{Account, Agency};
use alloy::primitives::{Address, U256};

use crate::WorkerError;
use crate::metrics::Metrics;
use crate::retry::{Retry, starting};

/// What the agent keeps in the contract, and when it last looked.
#[derive(Debug)]
pub(crate) struct Purse {
    /// The balance to keep deposited.
    stake: U256,
    /// Withdraw what is above the stake once it exceeds it by this much.
    auto_withdraw: Option<U256>,
    /// A transaction may have moved collateral or pay since the last read.
    stale: bool,
    /// A withdrawal is on its way.
    withdrawing: bool,
}

impl Purse {
    pub(crate) fn new(stake: U256, auto_withdraw: Option<U256>) -> Self {
        Self {
            stake,
            auto_withdraw,
            stale: true,
            withdrawing: false,
        }
    }

    /// Deposits what is missing from the stake. Collateral `locked` in slots the agent holds
    /// (or may hold: a claim was on its way) counts as staked, so a restart mid-job does not
    /// top the stake up by it. The balance is read again before every try, so a deposit whose
    /// answer was lost is not made twice.
    pub(crate) async fn deposit_stake(
        &self,
        agency: &Agency,
        me: Address,
        locked: U256,
    ) -> Result<(), WorkerError> {
        Retry::STARTUP
            .run_if("staking", || async move {
                let account = agency.account(me).await?;
                let staked = account.balance + locked;
                if staked >= self.stake {
                    return Ok(());
                }
                let missing = self.stake - staked;
                let wallet = agency.balance(me).await?;
                if wallet < missing {
                    return Err(WorkerError::Stake(format!(
                        "staking {missing} wei needs that much in {me}, which holds {wallet} wei"
                    )));
                }
                tracing::info!(wei = %missing, "depositing stake");
                agency.deposit(missing).await?;
                Ok(())
            }, |e| match e {
                WorkerError::Chain(e) => starting(e),
                _ => false,
            })
            .await
    }

    /// Something happened that may have moved the balance: read it at the next poll.
    pub(crate) fn touch(&mut self) {
        self.stale = true;
    }

    /// Whether the balance should be read again.
    pub(crate) fn is_stale(&self) -> bool {
        self.stale
    }

    /// Takes a fresh reading of the account into the machine's view of the agent.
    pub(crate) fn read(
        &mut self,
        a: &Account,
        agent: &mut crate::machine::Agent,
        metrics: &Metrics,
    ) {
        agent.balance = a.balance;
        agent.points = a.points;
        metrics.stake_wei.set(f64::from(a.balance));
        self.stale = false;
    }

    /// The amount to withdraw now, if a withdrawal is due (and none is on its way): the
    /// balance above the stake, once it reaches the threshold.
    pub(crate) fn withdrawal_due(&mut self, balance: U256) -> Option<U256> {
        let threshold = self.auto_withdraw?;
        let excess = balance.saturating_sub(self.stake);
        if self.withdrawing || excess.is_zero() || excess < threshold {
            return None;
        }
        self.withdrawing = true;
        Some(excess)
    }

    /// Whether a withdrawal is on its way.
    pub(crate) fn withdrawing(&self) -> bool {
        self.withdrawing
    }

    /// The withdrawal came back (done or failed).
    pub(crate) fn withdrew(&mut self) {
        self.withdrawing = false;
        self.stale = true;
    }
}

/// Withdraws `excess` to the agent's wallet; a failure is logged, and the next due withdrawal
/// tries again.
pub(crate) async fn withdraw(agency: Agency, excess: U256, metrics: std::sync::Arc<Metrics>) {
    metrics.pending_transactions.inc();
    match agency.withdraw(excess, None).await {
        Ok(_) => tracing::info!(wei = %excess, "withdrew earnings"),
        Err(e) => tracing::warn!(error = %e, "withdrawing earnings failed"),
    }
    metrics.pending_transactions.dec();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawals_wait_for_the_threshold_and_go_one_at_a_time() {
        let mut p = Purse::new(U256::from(100), Some(U256::from(10)));
        assert_eq!(
            p.withdrawal_due(U256::from(105)),
            None,
            "below the threshold"
        );
        assert_eq!(p.withdrawal_due(U256::from(110)), Some(U256::from(10)));
        assert_eq!(p.withdrawal_due(U256::from(200)), None, "one on its way");
        p.withdrew();
        assert!(p.is_stale());
        assert_eq!(p.withdrawal_due(U256::from(200)), Some(U256::from(100)));
        let mut off = Purse::new(U256::from(100), None);
        assert_eq!(off.withdrawal_due(U256::from(1_000)), None, "not asked for");
    }
}
