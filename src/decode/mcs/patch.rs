//! Where to patch the MCS Connect Response for the NLA-downgrade lab option.
//!
//! When the proxy asks the server for fewer protocols than the client did, the server
//! echoes the proxy's value in clientRequestedProtocols, and the client, seeing a value
//! that differs from what it sent, drops the connection. The proxy puts the client's
//! own value back; this module only finds the four bytes, it never changes anything.

use super::ber::Reader;
use super::gcc::{self, Blocks};
use super::{connect_result, element, per, step, CONNECT_RESPONSE};
use crate::decode::wire::{be_u16, le_u16};
use crate::decode::x224::{self, Tpdu};

/// TS_UD_SC_CORE up to and including clientRequestedProtocols: header, version, field.
const SC_CORE_WITH_REQUESTED: usize = gcc::SC_CORE_REQUESTED_PROTOCOLS + 4;

/// The byte offset, within `tpkt_frame`, of the 4-byte little-endian
/// clientRequestedProtocols of the server core data in an MCS Connect Response.
///
/// `tpkt_frame` must start with one whole TPKT frame (bytes after it are ignored).
/// None when the frame is not a Connect Response, is cut short, or its server core
/// data is too short to hold the field (RDP 4.0-era servers and xrdp send only the
/// version).
pub fn client_requested_protocols_offset(tpkt_frame: &[u8]) -> Option<usize> {
    let len = usize::from(be_u16(tpkt_frame, 2)?);
    let frame = tpkt_frame.get(..len)?;
    let Ok(Tpdu::Data(mcs)) = x224::decode_tpdu(frame) else {
        return None;
    };
    let outer = Reader::new(mcs).next_element().ok()?;
    if outer.tag != CONNECT_RESPONSE || outer.truncated {
        return None;
    }
    let mut r = Reader::new(outer.value);
    connect_result(&mut r).ok()?;
    if !(step(&mut r, 0x02, "calledConnectId").ok()?
        && step(&mut r, 0x30, "domainParameters").ok()?)
    {
        return None;
    }
    let user_data = element(&mut r, 0x04, "userData").ok()??;
    let blocks = per::user_data(user_data, per::SERVER_KEY)?;
    let base = offset_within(frame, blocks)?;
    let (at, _, core) = Blocks::new(blocks).find(|&(_, kind, _)| kind == gcc::SC_CORE)?;
    // The block must both say it holds the field and actually hold it.
    let declared = usize::from(le_u16(core, 2)?);
    if declared < SC_CORE_WITH_REQUESTED || core.len() < SC_CORE_WITH_REQUESTED {
        return None;
    }
    Some(base + at + gcc::SC_CORE_REQUESTED_PROTOCOLS)
}

