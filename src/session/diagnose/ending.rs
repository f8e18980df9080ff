//! How a connection ended when nothing more specific explains it: an orderly close after
//! the furthest point rdptap can see, or simply who closed, how, and in which phase.

use super::close::{side_end, Close};
use super::seen::Seen;
use super::{Finding, Inputs};
use crate::session::mstsc;
use crate::session::{Cause, CloseKind, ClosedBy, Phase};
use crate::vocab::{Dir, EndKind};

/// The connection got as far as rdptap can see, then closed in an orderly way.
pub(super) fn orderly(input: &Inputs<'_>, seen: &Seen, close: Option<&Close>) -> Option<Finding> {
    let close = close?;
    if close.kind != CloseKind::Fin || !matches!(close.by, ClosedBy::Client | ClosedBy::Server) {
        return None;
    }
    // The other side may close too, or stay silent until the linger: not a reset.
    let other = if close.by == ClosedBy::Client {
        Dir::S2C
    } else {
        Dir::C2S
    };
    if let Some((_, e)) = &seen.ends[other.idx()] {
        if matches!(e.kind, crate::vocab::EndKind::Rst) {
            return None;
        }
    }
    let closer = if close.by == ClosedBy::Client {
        Dir::C2S
    } else {
        Dir::S2C
    };
    let sel = seen.selected();
    let stats = input.tls_stats;
    let mut what = if seen.handshake_done.is_some() {
        let v = seen
            .tls_version()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "TLS".into());
        let nla = if sel.is_some_and(|p| p.is_nla()) {
            "; CredSSP completed (inferred from record sizes)"
        } else {
            ""
        };
        format!(
            "{v} session established ({} selected){nla}; {} encrypted records from the client and {} from the server",
            sel.unwrap_or_default(),
            stats[0].app_records,
            stats[1].app_records
        )
    } else if let Some((_, 0, _)) = seen.mcs_response {
        "standard RDP security: MCS connect succeeded".to_string()
    } else {
        return None;
    };
    let alert_before = seen
        .records
        .iter()
        .rev()
        .find(|r| r.dir == closer && r.at.at <= close.at.at)
        .is_some_and(|r| r.alert_like);
    what.push_str(&format!(
        "; then the {} closed in an orderly way{}",
        closer.sender(),
        if alert_before {
            " (FIN after one alert-sized record: close_notify, inferred)"
        } else {
            " (FIN)"
        }
    ));
    match &seen.ends[other.idx()] {
        Some((_, e)) if matches!(e.kind, crate::vocab::EndKind::Linger) => what.push_str(&format!(
            "; the {} stayed silent and was closed after the {} s linger",
            other.sender(),
            input.linger.as_secs_f64()
        )),
        Some((_, e)) if matches!(e.kind, crate::vocab::EndKind::Fin) => {
            what.push_str(&format!("; the {} closed too", other.sender()))
        }
        _ => {}
    }
    what.push_str(if seen.cap.decrypted.is_some() {
        ". Decrypted with the key log"
    } else if input.capture {
        ". The rest was encrypted: --keylog with the client's or host's TLS key log shows more"
    } else {
        ". The rest was encrypted: --intercept shows more"
    });
    let hint = if input.capture && seen.cap.decrypted.is_none() {
        "nothing to fix on the path rdptap can see; if the user still saw an error, capture again with a TLS key log (or through rdptap --intercept) to see inside TLS"
    } else {
        "nothing to fix on the path rdptap can see; if the user still saw an error, run with --intercept to see inside TLS"
    };
    Some(Finding::new(Cause::Ok, what, hint).evidence(seen.handshake_done))
}

/// The client connected and sent nothing, so the first-byte deadline closed the
/// connection: RDP and RD Gateway clients speak first, so whatever connected is not one,
/// or is not talking.
pub(super) fn client_silent(seen: &Seen) -> Option<Finding> {
    let (at, end) = seen
        .ends
        .iter()
        .flatten()
        .find(|(_, e)| e.kind == EndKind::FirstByteTimeout)?;
    if side_end(seen, Dir::C2S).bytes > 0 {
        return None;
    }
    let server = match side_end(seen, Dir::S2C).bytes {
        0 => "; the server sent nothing either".to_string(),
        n => format!("; the server sent {n} bytes, which were relayed"),
    };
    let mut f = Finding::new(
        Cause::ClientSilent,
        format!(
            "the client connected and sent nothing for {:.1} s, so rdptap closed the connection (--first-byte-timeout){server}",
            end.after.as_secs_f64()
        ),
        "RDP and RD Gateway clients speak first: check that an RDP client is pointed at this port (a VNC or SSH client waits for the server to speak), or whether this was a port probe or health check; raise --first-byte-timeout for a client that is merely slow to start",
    )
    .evidence([*at]);
    f.closed = Some((ClosedBy::Proxy, CloseKind::Timeout));
    Some(f)
}

