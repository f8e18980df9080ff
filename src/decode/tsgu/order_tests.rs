use super::*;
use crate::decode::tsgu::packet::build;
use crate::decode::tsgu::{Caps, RedirFlags};
use crate::vocab::Dir::{C2S, S2C};

fn p(bytes: Vec<u8>) -> Packet {
    match Packet::decode(&bytes) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

const DENIED: Status = Status(0x8007_59DA);

fn happy(ext: ExtendedAuth) -> Vec<(Dir, Packet)> {
    let mut v = vec![
        (C2S, p(build::handshake_request(ext))),
        (S2C, p(build::handshake_response(Status::OK, ext))),
    ];
    if ext.contains(ExtendedAuth::SSPI_NTLM) {
        v.push((
            C2S,
            p(build::extended_auth_msg(Status::OK, b"NTLMSSP\0\x01\0\0\0")),
        ));
        v.push((
            S2C,
            p(build::extended_auth_msg(Status::OK, b"NTLMSSP\0\x02\0\0\0")),
        ));
        v.push((
            C2S,
            p(build::extended_auth_msg(Status::OK, b"NTLMSSP\0\x03\0\0\0")),
        ));
        v.push((S2C, p(build::extended_auth_msg(Status::OK, b""))));
    }
    v.extend([
        (C2S, p(build::tunnel_create(Caps(0xd), None))),
        (
            S2C,
            p(build::tunnel_response(Status::OK, 1, Caps(0xd), Some("hi"))),
        ),
        (C2S, p(build::tunnel_auth("WS01"))),
        (
            S2C,
            p(build::tunnel_auth_response(
                Status::OK,
                RedirFlags::ENABLE_ALL,
                0,
            )),
        ),
        (C2S, p(build::channel_create("host", 3389))),
        (S2C, p(build::channel_response(Status::OK, 1))),
        (C2S, p(build::data(b"x224"))),
        (S2C, p(build::data(b"cc"))),
        (S2C, p(build::keepalive())),
        (C2S, p(build::keepalive())),
        (S2C, p(build::service_message("maintenance"))),
        (C2S, p(build::close_channel(Status(0x4CA)))),
        (S2C, p(build::data(b"late"))),
        (S2C, p(build::close_channel_response(Status::OK))),
    ]);
    v
}

fn run(seq: &[(Dir, Packet)]) -> (Vec<Violation>, OrderChecker) {
    let mut c = OrderChecker::new();
    let v = seq.iter().filter_map(|(d, pk)| c.check(*d, pk)).collect();
    (v, c)
}

#[test]
fn full_sequences_pass() {
    for ext in [
        ExtendedAuth::NONE,
        ExtendedAuth::PAA,
        ExtendedAuth::SSPI_NTLM,
    ] {
        let (v, c) = run(&happy(ext));
        assert!(v.is_empty(), "{ext}: {v:?}");
        assert_eq!(c.phase(), GwStage::Closed);
        assert_eq!(c.refusal(), None);
    }
}

#[test]
fn stages_advance_in_order() {
    let seq = happy(ExtendedAuth::SSPI_NTLM);
    let mut c = OrderChecker::new();
    let mut stages = vec![c.phase()];
    for (d, pk) in &seq {
        assert_eq!(c.check(*d, pk), None);
        if stages.last() != Some(&c.phase()) {
            stages.push(c.phase());
        }
    }
    use GwStage::*;
    assert_eq!(
        stages,
        [
            Handshake,
            ExtAuth,
            TunnelCreate,
            TunnelAuth,
            ChannelCreate,
            Data,
            Closed
        ]
    );
}

#[test]
fn data_before_channel_response_is_a_violation() {
    let mut seq = happy(ExtendedAuth::NONE);
    seq.truncate(7);
    seq.push((C2S, p(build::data(b"early"))));
    let (v, c) = run(&seq);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].packet, PacketType::Data);
    assert_eq!(v[0].stage, GwStage::ChannelCreate);
    assert!(
        v[0].reason
            .contains("before the gateway opened the channel"),
        "{}",
        v[0]
    );
    assert_eq!(c.awaiting(), Some(PacketType::ChannelCreate));
}

#[test]
fn request_before_previous_response_is_a_violation() {
    let seq = vec![
        (C2S, p(build::handshake_request(ExtendedAuth::NONE))),
        (
            S2C,
            p(build::handshake_response(Status::OK, ExtendedAuth::NONE)),
        ),
        (C2S, p(build::tunnel_create(Caps(0), None))),
        (C2S, p(build::tunnel_auth("WS01"))),
    ];
    let (v, _) = run(&seq);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].reason
            .contains("before the gateway answered its TUNNEL_CREATE"),
        "{}",
        v[0]
    );
}

