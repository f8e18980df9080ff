//! One direction of the intercepted relay: read plaintext from one TLS leg, show it to
//! the observer, write it to the other leg. Ends are recorded as the TCP pump records
//! them (FIN, reset, linger, idle, shutdown), so verdicts read the same either way.

use super::downgrade::Restore;
use crate::decode::note::Note;
use crate::relay::pump::deliver;
pub use crate::relay::timers::is_reset;
/// How a direction stands, as its sibling sees it: the TCP pump's word for it.
pub use crate::relay::timers::Sibling as Side;
use crate::relay::timers::{sleep_until_opt, Stops, Timers};
use crate::relay::Observer;
use crate::vocab::Dir;
use crate::vocab::{EndKind, StreamEnd};
use bytes::BytesMut;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::watch;

/// Plaintext arrives one TLS record (at most 16 KiB) at a time. The TLS stream zeroes
/// the whole read buffer before filling it, so a larger buffer only costs more zeroing.
const READ_SIZE: usize = 16 * 1024;

/// What one direction's pump shares with the other and with the connection.
pub struct PlainCtx {
    /// This pump's direction.
    pub dir: Dir,
    /// Sees every plaintext chunk.
    pub observer: Arc<dyn Observer>,
    /// The capture queue's wait point (lossless capture only).
    pub gate: Option<Arc<dyn crate::relay::Backpressure>>,
    /// The connection's linger and idle timers.
    pub timers: Timers,
    /// Tells the other direction how this one ended.
    pub me: watch::Sender<Side>,
    /// How the other direction ended.
    pub sibling: watch::Receiver<Side>,
    /// rdptap is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// Bytes this direction carried before TLS (the X.224 exchange).
    pub bytes_before: u64,
    /// The `--nla downgrade` restore, for the server's first PDU.
    pub restore: Option<Restore>,
}

/// Relays one direction until it ends; returns the end and the halves, so the caller
/// can reassemble the streams (to mirror a reset on the underlying socket).
pub async fn pump<A, B>(
    mut ctx: PlainCtx,
    mut reader: ReadHalf<A>,
    mut writer: WriteHalf<B>,
) -> (StreamEnd, ReadHalf<A>, WriteHalf<B>)
where
    A: AsyncRead + AsyncWrite,
    B: AsyncRead + AsyncWrite,
{
    let mut bytes = ctx.bytes_before;
    let mut sibling_closed = false;
    let kind = loop {
        let deadline = ctx.timers.deadline(sibling_closed);
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let read = tokio::select! {
            biased;
            _ = ctx.shutdown.changed() => break EndKind::Shutdown,
            changed = ctx.sibling.changed(), if !sibling_closed => {
                match (changed, *ctx.sibling.borrow()) {
                    (Err(_), _) | (Ok(()), Side::Closed) => sibling_closed = true,
                    (Ok(()), Side::Aborted) => break EndKind::Aborted,
                    (Ok(()), Side::Open) => {}
                }
                continue;
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() => {
                if let Some(k) = ctx.timers.expired(sibling_closed) {
                    break k;
                }
                continue;
            }
            r = reader.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) => {
                // close_notify or FIN: pass the close on as close_notify plus FIN, and
                // keep the other direction flowing (half-close).
                let _ = writer.shutdown().await;
                break EndKind::Fin;
            }
            Ok(n) => {
                bytes += n as u64;
                ctx.timers.touch();
                let chunk = match ctx.restore.as_mut() {
                    Some(r) => match r.push(buf) {
                        Some(c) => {
                            if r.done() {
                                if let Some((from, to)) = r.rewritten {
                                    ctx.observer.on_note(&Note::DowngradeHidden { from, to });
                                }
                                ctx.restore = None;
                            }
                            c
                        }
                        None => continue,
                    },
                    None => buf.freeze(),
                };
                if let Some(wait) = ctx.gate.as_ref().and_then(|g| g.room()) {
                    wait.await;
                }
                ctx.observer.on_plain(ctx.dir, &chunk);
                let stops = Stops {
                    timers: &ctx.timers,
                    shutdown: &mut ctx.shutdown,
                    sibling: &mut ctx.sibling,
                    sibling_closed: &mut sibling_closed,
                };
                // rustls holds written plaintext until flushed into records.
                if let Err(kind) = deliver(stops, &mut writer, &chunk, true).await {
                    break kind;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                // The peer closed TCP without close_notify: a FIN all the same.
                let _ = writer.shutdown().await;
                break EndKind::Fin;
            }
            Err(e) if is_reset(&e) => break EndKind::Rst,
            Err(e) => {
                break EndKind::Error {
                    error: tls_error_text(&e),
                }
            }
        }
    };
    let side = match kind {
        EndKind::Rst | EndKind::WriteFailed { .. } | EndKind::Error { .. } => Side::Aborted,
        _ => Side::Closed,
    };
    let _ = ctx.me.send(side);
    let end = StreamEnd {
        kind,
        after: ctx.timers.started.elapsed(),
        bytes,
    };
    ctx.observer.on_end(ctx.dir, &end);
    (end, reader, writer)
}

/// The TLS error inside an IO error, in words.
pub fn tls_error_text(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => format!("TLS: {t}"),
        None => e.to_string(),
    }
}
