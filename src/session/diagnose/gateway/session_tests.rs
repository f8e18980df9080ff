//! The session verdict of the HTTP transport's two channels, whichever channel ends
//! first and whichever departs last. The lab gateway closes an IN channel the client
//! has closed, sometimes before reading the client's last bytes, so that channel's
//! back direction (gateway to client, which carries none of the tunnel) ends in a
//! reset; whether that comes before or after the OUT channel's end is a race.

use super::framing_tests::{play_open, Framing, Pair, IN, OUT};
use super::{diagnose, GwInputs};
use crate::decode::gateway::Inner;
use crate::decode::tls::TlsEvent;
use crate::decode::DecodeEvent;
use crate::session::diagnose::Inputs;
use crate::session::gateway::{merge, Deposit, GwSession};
use crate::session::{Cause, TcpEvent, Verdict, What};
use crate::vocab::{Dir, EndKind, StreamEnd};
use std::time::Duration;

fn end(p: &mut Pair, leg: usize, dir: Dir, kind: EndKind) {
    p.now += Duration::from_millis(1);
    let end = StreamEnd {
        kind,
        after: p.now,
        bytes: 100,
    };
    let what = What::Tcp(TcpEvent::StreamEnded { end });
    p.legs[leg].tl.push(p.now, Some(dir), what);
}

/// A healthy session's two channels as each deposits its record: the tunnel open, the
/// inner TLS handshake done, the client closing IN then OUT, the gateway resetting IN's
/// back direction before or after it closes OUT.
fn healthy(reset_first: bool) -> [Deposit; 2] {
    let (mut p, stopped) = play_open(Framing::Bare, Framing::ChunkPerPacket, None, usize::MAX);
    assert!(!stopped);
    p.now += Duration::from_millis(1);
    // The shared tunnel decoder reports it on whichever channel finished the handshake.
    let done = DecodeEvent::Inner(Inner(Box::new(DecodeEvent::Tls(TlsEvent::HandshakeDone))));
    p.legs[OUT]
        .tl
        .push(p.now, Some(Dir::S2C), What::Decoded(done));
    end(&mut p, IN, Dir::C2S, EndKind::Fin);
    if reset_first {
        end(&mut p, IN, Dir::S2C, EndKind::Rst);
        end(&mut p, OUT, Dir::S2C, EndKind::Fin);
    } else {
        end(&mut p, OUT, Dir::S2C, EndKind::Fin);
        end(&mut p, IN, Dir::S2C, EndKind::Rst);
    }
    end(&mut p, OUT, Dir::C2S, EndKind::Fin);
    let [out, inn] = p.legs;
    [
        Deposit {
            conn: 1,
            started: Duration::ZERO,
            timeline: out.tl,
            carries: Some(Dir::S2C),
        },
        Deposit {
            conn: 2,
            started: Duration::ZERO,
            timeline: inn.tl,
            carries: Some(Dir::C2S),
        },
    ]
}

/// The session verdict as the last member to depart writes it.
fn session_verdict(members: [Deposit; 2], out_last: bool) -> Verdict {
    let mut s = GwSession::new();
    s.join();
    s.join();
    let [out, inn] = members;
    let (first, last) = if out_last { (inn, out) } else { (out, inn) };
    assert!(s.depart(first).is_none(), "the first to leave waits");
    let done = s.depart(last).expect("the last to leave reports");
    let (timeline, _) = merge(&done);
    diagnose(
        &Inputs {
            timeline: &timeline,
            tls_stats: Default::default(),
            target: "gw",
            linger: Duration::from_secs(1),
            duration: Duration::from_secs(1),
            plain: Default::default(),
            capture: false,
        },
        &GwInputs {
            session: true,
            ..Default::default()
        },
    )
}

#[test]
fn a_healthy_session_is_ok_whichever_channel_ends_or_departs_first() {
    for reset_first in [true, false] {
        for out_last in [true, false] {
            let v = session_verdict(healthy(reset_first), out_last);
            let case = format!("reset first: {reset_first}, OUT departs last: {out_last}");
            assert_eq!(v.cause, Cause::Ok, "{case}: {v:#?}");
            assert!(
                v.summary.contains("the client closed in an orderly way"),
                "{case}: {}",
                v.summary
            );
        }
    }
}
