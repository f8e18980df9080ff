//! Reading whole first messages off a socket before the relay starts: the X.224
//! Connection Request and Confirm (one TPKT each) and the client's TLS ClientHello.
//!
//! Anything unexpected (a socket that closes, bytes that are not the expected frame, a
//! shutdown) is reported with the bytes read so far, so the caller can hand them on and
//! fall back to relaying untouched.

use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// The largest first message accepted: a TPKT frame is at most 65535 bytes, and a
/// ClientHello larger than this is not one rdptap can intercept anyway.
const MAX_FIRST: usize = 64 * 1024;

/// What reading a first message gave.
#[derive(Debug)]
pub enum Read {
    /// One whole message, and any bytes that followed it in the same reads.
    Whole {
        /// The message.
        msg: Bytes,
        /// Bytes after it.
        rest: Bytes,
    },
    /// The bytes are not the expected message; they are returned unchanged.
    Unexpected(Bytes),
    /// The socket ended, failed, timed out or rdptap is stopping; what was read so far.
    Stopped(Bytes),
}

/// Which message to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One TPKT frame (version 3).
    Tpkt,
    /// TLS handshake records up to the end of the first handshake message.
    ClientHello,
}

/// The bytes cannot start the expected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotIt;

/// How many bytes make up the whole message at the start of `buf`, once known.
pub fn message_len(expect: Expect, buf: &[u8]) -> Result<Option<usize>, NotIt> {
    match expect {
        Expect::Tpkt => {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != 0x03 || (buf.len() > 1 && buf[1] != 0) {
                return Err(NotIt);
            }
            if buf.len() < 4 {
                return Ok(None);
            }
            let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
            if len < 7 {
                return Err(NotIt);
            }
            Ok((buf.len() >= len).then_some(len))
        }
        Expect::ClientHello => client_hello_len(buf),
    }
}

/// The length of the records carrying the first handshake message (ClientHello).
fn client_hello_len(buf: &[u8]) -> Result<Option<usize>, NotIt> {
    // Walk handshake records, collecting the handshake stream until the first message
    // (4-byte header plus body) is complete.
    let mut at = 0usize;
    let mut hs: Vec<u8> = Vec::new();
    loop {
        if buf.len() < at + 5 {
            return Ok(None);
        }
        if buf[at] != 0x16 || buf[at + 1] != 0x03 {
            return Err(NotIt);
        }
        let len = u16::from_be_bytes([buf[at + 3], buf[at + 4]]) as usize;
        if len == 0 || len > 16384 + 2048 {
            return Err(NotIt);
        }
        if buf.len() < at + 5 + len {
            return Ok(None);
        }
        hs.extend_from_slice(&buf[at + 5..at + 5 + len]);
        at += 5 + len;
        if hs.len() >= 4 {
            if hs[0] != 0x01 {
                return Err(NotIt);
            }
            let body = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
            if hs.len() >= 4 + body {
                return Ok(Some(at));
            }
        }
        if at > MAX_FIRST {
            return Err(NotIt);
        }
    }
}

/// Reads from `sock` until the expected message is whole, `wait` passes with nothing
/// new, `first_by` passes before the first byte (the client's first-byte deadline), or
/// `shutdown` fires.
pub async fn read_first(
    sock: &mut TcpStream,
    expect: Expect,
    wait: Option<Duration>,
    first_by: Option<Instant>,
    shutdown: &mut watch::Receiver<bool>,
) -> Read {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match message_len(expect, &buf) {
            Err(NotIt) => return Read::Unexpected(buf.freeze()),
            Ok(Some(n)) => {
                let msg = buf.split_to(n).freeze();
                return Read::Whole {
                    msg,
                    rest: buf.freeze(),
                };
            }
            Ok(None) if buf.len() >= MAX_FIRST => return Read::Unexpected(buf.freeze()),
            Ok(None) => {}
        }
        let limit = match first_by.filter(|_| buf.is_empty()) {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                Some(wait.map_or(left, |w| w.min(left)))
            }
            None => wait,
        };
        let read = sock.read_buf(&mut buf);
        let res = tokio::select! {
            biased;
            _ = shutdown.changed() => None,
            r = timeout_opt(limit, read) => r,
        };
        match res {
            Some(Ok(n)) if n > 0 => {}
            _ => return Read::Stopped(buf.freeze()),
        }
    }
}

async fn timeout_opt<F: std::future::Future>(d: Option<Duration>, f: F) -> Option<F::Output> {
    match d {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpkt_lengths() {
        let cr = [3u8, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0];
        assert_eq!(message_len(Expect::Tpkt, &cr[..3]), Ok(None));
        assert_eq!(message_len(Expect::Tpkt, &cr), Ok(Some(11)));
        assert_eq!(message_len(Expect::Tpkt, b"GET / HTTP/1.1"), Err(NotIt));
        assert_eq!(message_len(Expect::Tpkt, &[3, 0, 0, 2]), Err(NotIt));
    }

    #[test]
    fn client_hello_across_two_records() {
        // A 6-byte ClientHello body split over two records.
        let mut b = vec![0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x06, 0xaa];
        assert_eq!(message_len(Expect::ClientHello, &b), Ok(None));
        b.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
        assert_eq!(message_len(Expect::ClientHello, &b), Ok(Some(20)));
        assert_eq!(
            message_len(Expect::ClientHello, &[0x17, 3, 3, 0, 1, 0]),
            Err(NotIt)
        );
    }
}
