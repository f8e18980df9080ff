//! Builders for hand-made MCS PDUs laid out as MS-RDPBCGR 4.1.3–4.1.8 show them,
//! shared by the MCS, patch and plaintext decoder tests.

use super::{gcc, per};

/// Appends a BER definite length.
pub(crate) fn ber_len(v: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        v.push(len as u8);
    } else if len < 0x100 {
        v.extend_from_slice(&[0x81, len as u8]);
    } else {
        v.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// A BER element with a one- or two-byte tag.
pub(crate) fn ber(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut v = if tag > 0xff {
        tag.to_be_bytes().to_vec()
    } else {
        vec![tag as u8]
    };
    ber_len(&mut v, value.len());
    v.extend_from_slice(value);
    v
}

/// Appends a PER length determinant.
pub(crate) fn per_len(v: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        v.push(len as u8);
    } else {
        v.extend_from_slice(&[0x80 | (len >> 8) as u8, len as u8]);
    }
}

/// DomainParameters with these eight integers.
pub(crate) fn domain_params(p: [u16; 8]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in p {
        if n < 0x80 {
            v.extend(ber(0x02, &[n as u8]));
        } else {
            v.extend(ber(0x02, &[0x00, (n >> 8) as u8, n as u8]));
        }
    }
    ber(0x30, &v)
}

/// A GCC ConnectData with the fixed ConnectGCCPDU prefix, key and data blocks.
pub(crate) fn gcc(prefix: &[u8], key: &[u8; 4], blocks: &[u8]) -> Vec<u8> {
    let mut pdu = prefix.to_vec();
    pdu.extend_from_slice(key);
    per_len(&mut pdu, blocks.len());
    pdu.extend_from_slice(blocks);
    let mut v = vec![0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01];
    per_len(&mut v, pdu.len());
    v.extend_from_slice(&pdu);
    v
}

/// A data block with its header.
pub(crate) fn block(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut v = kind.to_le_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// A full 216-byte TS_UD_CS_CORE, as a Windows 11 client sends it.
pub(crate) fn cs_core() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0008_000Cu32.to_le_bytes()); // version
    b.extend_from_slice(&1920u16.to_le_bytes());
    b.extend_from_slice(&1080u16.to_le_bytes());
    b.extend_from_slice(&0xCA01u16.to_le_bytes()); // colorDepth
    b.extend_from_slice(&0xAA03u16.to_le_bytes()); // SASSequence
    b.extend_from_slice(&0x0409u32.to_le_bytes()); // keyboardLayout
    b.extend_from_slice(&22621u32.to_le_bytes()); // clientBuild
    let mut name: Vec<u8> = "LAB-PC".encode_utf16().flat_map(u16::to_le_bytes).collect();
    name.resize(32, 0);
    b.extend_from_slice(&name);
    b.extend_from_slice(&4u32.to_le_bytes()); // keyboardType
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&12u32.to_le_bytes());
    b.extend_from_slice(&[0; 64]); // imeFileName
    b.extend_from_slice(&0xCA01u16.to_le_bytes()); // postBeta2ColorDepth
    b.extend_from_slice(&1u16.to_le_bytes()); // clientProductId
    b.extend_from_slice(&0u32.to_le_bytes()); // serialNumber
    b.extend_from_slice(&0x18u16.to_le_bytes()); // highColorDepth
    b.extend_from_slice(&0x0Fu16.to_le_bytes()); // supportedColorDepths
    b.extend_from_slice(&0x0121u16.to_le_bytes()); // earlyCapabilityFlags
    b.extend_from_slice(&[0; 64]); // clientDigProductId
    b.extend_from_slice(&[0, 0]); // connectionType, pad1octet
    b.extend_from_slice(&0u32.to_le_bytes()); // serverSelectedProtocol: PROTOCOL_RDP
    let v = block(gcc::CS_CORE, &b);
    assert_eq!(v.len(), 216);
    v
}

/// The client data blocks: core, security, network (rdpdr, rdpsnd).
pub(crate) fn client_blocks() -> Vec<u8> {
    client_blocks_with(&["rdpdr", "rdpsnd"])
}

/// The client data blocks: core, security, and a network block naming `channels`.
pub(crate) fn client_blocks_with(channels: &[&str]) -> Vec<u8> {
    let mut v = cs_core();
    v.extend(block(0xC002, &[0x1b, 0, 0, 0, 0, 0, 0, 0]));
    let mut net = (channels.len() as u32).to_le_bytes().to_vec();
    for n in channels {
        let mut name = [0u8; 8];
        name[..n.len().min(7)].copy_from_slice(&n.as_bytes()[..n.len().min(7)]);
        net.extend_from_slice(&name);
        net.extend_from_slice(&0x8080_0000u32.to_le_bytes());
    }
    v.extend(block(gcc::CS_NET, &net));
    v
}

/// An MCS Connect-Initial carrying these client data blocks.
pub(crate) fn connect_initial_pdu(blocks: &[u8]) -> Vec<u8> {
    let mut body = ber(0x04, &[0x01]);
    body.extend(ber(0x04, &[0x01]));
    body.extend(ber(0x01, &[0xff]));
    body.extend(domain_params([34, 2, 0, 1, 0, 1, 0xffff, 2]));
    body.extend(domain_params([1, 1, 1, 1, 0, 1, 0x420, 2]));
    body.extend(domain_params([0xffff, 0xfc17, 0xffff, 1, 0, 1, 0xffff, 2]));
    let req = [0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00];
    body.extend(ber(0x04, &gcc(&req, per::CLIENT_KEY, blocks)));
    ber(0x7f65, &body)
}

/// The server data blocks: SC_CORE for RDP 10.7, SC_SECURITY (128-bit, client
/// compatible) and SC_NET (I/O 1003, channels 1004 and 1005).
pub(crate) fn server_blocks() -> Vec<u8> {
    let mut core = 0x0008_000Cu32.to_le_bytes().to_vec();
    core.extend_from_slice(&0u32.to_le_bytes()); // clientRequestedProtocols
    core.extend_from_slice(&0u32.to_le_bytes()); // earlyCapabilityFlags
    let mut blocks = block(gcc::SC_CORE, &core);
    blocks.extend(block(gcc::SC_SECURITY, &[2, 0, 0, 0, 2, 0, 0, 0]));
    blocks.extend(block(
        gcc::SC_NET,
        &[0xeb, 0x03, 2, 0, 0xec, 0x03, 0xed, 0x03],
    ));
    blocks
}

/// An MCS Connect-Response with this result and [`server_blocks`].
pub(crate) fn connect_response_pdu(result: u8) -> Vec<u8> {
    connect_response_with(result, &server_blocks())
}

/// An MCS Connect-Response with this result and these server data blocks.
pub(crate) fn connect_response_with(result: u8, blocks: &[u8]) -> Vec<u8> {
    let rsp = [0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00];
    let mut body = ber(0x0a, &[result]);
    body.extend(ber(0x02, &[0x00]));
    body.extend(domain_params([34, 3, 0, 1, 0, 1, 0xfff8, 2]));
    body.extend(ber(0x04, &gcc(&rsp, per::SERVER_KEY, blocks)));
    ber(0x7f66, &body)
}

/// Wraps MCS bytes in X.224 DT and TPKT, as they travel.
pub(crate) fn in_tpkt(mcs: &[u8]) -> Vec<u8> {
    let mut v = vec![0x03, 0x00];
    v.extend_from_slice(&u16::try_from(mcs.len() + 7).unwrap().to_be_bytes());
    v.extend_from_slice(&[0x02, 0xf0, 0x80]);
    v.extend_from_slice(mcs);
    v
}
