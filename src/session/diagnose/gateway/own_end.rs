//! Streams rdptap itself ended: its idle timeout (which also releases a side that stops
//! reading), its linger, its first-byte timeout, its shutdown. An HTTP body or MS-TSGU
//! packet cut there was cut by rdptap, so the gateway is not blamed for it; the direct
//! chain says the same through `by_close`.

use super::super::close::Close;
use super::super::seen::Seen;
use super::super::Finding;
use super::GwSeen;
use crate::session::{Cause, CloseKind, ClosedBy};
use crate::vocab::{Dir, EndKind};

/// True when rdptap's own deadline or shutdown ended the stream, not its sender.
pub(super) fn by_rdptap(kind: &EndKind) -> bool {
    matches!(
        kind,
        EndKind::Linger | EndKind::IdleTimeout | EndKind::FirstByteTimeout | EndKind::Shutdown
    )
}

/// True when the stream `dir` ended at one of rdptap's own deadlines.
pub(super) fn cut_by_rdptap(seen: &Seen, dir: Dir) -> bool {
    seen.ends[dir.idx()]
        .as_ref()
        .is_some_and(|(_, e)| by_rdptap(&e.kind))
}

/// rdptap's deadline was the first close, and it cut a gateway answer or packet in
/// the middle: that is the verdict, with the cut stated as what was relayed.
pub(super) fn cut_at_deadline(
    seen: &Seen,
    g: &GwSeen,
    close: Option<&Close>,
    during: &str,
    transport: &str,
) -> Option<Finding> {
    let c = close?;
    if c.by != ClosedBy::Proxy {
        return None;
    }
    let (at, dir, what) = g.incomplete.as_ref()?;
    let (end_at, end) = seen.ends[dir.idx()].as_ref()?;
    if !by_rdptap(&end.kind) {
        return None;
    }
    let (stream, receiver) = if *dir == Dir::S2C {
        ("gateway-to-client", "client")
    } else {
        ("client-to-gateway", "gateway")
    };
    // Decoder wording is the sender's ("closed after …"); here rdptap ended it.
    let cut = what.strip_prefix("closed ").unwrap_or(what);
    let secs = end.after.as_secs_f64();
    let (cause, how, hint) = match end.kind {
        EndKind::Shutdown => (
            Cause::ProxyShutdown,
            format!("rdptap was stopped and cut the {stream} stream"),
            "nothing was wrong on the wire; the connection was cut by stopping rdptap",
        ),
        EndKind::Linger => (
            Cause::IdleTimeout,
            format!("rdptap's linger (--linger) ended the {stream} stream at {secs:.1} s"),
            "the other side had closed and this one did not finish; raise --linger if the tail matters",
        ),
        _ => (
            Cause::IdleTimeout,
            format!(
                "rdptap's idle timeout (--idle-timeout) ended the {stream} stream at {secs:.1} s: nothing moved, or the {receiver} did not read what it was sent"
            ),
            "a receiver that stops reading holds the tunnel until the idle timeout: check the client machine (a hung or suspended client) and the path for a stalled link; otherwise raise --idle-timeout",
        ),
    };
    let mut f = Finding::new(
        cause,
        format!(
            "{how}, during the {during} ({transport}); the stream stopped {cut} because of that, not because the {} closed it",
            if *dir == Dir::S2C { "gateway" } else { "client" }
        ),
        hint,
    )
    .evidence([*at, *end_at]);
    f.closed = Some((
        ClosedBy::Proxy,
        if end.kind == EndKind::Shutdown {
            CloseKind::Shutdown
        } else {
            CloseKind::Timeout
        },
    ));
    Some(f)
}
