//! The decrypted captures in tests/data (made by tests/capture_plain.rs with xfreerdp,
//! xrdp and FreeRDP's shadow server) replayed through the interception path.

use super::tests::{kinds, units};
use super::*;
use crate::decode::pdu::RdpEvent;

fn plain(name: &str) -> (Vec<u8>, Vec<u8>) {
    super::tests::fixture(&format!("{name}.plain"))
}

/// Replays a plaintext capture after `tls_intercepted`, one unit per side in turn.
fn replay_plain(name: &str, step: usize) -> (RdpDecoder, Vec<Decoded>) {
    let (c, s) = plain(name);
    let (cu, su) = (units(&c), units(&s));
    let mut d = RdpDecoder::new();
    d.tls_intercepted();
    let mut out = Vec::new();
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
            for chunk in u.map(|u| u.chunks(step)).into_iter().flatten() {
                d.feed_plain(dir, chunk, &mut out);
            }
        }
    }
    (d, out)
}

fn rdp_events(ev: &[Decoded]) -> Vec<&RdpEvent> {
    ev.iter()
        .filter_map(|d| match &d.event {
            DecodeEvent::Rdp(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Checks that `want` appears in order within each direction (a replay alternates the
/// sides' units, so only the order within one direction is the captured one).
fn assert_sequence(k: &[String], want: &[&str]) {
    for dir in ["c2s:", "s2c:"] {
        let mine: Vec<&String> = k.iter().filter(|x| x.starts_with(dir)).collect();
        let mut at = 0;
        for w in want.iter().filter(|w| w.starts_with(dir)) {
            match mine[at..].iter().position(|x| x == w) {
                Some(p) => at += p + 1,
                None => panic!("{w} missing (in order) from {k:?}"),
            }
        }
    }
}

#[test]
fn xrdp_session_to_active_decodes_every_phase() {
    let (d, ev) = replay_plain("xrdp-tls-plain-active", usize::MAX);
    let k = kinds(&ev);
    assert!(
        !k.iter()
            .any(|x| x.ends_with("decode_error") || x.ends_with("malformed_pdu")),
        "{k:?}"
    );
    assert_sequence(
        &k,
        &[
            "c2s:connect_initial",
            "s2c:connect_response",
            "c2s:erect_domain",
            "c2s:attach_user_request",
            "s2c:attach_user_confirm",
            "c2s:channel_join_request",
            "s2c:channel_join_confirm",
            "c2s:channels_joined",
            "c2s:client_info",
            "s2c:license",
            "s2c:demand_active",
            "c2s:confirm_active",
            "c2s:synchronize",
            "c2s:control",
            "c2s:font_list",
            "s2c:font_map",
        ],
    );
    let r = rdp_events(&ev);
    let info = r.iter().find_map(|e| match e {
        RdpEvent::ClientInfo(i) => Some(i),
        _ => None,
    });
    let info = info.expect("client info");
    assert_eq!(info.user, "labuser");
    assert!(!info.password_present || info.password_len == 0);
    let lic: Vec<_> = r
        .iter()
        .filter_map(|e| match e {
            RdpEvent::License(l) => Some(l),
            _ => None,
        })
        .collect();
    assert!(lic.iter().any(|l| l.succeeded()), "{lic:?}");
    let da = r.iter().find_map(|e| match e {
        RdpEvent::DemandActive(a) => Some(a),
        _ => None,
    });
    let da = da.expect("demand active");
    assert_eq!(
        (da.desktop_width, da.desktop_height),
        (Some(1024), Some(768))
    );
    // After activation the screen updates are counted, not reported one by one.
    let st = d.plain_stats();
    assert!(st.dir(Dir::S2C).io.pdus > 20, "{st:?}");
}

#[test]
fn shadow_server_skips_the_license_request() {
    let (_, ev) = replay_plain("shadow-tls-plain-stop", usize::MAX);
    let k = kinds(&ev);
    assert_sequence(
        &k,
        &[
            "c2s:client_info",
            "s2c:license",
            "s2c:demand_active",
            "s2c:font_map",
        ],
    );
    let r = rdp_events(&ev);
    let lic: Vec<_> = r
        .iter()
        .filter_map(|e| match e {
            RdpEvent::License(l) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(lic.len(), 1, "{lic:?}");
    assert!(lic[0].succeeded());
}

#[test]
fn xrdp_ending_the_session_sends_a_disconnect_ultimatum() {
    let (_, ev) = replay_plain("xrdp-tls-plain-serverterm", usize::MAX);
    let k = kinds(&ev);
    assert!(
        k.iter().any(|x| x == "s2c:disconnect_provider_ultimatum"),
        "{k:?}"
    );
}

#[test]
fn plaintext_replay_is_chunking_invariant() {
    for name in ["xrdp-tls-plain-active", "shadow-tls-plain-authfail"] {
        let (_, whole) = replay_plain(name, usize::MAX);
        for step in [1, 7, 1000] {
            let (_, ev) = replay_plain(name, step);
            assert_eq!(ev, whole, "{name} step {step}");
        }
    }
}

#[test]
fn standard_security_without_encryption_is_readable_in_the_clear() {
    let (_, ev) = super::tests::replay_with("xrdp-rdp-clear", usize::MAX);
    let k = kinds(&ev);
    assert_sequence(
        &k,
        &[
            "c2s:connection_request",
            "s2c:connection_confirm",
            "c2s:connect_initial",
            "s2c:connect_response",
            "c2s:client_info",
            "s2c:demand_active",
            "c2s:confirm_active",
            "s2c:font_map",
        ],
    );
    assert!(
        !k.iter().any(|x| x.ends_with("encrypted_from_here")),
        "{k:?}"
    );
}
