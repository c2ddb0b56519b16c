//! How an accepted job pays (docs/protocol.md §3, §6, protocol v2): [`reputation_fee`] of the
//! reward is burned and earns the winners their reputation [`points`]; the winners share the
//! rest, the division's remainder going to the first winner in slot order; each winner also gets
//! its own collateral back (not counted here). Every other held slot's collateral is burned, so
//! nobody (a requester running the majority included) profits from a slash; [`burned`] says how
//! much. A release burns [`release_fee`]: part of the collateral, growing with the time held.

use alloy::primitives::{Address, U256};

use crate::bindings::IJobAgency::Terms;
use crate::protocol::SlotPhase;
use crate::view::JobView;

/// Each winner of the job `view` shows as accepted, in slot order, with what it was credited
/// beyond its collateral. Empty when no result reached the quorum.
pub fn winners(terms: &Terms, view: &JobView) -> Vec<(Address, U256)> {
    let pot = U256::from(terms.reward - reputation_fee(terms.reward));
    if terms.replicas == 1 {
        return view
            .slots
            .first()
            .map(|s| vec![(s.agent, pot)])
            .unwrap_or_default();
    }
    let revealed: Vec<_> = view
        .slots
        .iter()
        .filter(|s| s.phase == SlotPhase::Revealed)
        .collect();
    let votes = |digest| revealed.iter().filter(|s| s.sealed == digest).count();
    let Some(win) = revealed
        .iter()
        .map(|s| s.sealed)
        .find(|d| votes(*d) >= usize::from(terms.quorum))
    else {
        return Vec::new();
    };
    let count = votes(win);
    let share = pot / U256::from(count);
    let dust = pot - share * U256::from(count);
    revealed
        .iter()
        .filter(|s| s.sealed == win)
        .enumerate()
        .map(|(i, s)| (s.agent, if i == 0 { share + dust } else { share }))
        .collect()
}

/// What the settlement of `view` (a terminal job) burned: every held slot's collateral, but the
/// winners' of an accepted job, an expired job's committers' and a no-consensus job's revealers';
/// and an accepted job's [`reputation_fee`].
pub fn burned(terms: &Terms, view: &JobView) -> U256 {
    use crate::protocol::JobStatus;
    let kept = |s: &&crate::view::SlotView| match view.status {
        JobStatus::Accepted if terms.replicas == 1 => true,
        JobStatus::Accepted => {
            let win = winners(terms, view);
            s.phase == SlotPhase::Revealed && win.iter().any(|(a, _)| *a == s.agent)
        }
        JobStatus::Expired => s.phase == SlotPhase::Committed,
        JobStatus::NoConsensus => s.phase == SlotPhase::Revealed,
        _ => true,
    };
    let slashed = view
        .slots
        .iter()
        .filter(|s| s.phase.is_held())
        .filter(|s| !kept(s))
        .count();
    let fee = match view.status {
        JobStatus::Accepted => reputation_fee(terms.reward),
        _ => 0,
    };
    U256::from(terms.collateral) * U256::from(slashed) + U256::from(fee)
}

/// The share of an accepted job's reward burned as its reputation fee, in basis points
/// (`JobAgency.sol`'s constant).
pub const REPUTATION_FEE_BPS: u128 = 100;

/// The wei of reputation fee one reputation point costs (`JobAgency.sol`'s `POINT`, 1 gwei).
pub const POINT: u128 = 1_000_000_000;

/// The wei an accepted job of `reward` burns from it (§6): `REPUTATION_FEE_BPS` / 10,000 of it,
/// rounded down (`JobAgency._reputationFee`).
pub const fn reputation_fee(reward: u128) -> u128 {
    reward * REPUTATION_FEE_BPS / 10_000
}

/// The reputation points each of `winners` winners of an accepted job of `terms` gains: the fee
/// over the winners, in whole `POINT`s, rounded down (§6). A job whose reward is below 100 gwei
/// per winner earns no point.
pub fn points(terms: &Terms, winners: usize) -> u64 {
    let per = reputation_fee(terms.reward) / winners.max(1) as u128 / POINT;
    u64::try_from(per).unwrap_or(u64::MAX)
}

/// What releasing, at time `now`, a slot of `terms` whose deadline is `slot_deadline` burns
/// (§2): `collateral / RELEASE_BURN_DIVISOR` times the share of the delivery window held,
/// counted back from the slot deadline (`JobAgency._releaseFee`).
pub fn release_fee(terms: &Terms, slot_deadline: u64, now: u64) -> U256 {
    let window = u64::from(terms.deliveryWindow).max(1);
    let left = slot_deadline.saturating_sub(now);
    let held = window.saturating_sub(left);
    U256::from(terms.collateral) * U256::from(held)
        / (U256::from(RELEASE_BURN_DIVISOR) * U256::from(window))
}

/// The divisor of the release fee (`JobAgency.sol`'s constant).
pub const RELEASE_BURN_DIVISOR: u128 = 2;

