//! One direction of the relay: read a chunk, show it to the observer, write it on.

pub(crate) use super::timers::Sibling;
use super::timers::{read_error, sleep_until_opt, Stops, Timers};
use super::Observer;
use crate::vocab::Dir;
use crate::vocab::{EndKind, StreamEnd};
use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

/// Smallest read buffer; idle connections hold none at all (see [`pump`]).
const MIN_READ: usize = 4 * 1024;
/// Largest read buffer, reached after a few full reads in a bulk transfer: bigger reads
/// mean fewer system calls per byte, which is where a relay spends its time.
const MAX_READ: usize = 256 * 1024;

/// Everything a pump needs besides its two socket halves.
pub(crate) struct PumpCtx {
    pub dir: Dir,
    /// The capture queue's wait point (lossless capture only).
    pub gate: Option<Arc<dyn super::Backpressure>>,
    pub observer: Arc<dyn Observer>,
    pub timers: Timers,
    pub me: watch::Sender<Sibling>,
    pub sibling: watch::Receiver<Sibling>,
    pub shutdown: watch::Receiver<bool>,
    /// Bytes this direction carried before the pump started.
    pub bytes_before: u64,
}

/// Relays `reader` to `writer` until the stream ends, and says how it ended.
///
/// The read buffer is allocated only once the socket is readable, so an idle connection
/// holds no buffer memory; its size adapts between 4 and 64 KiB to the traffic.
pub(crate) async fn pump(
    mut ctx: PumpCtx,
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
) -> StreamEnd {
    let mut bytes = ctx.bytes_before;
    let mut want = MIN_READ;
    let mut sibling_closed = false;
    let kind = loop {
        let deadline = ctx.timers.deadline(sibling_closed);
        tokio::select! {
            biased;
            _ = ctx.shutdown.changed() => break EndKind::Shutdown,
            changed = ctx.sibling.changed(), if !sibling_closed => {
                match (changed, *ctx.sibling.borrow()) {
                    (Err(_), _) | (Ok(()), Sibling::Closed) => sibling_closed = true,
                    (Ok(()), Sibling::Aborted) => break EndKind::Aborted,
                    (Ok(()), Sibling::Open) => {}
                }
                continue;
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() => {
                if let Some(k) = ctx.timers.expired(sibling_closed) {
                    break k;
                }
                continue;
            }
            ready = reader.readable() => {
                if let Err(e) = ready {
                    break read_error(e);
                }
            }
        }
        let mut buf = BytesMut::with_capacity(want);
        // Poll one read: tokio's read clears the socket's readiness after a short read,
        // which saves the failing (EAGAIN) read `try_read_buf` would leave for the next
        // turn. Pending means the readiness was stale: drop the buffer and wait again.
        let read = std::future::poll_fn(|cx| {
            let fut = std::pin::pin!(reader.read_buf(&mut buf));
            match fut.poll(cx) {
                Poll::Ready(r) => Poll::Ready(Some(r)),
                Poll::Pending => Poll::Ready(None),
            }
        })
        .await;
        let Some(read) = read else {
            continue;
        };
        match read {
            Ok(0) => {
                // Pass the FIN on; the other direction keeps flowing (half-close).
                let _ = writer.shutdown().await;
                break EndKind::Fin;
            }
            Ok(n) => {
                want = next_size(want, n);
                let chunk = buf.freeze();
                bytes += n as u64;
                ctx.timers.touch();
                if ctx.dir == Dir::C2S {
                    ctx.timers.client_spoke();
                }
                if let Some(wait) = ctx.gate.as_ref().and_then(|g| g.room()) {
                    // Lossless capture: the relay goes at the pace the trace is written.
                    wait.await;
                }
                ctx.observer.on_data(ctx.dir, &chunk);
                let stops = Stops {
                    timers: &ctx.timers,
                    shutdown: &mut ctx.shutdown,
                    sibling: &mut ctx.sibling,
                    sibling_closed: &mut sibling_closed,
                };
                if let Err(kind) = deliver(stops, &mut writer, &chunk, false).await {
                    break kind;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => break read_error(e),
        }
    };
    match kind {
        EndKind::Rst | EndKind::WriteFailed { .. } | EndKind::Error { .. } => {
            // Mirror a reset to the receiving side, as a direct connection would show it.
            if matches!(kind, EndKind::Rst) {
                let _ = writer.as_ref().set_zero_linger();
            }
            let _ = ctx.me.send(Sibling::Aborted);
        }
        _ => {
            let _ = ctx.me.send(Sibling::Closed);
        }
    }
    let end = StreamEnd {
        kind,
        after: ctx.timers.started.elapsed(),
        bytes,
    };
    ctx.observer.on_end(ctx.dir, &end);
    end
}

/// Writes all of `chunk` (and flushes, when `flush`), racing the connection's timers:
/// a receiver that stops reading (a zero window) ends the direction at the idle timeout,
/// the linger or shutdown, as a sender that stops sending would. Bytes delivered count
/// as activity, so a slow receiver is not mistaken for a silent one. The write is
/// tried once before the timers are armed, since most complete at once.
pub(crate) async fn deliver<W: AsyncWrite + Unpin>(
    stops: Stops<'_>,
    writer: &mut W,
    chunk: &[u8],
    flush: bool,
) -> Result<(), EndKind> {
    let timers = stops.timers;
    let work = async {
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = writer.write(rest).await?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            rest = &rest[n..];
            timers.touch();
        }
        if flush {
            writer.flush().await?;
        }
        Ok(())
    };
    tokio::pin!(work);
    let first = std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(Some(r)),
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    let done = match first {
        Some(r) => r,
        None => super::timers::race(stops, work).await?,
    };
    done.map_err(|e| super::timers::write_error(&e))
}

/// When the current wait should be cut short to check the linger or idle timers.
fn next_size(want: usize, got: usize) -> usize {
    if got == want {
        (want * 2).min(MAX_READ)
    } else if got < want / 4 {
        (want / 2).max(MIN_READ)
    } else {
        want
    }
}

#[cfg(test)]
mod tests {
    use super::{next_size, MAX_READ};

    #[test]
    fn buffer_size_adapts() {
        assert_eq!(next_size(4096, 4096), 8192);
        assert_eq!(next_size(65536, 65536), 131072);
        assert_eq!(next_size(MAX_READ, MAX_READ), MAX_READ);
        assert_eq!(next_size(65536, 100), 32768);
        assert_eq!(next_size(4096, 10), 4096);
    }
}