/// No more specific cause: report who closed, and how far the connection got.
pub(super) fn by_close(seen: &Seen, close: Option<&Close>) -> Finding {
    let phase = seen.phase.unwrap_or(Phase::TcpConnect);
    let Some(close) = close else {
        if seen.capture_ended() {
            return Finding::new(
                Cause::CaptureEnded,
                format!(
                    "the capture ended while the connection was still open, in the {phase} phase{}",
                    last_seen(seen)
                ),
                "nothing failed in what was captured; capture longer (until the error shows) to see how the connection ends",
            );
        }
        return Finding::new(
            Cause::ProxyShutdown,
            format!("the connection was still open in the {phase} phase when rdptap stopped"),
            "nothing was wrong on the wire; the connection was cut by stopping rdptap",
        );
    };
    let cause = match (close.by, close.kind) {
        (ClosedBy::Server, CloseKind::Rst) => Cause::ServerReset,
        (ClosedBy::Server, _) => Cause::ServerClosed,
        (ClosedBy::Client, CloseKind::Rst) => Cause::ClientReset,
        (ClosedBy::Client, _) => Cause::ClientClosed,
        (_, CloseKind::Shutdown) => Cause::ProxyShutdown,
        _ => Cause::IdleTimeout,
    };
    let after = last_seen(seen);
    let summary = match cause {
        Cause::ProxyShutdown => format!("rdptap was stopped during the {phase} phase{after}"),
        Cause::IdleTimeout => format!("nothing moved in either direction past the idle timeout, in the {phase} phase{after}"),
        _ => format!(
            "the {} {} during the {phase} phase{after}, after {} bytes from the client and {} from the server",
            close.by,
            if close.kind == CloseKind::Rst { "reset the connection" } else { "closed the connection" },
            side_end(seen, Dir::C2S).bytes,
            side_end(seen, Dir::S2C).bytes
        ),
    };
    let hint = match (cause, phase) {
        (Cause::ServerClosed | Cause::ServerReset, Phase::X224) => "the host dropped the connection before negotiating: check that it is an RDP host, and for a load balancer or broker in front of it",
        (Cause::ServerClosed | Cause::ServerReset, Phase::TlsHandshake) => "the host dropped the TLS handshake: compare the TLS versions and cipher suites both sides allow (old hosts need the TLS 1.2 update)",
        (Cause::ServerClosed | Cause::ServerReset, _) => "check the host's event log (TerminalServices-RemoteConnectionManager, Security) at this time; run with --intercept to see inside TLS",
        (Cause::ClientClosed | Cause::ClientReset, _) => "check what the client reported to the user; a client that gives up right after the handshake usually rejected the certificate",
        (Cause::IdleTimeout, _) => "raise --idle-timeout, or check why neither side sent anything",
        _ => "nothing was wrong on the wire; the connection was cut by stopping rdptap",
    };
    let code = matches!(cause, Cause::ServerClosed | Cause::ServerReset).then(mstsc::socket_closed);
    Finding::new(cause, summary, hint).mstsc(code)
}

/// ", after the ServerHello" and the like: the last decoded step before the close.
fn last_seen(seen: &Seen) -> String {
    let steps: [(Option<usize>, &str); 8] = [
        (
            seen.request.map(|r| r.0.seq),
            "the client's Connection Request",
        ),
        (
            seen.confirm.map(|r| r.0.seq),
            "the server's Connection Confirm",
        ),
        (seen.client_hello.map(|r| r.seq), "the ClientHello"),
        (seen.server_hello.map(|r| r.0.seq), "the ServerHello"),
        (seen.cert.map(|r| r.seq), "the server's Certificate"),
        (
            seen.handshake_done.map(|r| r.seq),
            "the end of the TLS handshake",
        ),
        (seen.mcs_initial.map(|r| r.seq), "the MCS Connect Initial"),
        (
            seen.mcs_response.as_ref().map(|r| r.0.seq),
            "the MCS Connect Response",
        ),
    ];
    steps
        .iter()
        .filter_map(|(s, n)| s.map(|s| (s, *n)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, n)| format!(", after {n}"))
        .unwrap_or_default()
}
