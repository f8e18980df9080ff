//! The direct tracker driven by hand: captured streams and made-up times in, the same
//! events and verdict out every time, with no clock and no sockets.

use super::*;
use crate::decode::test_support::{fixture, units};
use crate::session::event::Body;
use crate::session::{Cause, Phase, What};
use crate::vocab::EndKind;

/// 2026-11-22, the day after the fixtures were captured: their certificates were valid.
const CAPTURED: u64 = 1_795_348_800;

fn info(wall: u64) -> ConnInfo {
    ConnInfo {
        id: 7,
        target_name: "rdptap-fixture-host".into(),
        target_desc: "rdptap-fixture-host:3389".into(),
        linger: Duration::from_secs(5),
        redact_users: false,
        roots: Arc::new(rustls::RootCertStore::empty()),
        wall_start: std::time::UNIX_EPOCH + Duration::from_secs(wall),
        source: crate::session::event::Source::Proxy,
        start_offset: Duration::ZERO,
    }
}

fn end(kind: EndKind, ms: u64, bytes: usize) -> StreamEnd {
    StreamEnd {
        kind,
        after: Duration::from_millis(ms),
        bytes: bytes as u64,
    }
}

/// Replays a fixture one unit from each side in turn, one millisecond apart, then both
/// sides close with FIN; returns every event and the verdict.
fn replay(name: &str, wall: u64) -> (Vec<Event>, Finished) {
    let (c, s) = fixture(name);
    let mut t = DirectTracker::new(info(wall));
    let mut ms = 0;
    let at = |ms: &mut u64| {
        *ms += 1;
        Duration::from_millis(*ms)
    };
    t.fact(
        at(&mut ms),
        Fact::Accepted {
            client: "127.0.0.1:50000".into(),
            listen: "127.0.0.1:13389".into(),
        },
    );
    t.fact(
        at(&mut ms),
        Fact::Connected {
            addr: "127.0.0.1:3389".into(),
            connect_ms: 0.2,
        },
    );
    let (cu, su) = (units(&c), units(&s));
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
            if let Some(u) = u {
                t.bytes(at(&mut ms), dir, u);
            }
        }
    }
    let c_end = at(&mut ms);
    t.fact(c_end, Fact::Ended(Dir::C2S, end(EndKind::Fin, ms, c.len())));
    let s_end = at(&mut ms);
    t.fact(s_end, Fact::Ended(Dir::S2C, end(EndKind::Fin, ms, s.len())));
    let done = t.finish(at(&mut ms));
    let mut events = Vec::new();
    while let Some(e) = t.poll_event() {
        events.push(e);
    }
    (events, done)
}

