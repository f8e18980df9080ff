use super::*;
use proptest::prelude::*;

#[test]
fn reads_stay_in_bounds() {
    let b = [1, 2, 3, 4];
    assert_eq!(le_u16(&b, 2), Some(0x0403));
    assert_eq!(be_u16(&b, 0), Some(0x0102));
    assert_eq!(le_u32(&b, 0), Some(0x04030201));
    assert_eq!(le_u32(&b, 1), None);
    assert_eq!(le_u16(&b, usize::MAX), None);
}

#[test]
fn integers_in_both_byte_orders() {
    let b = [1, 2, 3, 4, 5, 6, 7, 8];
    let mut r = Reader::new(&b);
    assert_eq!(r.u16_le(), Ok(0x0201));
    assert_eq!(r.u16_be(), Ok(0x0304));
    assert_eq!(r.u32_be(), Ok(0x05060708));
    let mut r = Reader::new(&b);
    assert_eq!(r.u8(), Ok(1));
    assert_eq!(r.u24_be(), Ok(0x020304));
    assert_eq!(r.u32_le(), Ok(0x08070605));
    assert!(r.is_empty());
    assert_eq!(Reader::new(&b).u64_le(), Ok(0x0807060504030201));
    assert_eq!(Reader::new(&b).array::<3>(), Ok([1, 2, 3]));
}

#[test]
fn a_short_read_says_where_and_consumes_nothing() {
    let mut r = Reader::new(&[1, 2, 3, 4, 5]);
    assert_eq!(r.u16_le(), Ok(0x0201));
    assert_eq!(
        r.u32_le(),
        Err(Short {
            at: 2,
            need: 4,
            left: 3,
            len: 5
        })
    );
    assert_eq!(r.offset(), 2);
    assert_eq!(r.unread(), &[3, 4, 5]);
    assert_eq!(r.take(usize::MAX).map_err(|s| s.need), Err(usize::MAX));
    assert_eq!(r.u8(), Ok(3));
    assert_eq!(r.rest(), &[4, 5]);
    assert_eq!((r.remaining(), r.offset()), (0, 5));
    assert!(r.u8().is_err());
    assert_eq!(r.skip(0), Ok(()));
}

#[test]
fn length_prefixed_slices_and_sub_readers() {
    let mut r = Reader::new(&[2, 0xaa, 0xbb, 0, 1, 0xcc, 1, 0, 0xdd, 0, 0, 1, 0xee, 9]);
    assert_eq!(r.prefixed(Prefix::U8), Ok(&[0xaa, 0xbb][..]));
    assert_eq!(r.prefixed(Prefix::U16Be), Ok(&[0xcc][..]));
    assert_eq!(r.prefixed(Prefix::U16Le), Ok(&[0xdd][..]));
    assert_eq!(r.prefixed(Prefix::U24Be), Ok(&[0xee][..]));
    let mut sub = r.sub(1).expect("one byte left");
    assert_eq!((sub.u8(), sub.offset(), r.remaining()), (Ok(9), 1, 0));
    // The bytes the prefix promises are not there: the Short is about them.
    let mut r = Reader::new(&[5, 0, 0, 0, 1]);
    assert_eq!(
        r.prefixed(Prefix::U32Le),
        Err(Short {
            at: 4,
            need: 5,
            left: 1,
            len: 5
        })
    );
    assert_eq!(r.offset(), 0);
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        r.prefixed(Prefix::U32Le).map_err(|s| s.need),
        Err(0xffff_ffff)
    );
}

proptest! {
    #[test]
    fn any_reads_on_any_bytes_stay_in_bounds(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        ops in prop::collection::vec((0u8..12, 0usize..80), 0..40),
    ) {
        let mut r = Reader::new(&bytes);
        for (op, n) in ops {
            let before = r.offset();
            let ok = match op {
                0 => r.u8().is_ok(),
                1 => r.u16_le().is_ok(),
                2 => r.u16_be().is_ok(),
                3 => r.u24_be().is_ok(),
                4 => r.u32_le().is_ok(),
                5 => r.u32_be().is_ok(),
                6 => r.u64_le().is_ok(),
                7 => r.take(n).is_ok(),
                8 => r.prefixed(Prefix::U8).is_ok(),
                9 => r.prefixed(Prefix::U16Be).is_ok(),
                10 => r.sub(n).is_ok(),
                _ => {
                    r.rest();
                    true
                }
            };
            prop_assert!(r.offset() <= bytes.len());
            prop_assert_eq!(r.offset() + r.remaining(), bytes.len());
            if !ok {
                prop_assert_eq!(r.offset(), before, "a failed read consumes nothing");
            }
        }
    }
}
