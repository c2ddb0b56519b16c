//! How an accepted job pays (docs/protocol.md §3): winners share the reward and the collateral
//! slashed from every other held slot; the division's remainder goes to the first winner in slot
//! order; each winner also gets its own collateral back (not counted here).

use alloy::primitives::{Address, U256};

use crate::bindings::IJobAgency::Terms;
use crate::protocol::SlotPhase;
use crate::view::JobView;

/// Each winner of the job `view` shows as accepted, in slot order, with what it was credited
/// beyond its collateral. Empty when no result reached the quorum.
pub fn winners(terms: &Terms, view: &JobView) -> Vec<(Address, U256)> {
    if terms.replicas == 1 {
        return view
            .slots
            .first()
            .map(|s| vec![(s.agent, U256::from(terms.reward))])
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
    let held = view.slots.iter().filter(|s| s.phase.is_held()).count();
    let count = votes(win);
    let pot = U256::from(terms.reward) + U256::from(terms.collateral) * U256::from(held - count);
    let share = pot / U256::from(count);
    let dust = pot - share * U256::from(count);
    revealed
        .iter()
        .filter(|s| s.sealed == win)
        .enumerate()
        .map(|(i, s)| (s.agent, if i == 0 { share + dust } else { share }))
        .collect()
}

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
    fn earnings_follow_the_contracts_split() {
        use SlotPhase::{Committed, Empty, Revealed};
        // r = 1: the reward.
        let v = view(vec![slot(1, Revealed, 0)]);
        assert_eq!(
            earned(&terms(1, 1), &v, Address::repeat_byte(1)),
            Some(U256::from(100))
        );
        assert_eq!(earned(&terms(1, 1), &v, Address::repeat_byte(2)), None);
        // r = 3, a liar in slot 1: pot = 100 + 7 = 107 over two winners; the first winner by
        // slot order takes the odd wei.
        let v = view(vec![
            slot(1, Revealed, 9),
            slot(2, Revealed, 8),
            slot(3, Revealed, 9),
        ]);
        let t = terms(3, 2);
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(1)),
            Some(U256::from(54))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(3)),
            Some(U256::from(53))
        );
        assert_eq!(earned(&t, &v, Address::repeat_byte(2)), None, "the liar");
        // A non-revealer (committed) is slashed into the pot too; an empty slot is not.
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
            Some(U256::from(37))
        );
        assert_eq!(
            earned(&t, &v, Address::repeat_byte(4)),
            Some(U256::from(35))
        );
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
