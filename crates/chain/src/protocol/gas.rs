//! Gas limits for calls whose cost depends on what other agents do first. An estimate is made
//! against the state before the call lands; these floors cover the dearer path.

/// Gas a reveal gets at least, plus [`FINALIZE_GAS_PER_SLOT`] per replica: a reveal estimated
/// while others have yet to reveal may land last and then settle the job in the same
/// transaction, paying and counting every slot (contracts/snapshots/call.json: 43.8k for a
/// plain reveal at r = 3, 85.7k for the one that finalizes). Unused gas is not charged.
pub const REVEAL_GAS: u64 = 60_000;
/// See [`REVEAL_GAS`].
pub const FINALIZE_GAS_PER_SLOT: u64 = 30_000;

/// The gas limit a reveal of a job with `replicas` replicas asks for at least.
pub fn reveal_floor(replicas: u8) -> u64 {
    REVEAL_GAS + FINALIZE_GAS_PER_SLOT * u64::from(replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor covers the finalizing reveal the gas snapshot measured, with room to spare.
    #[test]
    fn the_reveal_floor_covers_the_snapshots_finalizing_reveal() {
        let text = include_str!("../../../../contracts/snapshots/call.json");
        let snapshot: std::collections::BTreeMap<String, String> =
            serde_json::from_str(text).expect("call.json maps names to gas");
        let gas = |name: &str| -> u64 {
            snapshot
                .get(name)
                .unwrap_or_else(|| panic!("call.json has {name:?}"))
                .parse()
                .expect("a number")
        };
        let (plain, last) = (gas("reveal r3 #1"), gas("reveal r3 #2"));
        assert!(
            last > plain,
            "the finalizing reveal costs more: {last} vs {plain}"
        );
        assert!(
            reveal_floor(3) >= last + last / 5,
            "floor {} for r = 3 does not cover {last} with a fifth to spare",
            reveal_floor(3)
        );
    }
}
