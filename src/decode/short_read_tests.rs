//! The words each binary decoder uses for a read past the end. Users' event files and
//! tests compare them, so they are pinned here letter for letter.

use crate::decode::mcs::domain::decode_domain;
use crate::decode::pdu::reader::Reader;
use crate::decode::tsgu::packet::Packet;

#[test]
fn pdu_reads_past_the_end() {
    let mut r = Reader::new(&[1, 2, 3]);
    assert_eq!(r.u16().map(|_| ()), Ok(()));
    let e = r.u32().expect_err("short");
    assert_eq!(e.reason, "truncated at byte 2: 4 more bytes needed, 1 left");
    assert_eq!(e.what, "");
    let e = Reader::new(&[]).take(usize::MAX).expect_err("short");
    assert_eq!(
        e.reason,
        format!(
            "truncated at byte 0: {} more bytes needed, 0 left",
            usize::MAX
        )
    );
}

#[test]
fn tsgu_fields_past_the_end() {
    // HANDSHAKE_REQUEST: verMajor, verMinor, clientVersion, extendedAuth.
    let e = Packet::decode(&[1, 0, 0, 0, 9, 0, 0, 0, 1]).expect_err("short");
    assert_eq!(
        e.reason,
        "HANDSHAKE_REQUEST of 9 bytes is too short for its verMinor (1 bytes at offset 9)"
    );
    // SERVICE_MESSAGE: a count of 4 bytes with 2 there.
    let e = Packet::decode(&[0x0b, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0x41, 0]).expect_err("short");
    assert_eq!(
        e.reason,
        "SERVICE_MESSAGE of 12 bytes is too short for its message (4 bytes at offset 10)"
    );
}

#[test]
fn mcs_domain_pdus_past_the_end() {
    // Channel Join Request (choice 14) with one byte of its initiator.
    assert_eq!(
        decode_domain(&[14 << 2, 0]),
        Err("MCS Channel Join Request ends inside its initiator (2 bytes)".to_string())
    );
    assert_eq!(
        decode_domain(&[14 << 2, 0, 1, 0x03]),
        Err("MCS Channel Join Request ends inside its channel id (4 bytes)".to_string())
    );
    // Send Data Request whose userData claims more than follows.
    assert_eq!(
        decode_domain(&[25 << 2, 0, 1, 0x03, 0xeb, 0x70, 5, 1, 2]),
        Err("MCS Send Data Request userData claims 5 bytes but only 2 follow".to_string())
    );
    // Erect Domain Request with a 2-byte integer cut after one byte.
    assert_eq!(
        decode_domain(&[1 << 2, 2, 0]),
        Err("MCS Erect Domain Request ends inside its integer (3 bytes)".to_string())
    );
}
