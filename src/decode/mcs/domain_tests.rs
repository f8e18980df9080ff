//! Tests for the domain PDU decoder, with bytes laid out as MS-RDPBCGR 4.1.5–4.1.8
//! annotate them.

use super::*;

#[test]
fn erect_domain_and_attach_user_request() {
    assert_eq!(
        decode_domain(&[0x04, 0x01, 0x00, 0x01, 0x00]),
        Ok(DomainPdu::ErectDomain {
            sub_height: 0,
            sub_interval: 0
        })
    );
    assert_eq!(
        decode_domain(&[0x04, 0x02, 0x01, 0x00, 0x01, 0x07]),
        Ok(DomainPdu::ErectDomain {
            sub_height: 256,
            sub_interval: 7
        })
    );
    assert_eq!(decode_domain(&[0x28]), Ok(DomainPdu::AttachUserRequest));
}

#[test]
fn attach_user_confirm() {
    assert_eq!(
        decode_domain(&[0x2e, 0x00, 0x00, 0x06]),
        Ok(DomainPdu::AttachUserConfirm {
            result: McsResult::SUCCESSFUL,
            user_id: Some(1007)
        })
    );
    // No initiator: the optional bit is clear and the PDU is two bytes.
    assert_eq!(
        decode_domain(&[0x2c, 0x00]),
        Ok(DomainPdu::AttachUserConfirm {
            result: McsResult::SUCCESSFUL,
            user_id: None
        })
    );
    // rt-too-many-users (13 = 0b1101) packed as aligned PER: 1 in the first byte, 101
    // at the top of the second.
    assert_eq!(
        decode_domain(&[0x2d, 0xa0]),
        Ok(DomainPdu::AttachUserConfirm {
            result: McsResult(13),
            user_id: None
        })
    );
    // The same result written as a whole byte, as xrdp and FreeRDP do.
    assert_eq!(
        decode_domain(&[0x2c, 0x0d]),
        Ok(DomainPdu::AttachUserConfirm {
            result: McsResult(13),
            user_id: None
        })
    );
}

#[test]
fn channel_join_request_and_confirm() {
    assert_eq!(
        decode_domain(&[0x38, 0x00, 0x06, 0x03, 0xef]),
        Ok(DomainPdu::ChannelJoinRequest {
            user_id: 1007,
            channel_id: 1007
        })
    );
    assert_eq!(
        decode_domain(&[0x3e, 0x00, 0x00, 0x06, 0x03, 0xee, 0x03, 0xee]),
        Ok(DomainPdu::ChannelJoinConfirm {
            result: McsResult::SUCCESSFUL,
            user_id: 1007,
            requested: 1006,
            channel_id: Some(1006)
        })
    );
    // A refusal (rt-no-such-channel, 3 = 0b0011) carries no channelId.
    assert_eq!(
        decode_domain(&[0x3c, 0x60, 0x00, 0x06, 0x03, 0xf5]),
        Ok(DomainPdu::ChannelJoinConfirm {
            result: McsResult(3),
            user_id: 1007,
            requested: 1013,
            channel_id: None
        })
    );
}

#[test]
fn send_data_short_and_long_lengths() {
    let mut pdu = vec![0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x03, 1, 2, 3];
    let Ok(DomainPdu::SendData(sd)) = decode_domain(&pdu) else {
        panic!("not Send Data");
    };
    assert_eq!(
        sd,
        SendData {
            indication: false,
            user_id: 1007,
            channel_id: 1003,
            priority: 1,
            segmentation: 3,
            user_data: &[1, 2, 3],
        }
    );
    pdu[0] = 0x68;
    assert!(matches!(
        decode_domain(&pdu),
        Ok(DomainPdu::SendData(SendData {
            indication: true,
            ..
        }))
    ));
    // A two-byte length: 0x81 0x10 = 272.
    let mut long = vec![0x68, 0x00, 0x07, 0x03, 0xeb, 0x70, 0x81, 0x10];
    long.extend(std::iter::repeat_n(0xaa, 272));
    let Ok(DomainPdu::SendData(sd)) = decode_domain(&long) else {
        panic!("not Send Data");
    };
    assert_eq!((sd.user_id, sd.user_data.len()), (1008, 272));
    // Bytes after the octet string are ignored, as peers ignore them.
    long.push(0);
    assert!(decode_domain(&long).is_ok());
}

#[test]
fn disconnect_and_other_choices() {
    assert_eq!(
        decode_domain(&[0x21, 0x80]),
        Ok(DomainPdu::DisconnectProviderUltimatum { reason: Some(3) })
    );
    assert_eq!(
        decode_domain(&[0x21]),
        Ok(DomainPdu::DisconnectProviderUltimatum { reason: None })
    );
    assert_eq!(
        decode_domain(&[0x16, 0x03]),
        Ok(DomainPdu::Other { choice: 5 })
    );
    assert_eq!(decode_domain(&[0xa8]), Ok(DomainPdu::Other { choice: 42 }));
    assert!(decode_domain(&[0xac]).is_err());
    assert!(decode_domain(&[]).is_err());
}

#[test]
fn malformed_pdus_are_errors() {
    let bad: [&[u8]; 8] = [
        &[0x04, 0x00, 0x01, 0x00],                         // zero-length integer
        &[0x04, 0x05, 1, 2, 3, 4, 5, 1, 0],                // five-byte integer
        &[0x38, 0xff, 0xff, 0x03, 0xeb],                   // user id past 65535
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x05, 1, 2], // userData runs past the end
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0xc1, 1],    // fragmented length
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x81],       // length cut short
        &[0x2e, 0x00, 0x00],                               // initiator cut short
        &[0x3e, 0x00, 0x00, 0x06, 0x03, 0xee],             // channelId flagged but missing
    ];
    for p in bad {
        let e = decode_domain(p).expect_err(&format!("{p:02x?}"));
        assert!(e.starts_with("MCS "), "{e}");
    }
    let e = decode_domain(&[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x05, 1, 2]).unwrap_err();
    assert_eq!(
        e,
        "MCS Send Data Request userData claims 5 bytes but only 2 follow"
    );
}

#[test]
fn every_prefix_decodes_or_errs_without_panic() {
    let pdus: [&[u8]; 6] = [
        &[0x04, 0x01, 0x00, 0x01, 0x00],
        &[0x2e, 0x00, 0x00, 0x06],
        &[0x38, 0x00, 0x06, 0x03, 0xef],
        &[0x3e, 0x00, 0x00, 0x06, 0x03, 0xee, 0x03, 0xee],
        &[0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x80, 0x03, 1, 2, 3],
        &[0x21, 0x80],
    ];
    for p in pdus {
        assert!(decode_domain(p).is_ok(), "{p:02x?}");
        for cut in 0..p.len() {
            let _ = decode_domain(&p[..cut]);
        }
    }
    // Every two-byte and three-byte start, with a few tails.
    for a in 0..=255u8 {
        for b in [0u8, 1, 0x20, 0x7f, 0x80, 0x81, 0xc0, 0xff] {
            let _ = decode_domain(&[a, b]);
            let _ = decode_domain(&[a, b, b, a, 0x70, b, a]);
        }
    }
}
