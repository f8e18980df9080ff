//! The words of a verdict: every cause has a hint, and what rdptap relays to is named
//! as what it is (the host, or the gateway).

use super::*;
use crate::session::{TcpEvent, What};
use crate::vocab::ConnectError;

fn input(tl: &Timeline) -> Inputs<'_> {
    Inputs {
        plain: Default::default(),
        capture: false,
        timeline: tl,
        tls_stats: Default::default(),
        target: "host:3389",
        linger: Duration::from_secs(5),
        duration: Duration::ZERO,
    }
}

#[test]
fn every_cause_gives_a_verdict_with_a_hint() {
    // A rule that gives no advice of its own still leaves the verdict with the cause's.
    let mut tl = Timeline::default();
    tl.push(Duration::ZERO, None, What::Phase(Phase::TcpConnect));
    let seen = Seen::scan(&tl);
    for &c in Cause::ALL {
        for far in [FarEnd::Host, FarEnd::Gateway] {
            let f = Finding::new(c, "x".into(), "");
            let v = assemble(&input(&tl), &seen, None, f, far);
            assert_eq!(v.cause, c);
            assert_eq!(v.hint, c.fallback_hint(), "{}", c.id());
        }
    }
    // A rule's own hint wins.
    let f = Finding::new(Cause::GwAuthRejected, "x".into(), "own advice");
    let v = assemble(&input(&tl), &seen, None, f, FarEnd::Gateway);
    assert_eq!(v.hint, "own advice");
}

#[test]
fn an_unreachable_gateway_is_named_as_the_gateway() {
    let mut tl = Timeline::default();
    tl.push(
        Duration::ZERO,
        None,
        What::Tcp(TcpEvent::UpstreamFailed {
            error: ConnectError::Refused {
                addr: "127.0.0.1:9".into(),
            },
        }),
    );
    let seen = Seen::scan(&tl);
    let f = negotiation::upstream(&seen, FarEnd::Gateway).unwrap();
    assert!(
        f.summary.contains("could not reach the gateway"),
        "{}",
        f.summary
    );
    assert!(
        !f.summary.contains("host") && !f.hint.contains("host"),
        "{} / {}",
        f.summary,
        f.hint
    );
    assert!(f.mstsc.is_none());
    let f = negotiation::upstream(&seen, FarEnd::Host).unwrap();
    assert!(
        f.summary.contains("could not reach the host"),
        "{}",
        f.summary
    );
}
