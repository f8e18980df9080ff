//! The RDP connection inside the tunnel, diagnosed with the direct-mode rules on a
//! timeline of its own, then reported with the gateway around it.

use super::super::{Finding, Inputs};
use super::{transport_name, GwInputs, GwSeen};
use crate::decode::ws::WsEvent;
use crate::decode::DecodeEvent;
use crate::session::{Cause, ClosedBy, Phase, TcpEvent, Timeline, What};
use crate::vocab::Dir;
use crate::vocab::{EndKind, StreamEnd};

/// The finding once the tunnel carried data: the inner connection's, with context.
pub(super) fn inner_finding(input: &Inputs<'_>, gw: &GwInputs, g: &GwSeen) -> Option<Finding> {
    let data_at = g.reached_data?;
    let tl = inner_timeline(input.timeline, data_at.seq);
    let v = super::super::diagnose(&Inputs {
        timeline: &tl,
        tls_stats: gw.inner_stats,
        target: input.target,
        linger: input.linger,
        duration: input.duration,
        plain: Default::default(),
        capture: input.capture,
    });
    let resource = g
        .resource
        .as_ref()
        .map(|(r, p)| format!(" to {r}:{p}"))
        .unwrap_or_default();
    let mut ctx = format!(
        "through the gateway ({}, tunnel{resource} open",
        transport_name(g.transport())
    );
    if let Some(m) = g.idle_timeout.filter(|m| *m > 0) {
        ctx.push_str(&format!("; idle timeout {m} min"));
    }
    if let Some(r) = &g.redirection {
        ctx.push_str(&format!("; redirection {r}"));
    }
    if g.keepalives > 0 {
        ctx.push_str(&format!("; {} keepalives", g.keepalives));
    }
    if let Some((_, dir, status)) = &g.close_channel {
        ctx.push_str(&format!(
            "; the {} closed the channel with {status}",
            if *dir == Dir::S2C {
                "gateway"
            } else {
                "client"
            }
        ));
    }
    if !g.service_messages.is_empty() {
        ctx.push_str(&format!(
            "; gateway message: \"{}\"",
            g.service_messages.join("\" \"")
        ));
    }
    ctx.push(')');
    let summary = v
        .summary
        .replace(". The rest was encrypted: --intercept shows more", "");
    // A channel closed with a failure status says more than "the host closed".
    if let Some((at, dir, status)) = &g.close_channel {
        let graceful = status.is_ok() || status.0 == 0x4CA;
        if !graceful
            && matches!(
                v.cause,
                Cause::Ok | Cause::ServerClosed | Cause::ClientClosed
            )
        {
            let who = if *dir == Dir::S2C {
                "gateway"
            } else {
                "client"
            };
            return Some(
                Finding::new(
                    Cause::GwClosedChannel,
                    format!(
                        "the {who} closed the tunnel's channel with {status}: {}; inner RDP: {summary}",
                        status.kind()
                    ),
                    status.hint().unwrap_or("check the gateway's TerminalServices-Gateway event log at this time (session time limits and idle timeouts end channels)"),
                )
                .evidence([*at]),
            );
        }
    }
    if let Some(f) = cut_record(gw, g, &v.cause, v.closed_by, &ctx) {
        return Some(f);
    }
    let f = Finding {
        cause: v.cause,
        summary: format!("{summary} — {ctx}"),
        hint: v.hint,
        inferred: v.inferred,
        evidence: Vec::new(),
        closed: Some((v.closed_by, v.close_kind)),
        mstsc: v.mstsc,
    };
    Some(f)
}

/// The tunnel ended in the middle of an inner TLS record: whatever the gateway said,
/// the RDP connection inside did not end in an orderly way. The client's TLS stack
/// got half a record and then the end of the stream, which it reports as a broken
/// connection, so this is the cause, not a warning.
fn cut_record(
    gw: &GwInputs,
    g: &GwSeen,
    cause: &Cause,
    closed_by: ClosedBy,
    ctx: &str,
) -> Option<Finding> {
    if !matches!(cause, Cause::Ok | Cause::ServerClosed | Cause::ClientClosed) {
        return None;
    }
    // Only the side that ended first: a record the host was sending when the client
    // left is cut by the client's close, which is no failure of the host.
    let dir = match closed_by {
        ClosedBy::Server => Dir::S2C,
        ClosedBy::Client => Dir::C2S,
        _ => return None,
    };
    let (got, whole) = gw.inner_cut[dir.idx()]?;
    let (who, cause) = if dir == Dir::S2C {
        ("host", Cause::ServerClosed)
    } else {
        ("client", Cause::ClientClosed)
    };
    let told = match &g.close_channel {
        Some((_, d, status)) if status.is_ok() => format!(
            "; the {} still closed the channel with {status}",
            if *d == Dir::S2C { "gateway" } else { "client" }
        ),
        _ => String::new(),
    };
    let mut f = Finding::new(
        cause,
        format!(
            "the {who}'s TLS stream inside the tunnel stopped in the middle of a record, after {got} of its {whole} bytes{told} (inferred: the {who}'s connection broke, e.g. a reset, and the gateway ended the tunnel as if it had closed); the {} saw a broken connection, not an orderly end — {ctx}",
            if dir == Dir::S2C { "client" } else { "host" }
        ),
        if dir == Dir::S2C {
            "check the host's event log (TerminalServices, System) at this time for a crash, a restart or a dropped connection, and the path between the gateway and the host; the gateway's log shows the channel's end"
        } else {
            "check the client machine and its network at this time: its stream to the host broke in the middle of a TLS record"
        },
    )
    .inferred();
    f.closed = Some((closed_by, crate::session::CloseKind::Error));
    Some(f)
}

/// The inner events with the phases they reached, and ends where the tunnel ended
/// each way (a CLOSE_CHANNEL, a WebSocket close, or the TCP end of the channel).
fn inner_timeline(t: &Timeline, from: usize) -> Timeline {
    let mut out = Timeline::default();
    let mut ended = [false, false];
    for e in t.entries().filter(|e| e.seq >= from) {
        let end = |kind: EndKind| {
            What::Tcp(TcpEvent::StreamEnded {
                end: StreamEnd {
                    kind,
                    after: e.at,
                    bytes: 0,
                },
            })
        };
        match &e.what {
            What::Decoded(DecodeEvent::Inner(i)) => {
                out.push(e.at, e.dir, What::Decoded((*i.0).clone()));
            }
            What::Phase(p) if *p >= Phase::X224 => {
                out.push(e.at, None, What::Phase(*p));
            }
            What::Decoded(DecodeEvent::Gw(crate::decode::gateway::GwEvent::TsguPacket {
                packet: crate::decode::tsgu::packet::Packet::CloseChannel { .. },
                ..
            }))
            | What::Decoded(DecodeEvent::Ws(WsEvent::WsClose { .. })) => {
                if let Some(d) = e.dir {
                    if !ended[d.idx()] {
                        ended[d.idx()] = true;
                        out.push(e.at, Some(d), end(EndKind::Fin));
                    }
                }
            }
            // The tunnel's stream that way ended where the channel that carries it
            // ended, not where the other channel's back direction did.
            What::Tcp(TcpEvent::StreamEnded { end: se }) if !e.back_channel => {
                if let Some(d) = e.dir {
                    if !ended[d.idx()] {
                        ended[d.idx()] = true;
                        out.push(e.at, Some(d), end(se.kind.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
