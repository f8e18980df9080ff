use super::{decode, LinkKind, Skip, TcpFlags};
use crate::capfile::testkit::{addr, ethernet, ip_tcp, ACK, ETH_IPV4, PSH};

#[test]
fn link_types_ignore_the_fcs_bits() {
    assert_eq!(LinkKind::from_linktype(1 | 0x0400_0000), LinkKind::Ethernet);
    assert_eq!(LinkKind::from_linktype(228), LinkKind::RawIp);
    assert_eq!(LinkKind::from_linktype(147), LinkKind::Other(147));
}

#[test]
fn payload_is_located_in_the_frame() {
    let ip = ip_tcp(
        addr("1.2.3.4:5"),
        addr("5.6.7.8:9"),
        10,
        20,
        ACK | PSH,
        b"abc",
    );
    let frame = ethernet(&[0x8100], ETH_IPV4, &ip);
    let decoded = decode(LinkKind::Ethernet, &frame).expect("decodes");
    assert_eq!(
        &frame[decoded.payload_at..decoded.payload_at + decoded.payload_len],
        b"abc"
    );
    assert_eq!(
        (decoded.seq, decoded.ack, decoded.window, decoded.wire_len),
        (10, 20, 64240, 3)
    );
    assert_eq!(decoded.flags, TcpFlags::ACK | TcpFlags::PSH);
}

#[test]
fn too_many_vlan_tags_and_short_headers_are_malformed() {
    let ip = ip_tcp(addr("1.2.3.4:5"), addr("5.6.7.8:9"), 1, 2, ACK, b"");
    let deep = ethernet(&[0x8100; 9], ETH_IPV4, &ip);
    assert_eq!(decode(LinkKind::Ethernet, &deep), Err(Skip::Malformed));
    assert_eq!(decode(LinkKind::Sll, &[0; 10]), Err(Skip::Malformed));
    assert_eq!(decode(LinkKind::Sll2, &[0x08, 0]), Err(Skip::Malformed));
    assert_eq!(decode(LinkKind::Null, &[2, 0]), Err(Skip::Malformed));
    assert_eq!(decode(LinkKind::RawIp, &[0x45]), Err(Skip::Malformed));
    assert_eq!(decode(LinkKind::RawIp, &[0x10; 40]), Err(Skip::NotIp));
}

#[test]
fn a_cut_ipv6_payload_reports_its_wire_length() {
    let ip = ip_tcp(addr("[::1]:5"), addr("[::2]:9"), 1, 2, ACK, &[9; 50]);
    let decoded = decode(LinkKind::RawIp, &ip[..70]).expect("decodes");
    assert_eq!((decoded.payload_len, decoded.wire_len), (10, 50));
}
