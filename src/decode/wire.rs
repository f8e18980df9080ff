//! Bounds-checked reads of fixed-width integers from untrusted bytes.

/// The big-endian u16 at `at`, if present.
pub fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

/// The little-endian u16 at `at`, if present.
pub fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// The little-endian u32 at `at`, if present.
pub fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stay_in_bounds() {
        let b = [1, 2, 3, 4];
        assert_eq!(le_u16(&b, 2), Some(0x0403));
        assert_eq!(be_u16(&b, 0), Some(0x0102));
        assert_eq!(le_u32(&b, 0), Some(0x04030201));
        assert_eq!(le_u32(&b, 1), None);
        assert_eq!(le_u16(&b, usize::MAX), None);
    }
}