#[test]
fn skipped_steps_and_stray_responses_are_violations() {
    let (v, _) = run(&[
        (C2S, p(build::handshake_request(ExtendedAuth::NONE))),
        (
            S2C,
            p(build::handshake_response(Status::OK, ExtendedAuth::NONE)),
        ),
        (C2S, p(build::channel_create("host", 3389))),
    ]);
    assert_eq!(v.len(), 1);
    assert!(
        v[0].reason.contains("next request should be TUNNEL_CREATE"),
        "{}",
        v[0]
    );

    let (v, _) = run(&[(S2C, p(build::tunnel_response(Status::OK, 1, Caps(0), None)))]);
    assert!(v[0].reason.contains("without a TUNNEL_CREATE"), "{}", v[0]);

    let (v, _) = run(&[(S2C, p(build::keepalive()))]);
    assert!(
        v[0].reason.contains("before the handshake completed"),
        "{}",
        v[0]
    );

    let (v, _) = run(&[(S2C, p(build::handshake_request(ExtendedAuth::NONE)))]);
    assert!(v[0].reason.contains("only the client may send"), "{}", v[0]);

    let (v, _) = run(&[
        (C2S, p(build::handshake_request(ExtendedAuth::NONE))),
        (
            S2C,
            p(build::handshake_response(Status::OK, ExtendedAuth::NONE)),
        ),
        (C2S, p(build::extended_auth_msg(Status::OK, b"x"))),
    ]);
    assert!(v[0].reason.contains("did not choose SSPI_NTLM"), "{}", v[0]);

    let (v, _) = run(&[(C2S, p(vec![0x20, 0, 0, 0, 8, 0, 0, 0]))]);
    assert!(v[0].reason.contains("unknown packet type 0x20"), "{}", v[0]);
}

#[test]
fn refusal_ends_the_progression_without_a_violation() {
    let mut seq = happy(ExtendedAuth::NONE);
    seq.truncate(7);
    seq.push((S2C, p(build::channel_response(DENIED, 0))));
    seq.push((S2C, p(build::close_channel(Status(0x59DA)))));
    let (v, c) = run(&seq);
    assert!(v.is_empty(), "{v:?}");
    assert_eq!(c.phase(), GwStage::Closed);
    let r = c.refusal();
    assert_eq!(
        r,
        Some(Refusal {
            packet: PacketType::ChannelResponse,
            status: DENIED,
            stage: GwStage::ChannelCreate
        })
    );
    // Anything but close/keepalive after that is out of order.
    let mut c2 = c.clone();
    let v = c2.check(C2S, &p(build::data(b"x")));
    assert!(v.is_some());
    let v = c2.check(C2S, &p(build::channel_create("host", 3389)));
    assert!(v.is_some_and(|v| v
        .reason
        .contains("after the gateway refused CHANNEL_RESPONSE")));
}

#[test]
fn quarantine_refusal_in_tunnel_auth_is_tolerated() {
    let mut seq = happy(ExtendedAuth::NONE);
    seq[5] = (
        S2C,
        p(build::tunnel_auth_response(
            Status(0x8007_59ED),
            RedirFlags(0),
            0,
        )),
    );
    let (v, c) = run(&seq);
    assert!(v.is_empty(), "{v:?}");
    assert_eq!(c.refusal(), None);
}

#[test]
fn reauth_runs_alongside_the_channel() {
    let mut seq = happy(ExtendedAuth::NONE);
    seq.truncate(9);
    seq.extend([
        (S2C, p(build::reauth_message(7))),
        (C2S, p(build::tunnel_create(Caps(0xd), None))),
        (
            S2C,
            p(build::tunnel_response(Status::OK, 2, Caps(0xd), None)),
        ),
        (C2S, p(build::tunnel_auth("WS01"))),
        (
            S2C,
            p(build::tunnel_auth_response(Status::OK, RedirFlags(0), 0)),
        ),
        (C2S, p(build::data(b"more"))),
    ]);
    let (v, c) = run(&seq);
    assert!(v.is_empty(), "{v:?}");
    assert_eq!(c.phase(), GwStage::Data);
}

#[test]
fn stage_names() {
    assert_eq!(
        serde_json::to_value(GwStage::ExtAuth).unwrap_or_default(),
        "gw_ext_auth"
    );
    assert_eq!(GwStage::TunnelAuth.to_string(), "tunnel authorization");
}
