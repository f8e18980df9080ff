//! The reader on damaged files and on arbitrary bytes.

use super::*;
use crate::capfile::read::tests::{drain, read, ts, v4};
use crate::capfile::testkit::*;
use crate::capfile::CaptureErrorKind;
use std::io::Cursor;

#[test]
fn a_truncated_file_yields_what_is_whole_then_an_error_with_the_offset() {
    let (c, s) = v4();
    let frame = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, b"whole"));
    let mut bytes = PcapFile::new(1)
        .packet(ts(1, 0), &frame)
        .packet(ts(2, 0), &frame)
        .bytes();
    let second = 24 + 16 + frame.len();
    bytes.truncate(bytes.len() - 3);
    let (records, _, error) = read(&bytes);
    assert_eq!(records.len(), 1);
    let error = error.expect("an error");
    assert_eq!(error.offset, second as u64);
    assert_eq!(
        error.to_string(),
        format!(
            "test.cap: byte offset {second}: the block claims {} bytes, more than the file holds ({} bytes remain)",
            16 + frame.len(),
            16 + frame.len() - 3
        )
    );
    // Cut inside the record header.
    bytes.truncate(second + 5);
    let (_, _, error) = read(&bytes);
    assert_eq!(
        error.expect("an error").to_string(),
        format!("test.cap: byte offset {second}: the file ends inside a pcap packet record header (5 of its 16 bytes are there)")
    );
}

#[test]
fn a_corrupt_block_length_is_reported_at_its_offset() {
    let keys = b"CLIENT_RANDOM 1 2\n";
    let mut bytes = PcapngFile::new()
        .section(false)
        .secrets(0x544c_534b, keys)
        .secrets(0x544c_534b, keys)
        .bytes();
    let second = 28 + 12 + 8 + keys.len().next_multiple_of(4);
    bytes[second + 4..second + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let (records, _, error) = read(&bytes);
    assert_eq!(records.len(), 1);
    let error = error.expect("an error");
    assert_eq!(
        error.to_string(),
        format!(
            "test.cap: byte offset {second}: the block claims 4294967295 bytes, more than the file holds ({} bytes remain)",
            bytes.len() - second
        )
    );
    // Without the file's length, the reader's own bound speaks.
    let (_, _, error) = drain(CaptureReader::new("pipe", Cursor::new(&bytes)));
    assert!(matches!(
        error.expect("an error").kind,
        CaptureErrorKind::BlockTooLarge {
            claimed: 4_294_967_295,
            ..
        }
    ));
    // A trailing length that disagrees, a block shorter than its header, an unaligned one.
    for (len, trailing, expect) in [
        (None, Some(8u32), "differs from the length at its start"),
        (
            Some(8u32),
            None,
            "fewer than the 12 its header and trailer take",
        ),
        (Some(38), None, "not a multiple of 4"),
    ] {
        let mut bytes = PcapngFile::new()
            .section(false)
            .secrets(0x544c_534b, keys)
            .bytes();
        if let Some(len) = len {
            bytes[28 + 4..28 + 8].copy_from_slice(&len.to_le_bytes());
        }
        if let Some(trailing) = trailing {
            let end = bytes.len();
            bytes[end - 4..].copy_from_slice(&trailing.to_le_bytes());
        }
        let (records, _, error) = read(&bytes);
        assert!(records.is_empty());
        let error = error.expect("an error");
        assert_eq!(error.offset, 28);
        assert!(error.to_string().contains(expect), "{error}");
    }
}

#[test]
fn a_pcap_record_claiming_too_much() {
    let bytes = PcapFile::new(1)
        .raw_record(u32::MAX, u32::MAX, &[0; 10])
        .bytes();
    let (_, _, error) = read(&bytes);
    assert_eq!(
        error.expect("an error").to_string(),
        "test.cap: byte offset 24: the block claims 4294967311 bytes, more than the file holds (26 bytes remain)"
    );
}

#[test]
fn not_a_capture_says_so_plainly() {
    let (_, _, error) = read(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n");
    assert_eq!(
        error.expect("an error").to_string(),
        "test.cap: byte offset 0: not a pcap or pcapng file: it starts with the text \"GET / HTTP/1.1\""
    );
    let (_, _, error) = read(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    assert!(error
        .expect("an error")
        .to_string()
        .ends_with("it starts with the bytes 7f 45 4c 46 02 01 01 00"));
    let (_, _, error) = read(b"");
    assert_eq!(
        error.expect("an error").to_string(),
        "test.cap: byte offset 0: the file is empty"
    );
    let (_, _, error) = read(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    assert!(matches!(
        error.expect("an error").kind,
        CaptureErrorKind::HeaderCut {
            have: 6,
            need: 24,
            ..
        }
    ));
}

#[test]
fn opening_a_missing_file_names_it() {
    let Err(error) = open("/nonexistent/capture.pcap") else {
        panic!("opened")
    };
    assert!(error
        .to_string()
        .starts_with("/nonexistent/capture.pcap: byte offset 0: reading failed:"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = read(&bytes);
            let _ = drain(CaptureReader::new("t", Trickle { data: &bytes, step: 7 }));
        }

        #[test]
        fn damaged_valid_files_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
            ng in any::<bool>(),
        ) {
            let (c, s) = v4();
            let ip = ip_tcp(c, s, 1, 2, ACK, b"payload bytes");
            let mut bytes = if ng {
                PcapngFile::new().section(false).interface(1, 0, Some(9), Some(5))
                    .packet(0, 5, &ethernet(&[0x8100], ETH_IPV4, &ip), 18 + ip.len())
                    .simple_packet(&ip, 40).secrets(1, b"k").bytes()
            } else {
                PcapFile::new(0).packet(ts(1, 0), &null(2, false, &ip)).packet(ts(1, 0), &ip).bytes()
            };
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            let _ = read(&bytes);
        }
    }
}