/// Where `inner`, a subslice of `outer`, starts within it.
fn offset_within(outer: &[u8], inner: &[u8]) -> Option<usize> {
    // Address arithmetic only: both slices come from the same frame, and the result is
    // checked to lie inside `outer` before anyone indexes with it.
    let at = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (at.checked_add(inner.len())? <= outer.len()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{decode_mcs, McsEvent};
    use super::*;
    use crate::decode::names::Protocols;
    use crate::decode::reassembly::Hint;
    use crate::decode::tpkt;

    /// The Connect Response frame of the standard-security capture (the second s2c
    /// frame, after the Connection Confirm).
    fn captured_response() -> Vec<u8> {
        let s2c = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/xrdp-rdp-security.s2c.bin"
        ));
        let Hint::Frame(cc) = tpkt::tpkt_hint(s2c) else {
            panic!("no CC");
        };
        let Hint::Frame(len) = tpkt::tpkt_hint(&s2c[cc..]) else {
            panic!("no Connect Response");
        };
        s2c[cc..cc + len].to_vec()
    }

    /// The server data blocks inside a Connect Response frame.
    fn blocks_of(frame: &[u8]) -> Vec<u8> {
        let Ok(Tpdu::Data(mcs)) = x224::decode_tpdu(frame) else {
            panic!("not a DT");
        };
        let outer = Reader::new(mcs).next_element().unwrap();
        let mut r = Reader::new(outer.value);
        // result, calledConnectId, domainParameters
        for _ in 0..3 {
            r.next_element().unwrap();
        }
        let ud = r.next_element().unwrap().value;
        per::user_data(ud, per::SERVER_KEY).unwrap().to_vec()
    }

    fn requested(frame: &[u8]) -> Option<Protocols> {
        let Ok(Tpdu::Data(mcs)) = x224::decode_tpdu(frame) else {
            panic!("not a DT");
        };
        match decode_mcs(mcs) {
            Ok(Some(McsEvent::ConnectResponse {
                client_requested_protocols,
                ..
            })) => client_requested_protocols,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn xrdp_capture_has_no_field_to_patch() {
        // xrdp's SC_CORE is the 8-byte form: version only.
        let frame = captured_response();
        assert_eq!(frame.len(), 525);
        assert_eq!(client_requested_protocols_offset(&frame), None);
    }

    #[test]
    fn capture_blocks_with_a_full_core_block() {
        // The captured server blocks, with SC_CORE grown to carry the field.
        let captured = blocks_of(&captured_response());
        let mut blocks = block(gcc::SC_CORE, &[4, 0, 8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0]);
        blocks.extend_from_slice(&captured[8..]);
        let mut frame = in_tpkt(&connect_response_with(0, &blocks));
        let at = client_requested_protocols_offset(&frame).expect("offset");
        assert_eq!(&frame[at..at + 4], &[1, 0, 0, 0]);
        assert_eq!(requested(&frame), Some(Protocols::SSL));
        // Patching there changes what the decoder reads, and nothing else.
        frame[at..at + 4].copy_from_slice(&0x0bu32.to_le_bytes());
        assert_eq!(requested(&frame), Some(Protocols(0x0b)));
        assert_eq!(client_requested_protocols_offset(&frame), Some(at));
    }

    #[test]
    fn hand_made_frames() {
        let mut frame = in_tpkt(&connect_response_pdu(0));
        let at = client_requested_protocols_offset(&frame).expect("offset");
        frame[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(requested(&frame), Some(Protocols(3)));
        // Trailing bytes (the next frame) are ignored.
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        assert_eq!(client_requested_protocols_offset(&two), Some(at));
        // SC_CORE exactly 12 bytes long still holds the field; SC_CORE placed after
        // another block is found there.
        let mut blocks = block(gcc::SC_NET, &[0xeb, 0x03, 0, 0]);
        blocks.extend(block(gcc::SC_CORE, &[4, 0, 8, 0, 2, 0, 0, 0]));
        let frame = in_tpkt(&connect_response_with(0, &blocks));
        let at = client_requested_protocols_offset(&frame).expect("offset");
        assert_eq!(&frame[at..at + 4], &[2, 0, 0, 0]);
        // An SC_CORE that claims 12 bytes but is the last 10 of the data holds nothing.
        let mut short = block(gcc::SC_CORE, &[4, 0, 8, 0, 2, 0]);
        short[2] = 12;
        let frame = in_tpkt(&connect_response_with(0, &short));
        assert_eq!(client_requested_protocols_offset(&frame), None);
    }

    #[test]
    fn other_frames_give_none() {
        let initial = in_tpkt(&connect_initial_pdu(&client_blocks()));
        assert_eq!(client_requested_protocols_offset(&initial), None);
        let cc = [
            0x03, 0x00, 0x00, 0x0b, 0x06, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00,
        ];
        assert_eq!(client_requested_protocols_offset(&cc), None);
        assert_eq!(client_requested_protocols_offset(&[]), None);
        assert_eq!(
            client_requested_protocols_offset(&[0x80, 0x05, 1, 2, 3]),
            None
        );
    }

    #[test]
    fn every_prefix_and_corruption_is_safe() {
        let frame = in_tpkt(&connect_response_pdu(0));
        for cut in 0..frame.len() {
            assert_eq!(
                client_requested_protocols_offset(&frame[..cut]),
                None,
                "{cut}"
            );
        }
        let mut x: u32 = 0x0bad_cafe;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut c = frame.clone();
            let i = x as usize % c.len();
            c[i] = (x >> 24) as u8;
            if let Some(at) = client_requested_protocols_offset(&c) {
                // Whatever was corrupted, the answer stays inside the frame.
                assert!(at + 4 <= c.len());
            }
        }
    }
}
