//! Tests for the GCC user data block readers.

use super::*;

fn block(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut v = kind.to_le_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_le_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn net_block_channel_names() {
    let mut body = 3u32.to_le_bytes().to_vec();
    for name in [&b"rdpdr\0\0\0"[..], b"rdpsnd\0\0", b"cliprdr\0"] {
        body.extend_from_slice(name);
        body.extend_from_slice(&0x8080_0000u32.to_le_bytes());
    }
    let d = client_data(&block(CS_NET, &body));
    assert_eq!(d.channel_names(), vec!["rdpdr", "rdpsnd", "cliprdr"]);
    assert!(d.channels.iter().all(|c| c.options == 0x8080_0000));
}

#[test]
fn channel_count_is_capped_and_bounded_by_data() {
    let mut body = u32::MAX.to_le_bytes().to_vec();
    for _ in 0..40 {
        body.extend_from_slice(b"chan\0\0\0\0\0\0\0\0");
    }
    assert_eq!(
        client_data(&block(CS_NET, &body)).channels.len(),
        MAX_CHANNELS
    );
    let mut body = 5u32.to_le_bytes().to_vec();
    body.extend_from_slice(b"only\0\0\0\0\0\0\0\0one\0");
    assert_eq!(
        client_data(&block(CS_NET, &body)).channel_names(),
        vec!["only"]
    );
    // Names with no NUL and hostile bytes stay bounded and escaped.
    let mut body = 1u32.to_le_bytes().to_vec();
    body.extend_from_slice(b"\x1b[31mXYZ\0\0\0\0");
    assert_eq!(
        client_data(&block(CS_NET, &body)).channel_names(),
        vec!["\\u{1b}[31mXYZ"]
    );
}

#[test]
fn short_core_block_gives_the_fields_it_holds() {
    let body = [0x04, 0x00, 0x08, 0x00, 0x00, 0x05, 0x00];
    let d = client_data(&block(CS_CORE, &body));
    assert_eq!(d.version, Some(0x0008_0004));
    assert_eq!(d.width, Some(0x500));
    assert_eq!(d.height, None);
    assert_eq!(d.name, None);
}

#[test]
fn bad_block_lengths_stop_iteration() {
    let mut data = block(0xC002, &[0; 8]);
    data.extend_from_slice(&[0x03, 0xc0, 0x02, 0x00, 0xff, 0xff]);
    data.extend_from_slice(&block(CS_NET, &[1, 0, 0, 0]));
    assert_eq!(Blocks::new(&data).count(), 1);
    // A block claiming more than is there is handed out truncated.
    let data = [0x01, 0x0c, 0xff, 0x00, 0x05, 0x00, 0x08, 0x00];
    assert_eq!(server_data(&data).version, Some(0x0008_0005));
    assert_eq!(server_data(&data).client_requested_protocols, None);
}

#[test]
fn garbage_never_panics() {
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..2000 {
        let mut v = Vec::new();
        for _ in 0..(x % 300) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v.push(x as u8);
        }
        if let Some(b) = v.get_mut(1) {
            *b = 0xc0;
        }
        let _ = client_data(&v);
        let _ = server_data(&v);
    }
}

#[test]
fn client_security_cluster_monitor_and_message_blocks() {
    let mut data = block(CS_SECURITY, &[0x1b, 0, 0, 0, 0, 0, 0, 0]);
    data.extend(block(CS_CLUSTER, &[0x0d, 0, 0, 0, 0, 0, 0, 0]));
    let mut monitors = 0u32.to_le_bytes().to_vec();
    monitors.extend_from_slice(&2u32.to_le_bytes());
    monitors.extend_from_slice(&[0; 40]);
    data.extend(block(CS_MONITOR, &monitors));
    data.extend(block(CS_MCS_MSGCHANNEL, &[0, 0, 0, 0]));
    let d = client_data(&data);
    assert_eq!(d.encryption_methods, Some(0x1b));
    assert_eq!(d.cluster_flags, Some(0x0d));
    assert_eq!(d.monitor_count, Some(2));
    assert!(d.message_channel);
    assert!(!client_data(&block(CS_SECURITY, &[0; 8])).message_channel);
    // Blocks too short for their fields give None, not zeros.
    let d = client_data(&block(CS_MONITOR, &[0, 0, 0, 0, 2, 0]));
    assert_eq!(d.monitor_count, None);
}

#[test]
fn cluster_and_option_names() {
    assert_eq!(
        cluster_flag_names(0x0d),
        vec!["REDIRECTION_SUPPORTED", "REDIRECTION_VERSION4"]
    );
    assert_eq!(
        cluster_flag_names(0x42),
        vec!["REDIRECTED_SESSIONID_FIELD_VALID", "REDIRECTED_SMARTCARD"]
    );
    assert_eq!(
        cluster_flag_names(0x81),
        vec!["REDIRECTION_SUPPORTED", "0x80", "REDIRECTION_VERSION1"]
    );
    assert_eq!(
        channel_option_names(0x80a0_0000),
        vec!["INITIALIZED", "COMPRESS_RDP", "SHOW_PROTOCOL"]
    );
    assert_eq!(channel_option_names(0x1), vec!["0x1"]);
}

#[test]
fn server_security_network_and_message_blocks() {
    let mut core = 0x0008_000Cu32.to_le_bytes().to_vec();
    core.extend_from_slice(&3u32.to_le_bytes());
    core.extend_from_slice(&8u32.to_le_bytes());
    let mut data = block(SC_CORE, &core);
    data.extend(block(SC_SECURITY, &[0x02, 0, 0, 0, 0x03, 0, 0, 0]));
    data.extend(block(
        SC_NET,
        &[0xeb, 0x03, 3, 0, 0xec, 0x03, 0xed, 0x03, 0xee, 0x03, 0, 0],
    ));
    data.extend(block(SC_MCS_MSGCHANNEL, &[0xf0, 0x03]));
    let d = server_data(&data);
    assert_eq!(d.version, Some(0x0008_000C));
    assert_eq!(d.client_requested_protocols, Some(3));
    assert_eq!(d.early_caps, Some(8));
    assert_eq!(
        (d.encryption_method, d.encryption_level),
        (Some(2), Some(3))
    );
    assert_eq!(d.io_channel, Some(1003));
    assert_eq!(d.channel_ids, vec![1004, 1005, 1006]);
    assert_eq!(d.message_channel, Some(1008));
}

#[test]
fn server_channel_count_is_capped_and_bounded_by_data() {
    let mut body = vec![0xeb, 0x03, 0xff, 0xff];
    for i in 0..40u16 {
        body.extend_from_slice(&(1004 + i).to_le_bytes());
    }
    assert_eq!(
        server_data(&block(SC_NET, &body)).channel_ids.len(),
        MAX_CHANNELS
    );
    let body = [0xeb, 0x03, 4, 0, 0xec, 0x03, 0xed];
    assert_eq!(server_data(&block(SC_NET, &body)).channel_ids, vec![1004]);
}

#[test]
fn block_offsets() {
    let mut data = block(SC_CORE, &[4, 0, 8, 0]);
    data.extend(block(SC_NET, &[0xeb, 0x03, 0, 0]));
    let at: Vec<(usize, u16)> = Blocks::new(&data).map(|(a, k, _)| (a, k)).collect();
    assert_eq!(at, vec![(0, SC_CORE), (8, SC_NET)]);
}