#[test]
fn a_replayed_session_gives_its_verdict_and_numbered_events() {
    let (events, done) = replay("xrdp-tls12-ok", CAPTURED);
    let v = &done.verdict;
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(v.phase, Phase::TlsSession);
    assert!(done.session.is_none());
    // Timeline entries are numbered 0, 1, 2… in order, and the verdict comes last.
    let seqs: Vec<usize> = events.iter().filter_map(|e| e.seq).collect();
    let n = events.len() - 1;
    assert_eq!(seqs[..n], (0..n).collect::<Vec<_>>()[..]);
    let last = events.last().unwrap();
    assert!(matches!(&last.body, Body::Verdict(r) if r.verdict == *v));
    assert_eq!(last.seq, Some(n));
    // The tracker's own times, not a clock, set the duration.
    assert_eq!(v.duration_ms, last.at.as_secs_f64() * 1e3);
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn the_same_input_gives_the_same_output() {
    let a = replay("shadow-nla-wrongpass", CAPTURED);
    let b = replay("shadow-nla-wrongpass", CAPTURED);
    assert_eq!(a, b);
}

#[test]
fn a_negotiation_failure_is_named() {
    let (_, done) = replay("shadow-nla-negfailure", CAPTURED);
    assert_eq!(done.verdict.cause, Cause::NegotiationFailure);
    assert_eq!(done.verdict.phase, Phase::X224);
}

#[test]
fn certificates_are_judged_as_of_the_connection_s_own_date() {
    let expired = |events: &[Event]| {
        events.iter().any(|e| {
            matches!(&e.body, Body::Entry(What::CertAssessed(p))
                if p.iter().any(|f| f.cause_id() == "cert_expired"))
        })
    };
    // On the day of the capture the certificate was valid; years later it has expired.
    let (then, _) = replay("xrdp-tls13-ok", CAPTURED);
    let (later, _) = replay("xrdp-tls13-ok", CAPTURED + 5 * 365 * 86_400);
    // TLS 1.3 hides the certificate, so neither judges it from the wire...
    assert!(!expired(&then) && !expired(&later));
    let (then, _) = replay("xrdp-tls12-ok", CAPTURED);
    let (later, done) = replay("xrdp-tls12-ok", CAPTURED + 5 * 365 * 86_400);
    // ...but TLS 1.2 shows it.
    assert!(!expired(&then));
    assert!(expired(&later));
    assert!(
        done.verdict
            .warnings
            .iter()
            .any(|w| w.cause == Cause::CertExpired),
        "{:#?}",
        done.verdict
    );
}

#[test]
fn a_connect_failure_needs_no_bytes() {
    let mut t = DirectTracker::new(info(CAPTURED));
    t.fact(
        Duration::ZERO,
        Fact::Accepted {
            client: "127.0.0.1:1".into(),
            listen: "127.0.0.1:2".into(),
        },
    );
    t.fact(
        Duration::from_millis(3),
        Fact::ConnectFailed(ConnectError::Refused {
            addr: "127.0.0.1:3389".into(),
        }),
    );
    let done = t.finish(Duration::from_millis(4));
    assert_eq!(done.verdict.cause, Cause::UpstreamRefused);
}

/// A host that answers the ClientHello with alert after alert, forever.
#[test]
fn endless_alerts_keep_the_timeline_bounded_and_are_counted() {
    const CR: [u8; 19] = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 1, 0, 0, 0];
    const CC: [u8; 19] = [
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
    ];
    let mut t = DirectTracker::new(info(CAPTURED));
    let ms = Duration::from_millis;
    t.bytes(ms(1), Dir::C2S, &CR);
    t.bytes(ms(2), Dir::S2C, &CC);
    // A record that starts a ClientHello: the TLS decoder takes over.
    t.bytes(ms(3), Dir::C2S, &[0x16, 3, 1, 0, 4, 1, 0, 0, 0]);
    let alert = [0x15, 3, 3, 0, 2, 1, 0];
    let n = 20_000;
    let mut most = 0;
    for i in 0..n {
        t.bytes(ms(4 + i), Dir::S2C, &alert);
        most = most.max(t.kept());
        while t.poll_event().is_some() {}
    }
    assert!(most < 100, "{most} entries kept");
    t.fact(
        ms(n + 5),
        Fact::Ended(Dir::S2C, end(EndKind::Fin, n + 5, 7 * n as usize)),
    );
    t.fact(
        ms(n + 6),
        Fact::Ended(Dir::C2S, end(EndKind::Fin, n + 6, 28)),
    );
    let done = t.finish(ms(n + 7));
    let events: Vec<Event> = std::iter::from_fn(|| t.poll_event()).collect();
    let counted = events
        .iter()
        .find_map(|e| match &e.body {
            Body::EventsCounted { counts } => Some(counts.clone()),
            _ => None,
        })
        .expect("an events_counted line");
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(
        (counted[0].name.kind.as_str(), counted[0].name.dir),
        ("alert", Some(Dir::S2C))
    );
    assert_eq!(counted[0].written, crate::decode::limits::PER_KIND);
    assert_eq!(counted[0].written + counted[0].only_counted, n);
    // It comes before the verdict, which is still the last line.
    assert!(matches!(
        events.last().map(|e| &e.body),
        Some(Body::Verdict(_))
    ));
    assert_eq!(
        done.verdict.cause,
        Cause::ServerClosed,
        "{:#?}",
        done.verdict
    );
}
