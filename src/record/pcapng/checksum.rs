//! The Internet checksum (RFC 1071): the one's-complement sum of 16-bit big-endian words.
//!
//! It runs over every captured byte, so it adds eight bytes at a time. Two facts make that
//! correct: the sum is taken modulo 0xFFFF, where 2^16 = 1, so a 64-bit word contributes
//! what its four 16-bit words do; and the sum commutes with byte swapping, so words can be
//! read in the machine's own order and the result swapped once at the end.

/// A running, unfolded sum in the machine's byte order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sum(u128);

impl Sum {
    /// Adds `data`, which must start at an even offset of the checksummed whole; only the
    /// last part added may have an odd length (it is padded with a zero byte).
    #[inline]
    pub fn add_bytes(self, data: &[u8]) -> Sum {
        let mut acc = self.0;
        let mut blocks = data.chunks_exact(32);
        for b in &mut blocks {
            // Four independent loads per step; a u128 cannot overflow before 2^64 of them.
            acc += u128::from(word(&b[0..8]))
                + u128::from(word(&b[8..16]))
                + u128::from(word(&b[16..24]))
                + u128::from(word(&b[24..32]));
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for w in &mut words {
            acc += u128::from(word(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut tail = [0u8; 8];
            tail[..rest.len()].copy_from_slice(rest);
            acc += u128::from(u64::from_ne_bytes(tail));
        }
        Sum(acc)
    }

    /// Adds a 16-bit value given in network order.
    #[inline]
    pub fn add_u16(self, v: u16) -> Sum {
        self.add_bytes(&v.to_be_bytes())
    }

    /// Merges two sums of parts that each started at an even offset.
    #[inline]
    pub fn merge(self, other: Sum) -> Sum {
        Sum(self.0 + other.0)
    }

    /// The checksum to write: the complement of the folded sum, in network order.
    #[inline]
    pub fn finish(self) -> u16 {
        let mut s = self.0;
        while s > 0xFFFF {
            s = (s & 0xFFFF) + (s >> 16);
        }
        // Folded in the machine's order; `from_be` swaps it into network order on
        // little-endian machines and is a no-op on big-endian ones.
        !u16::from_be(s as u16)
    }
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b.try_into().expect("8-byte slice"))
}

/// The checksum of one contiguous buffer.
pub fn checksum(data: &[u8]) -> u16 {
    Sum::default().add_bytes(data).finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The textbook definition, one 16-bit word at a time, as an independent reference.
    pub(crate) fn reference(parts: &[&[u8]]) -> u16 {
        let all: Vec<u8> = parts.concat();
        let mut s: u32 = 0;
        for pair in all.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u32::from(b));
            s += hi | lo;
            s = (s & 0xFFFF) + (s >> 16);
        }
        !(s as u16)
    }

    /// A small deterministic generator, so failures reproduce.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words sum to 0xddf2 (with end-around carries).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn matches_reference_on_random_lengths() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for len in (0..300).chain([1023, 1024, 1025, 65_495, 65_535]) {
            let data = rng.bytes(len);
            assert_eq!(checksum(&data), reference(&[&data]), "length {len}");
        }
        for _ in 0..200 {
            let len = (rng.next() % 5000) as usize;
            let data = rng.bytes(len);
            assert_eq!(checksum(&data), reference(&[&data]), "length {len}");
        }
    }

    #[test]
    fn all_ones_and_zeros() {
        assert_eq!(checksum(&[]), 0xFFFF);
        assert_eq!(checksum(&[0xFF; 1001]), reference(&[&[0xFF; 1001]]));
        assert_eq!(checksum(&[0xFF; 64]), 0);
    }

    #[test]
    fn parts_at_even_offsets_merge() {
        let mut rng = Rng(7);
        for _ in 0..100 {
            let n = 2 * (rng.next() % 40) as usize;
            let a = rng.bytes(n);
            let n = (rng.next() % 99) as usize;
            let b = rng.bytes(n);
            let merged = Sum::default()
                .add_bytes(&a)
                .merge(Sum::default().add_bytes(&b));
            assert_eq!(merged.finish(), reference(&[&a, &b]));
            assert_eq!(
                Sum::default().add_bytes(&a).add_bytes(&b).finish(),
                reference(&[&a, &b])
            );
        }
    }
}