/// What `agent` was credited beyond its collateral by the accepted job `view` shows, or `None`
/// if it was not among the winners.
pub fn earned(terms: &Terms, view: &JobView, agent: Address) -> Option<U256> {
    winners(terms, view)
        .into_iter()
        .find_map(|(a, credit)| (a == agent).then_some(credit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JobStatus;
    use crate::view::SlotView;
    use alloy::primitives::B256;

    fn slot(agent: u8, phase: SlotPhase, digest: u8) -> SlotView {
        SlotView {
            agent: Address::repeat_byte(agent),
            phase,
            deadline: 0,
            sealed: B256::repeat_byte(digest),
        }
    }

    fn terms(replicas: u8, quorum: u8) -> Terms {
        Terms {
            reward: 100,
            collateral: 7,
            replicas,
            quorum,
            ..Terms::default()
        }
    }

    fn view(slots: Vec<SlotView>) -> JobView {
        JobView {
            id: B256::ZERO,
            status: JobStatus::Accepted,
            held: 0,
            committed: 0,
            revealed: 0,
            reveal_end: 0,
            slots,
        }
    }

    #[test]
    fn the_release_fee_is_the_contracts() {
        assert_eq!(
            crate::protocol::source::constant("RELEASE_BURN_DIVISOR"),
            RELEASE_BURN_DIVISOR as u64
        );
        let t = Terms {
            collateral: 100,
            deliveryWindow: 600,
            ..terms(1, 1)
        };
        assert_eq!(
            release_fee(&t, 1_600, 1_000),
            U256::ZERO,
            "at once: nothing"
        );
        assert_eq!(
            release_fee(&t, 1_600, 1_300),
            U256::from(25),
            "half held: a quarter"
        );
        assert_eq!(
            release_fee(&t, 1_600, 1_600),
            U256::from(50),
            "all held: half"
        );
    }

    #[test]
    fn the_reputation_fee_and_points_are_the_contracts() {
        use crate::protocol::source::constant;
        assert_eq!(constant("REPUTATION_FEE_BPS"), REPUTATION_FEE_BPS as u64);
        assert_eq!(constant("POINT"), POINT as u64);
        let t = |reward| Terms {
            reward,
            ..terms(3, 2)
        };
        assert_eq!(reputation_fee(99), 0, "rounded down");
        assert_eq!(reputation_fee(10_000), 100);
        // 1 ether: 0.01 ether burned, 10^7 points, split over the winners, rounded down.
        let ether = 1_000_000_000_000_000_000;
        assert_eq!(points(&t(ether), 1), 10_000_000);
        assert_eq!(points(&t(ether), 3), 3_333_333);
        assert_eq!(
            points(&t(100 * POINT - 1), 1),
            0,
            "under 100 gwei: no point"
        );
        assert_eq!(points(&t(100 * POINT), 1), 1);
    }

    #[test]
    fn earnings_follow_the_contracts_split() {
        use SlotPhase::{Committed, Empty, Revealed};
        // r = 1: the reward less its 1% reputation fee.
        let v = view(vec![slot(1, Revealed, 0)]);
        assert_eq!(
            earned(&terms(1, 1), &v, Address::repeat_byte(1)),
            Some(U256::from(99))
        );
        assert_eq!(burned(&terms(1, 1), &v), U256::from(1), "the fee");
        assert_eq!(earned(&terms(1, 1), &v, Address::repeat_byte(2)), None);
        // r = 3, a liar in slot 1: the reward of 102 less its fee of 1 over two winners (the
        // liar's 7 burned); the first winner by slot order takes the odd wei.
        let v = view(vec![
            slot(1, Revealed, 9),
            slot(2, Revealed, 8),
            slot(3, Revealed, 9),
        ]);
        let t = Terms {
            reward: 102,
            ..terms(3, 2)
        };
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(1)),
            Some(U256::from(51))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(3)),
            Some(U256::from(50))
        );
        assert_eq!(earned(&t, &v, Address::repeat_byte(2)), None, "the liar");
        assert_eq!(
            burned(&t, &v),
            U256::from(7 + 1),
            "the liar's collateral and the fee"
        );
        // A non-revealer (committed) is slashed and burned too; an empty slot is not.
        let v = view(vec![
            slot(0, Empty, 0),
            slot(2, Committed, 5),
            slot(3, Revealed, 9),
            slot(4, Revealed, 9),
            slot(5, Revealed, 9),
        ]);
        let t = terms(5, 3);
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(3)),
            Some(U256::from(33))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(4)),
            Some(U256::from(33))
        );
        assert_eq!(burned(&t, &v), U256::from(7 + 1));
        // No digest reached the quorum: nobody earned.
        let v = view(vec![
            slot(1, Revealed, 1),
            slot(2, Revealed, 2),
            slot(3, Revealed, 3),
        ]);
        assert_eq!(earned(&terms(3, 2), &v, Address::repeat_byte(1)), None);
        assert!(winners(&terms(3, 2), &v).is_empty());
    }
}
