//! MS-TSGU packets in and out of the two transports.
//!
//! In: the IN channel's chunked body, or the client's WebSocket frames, cut into whole
//! packets by [`TsguFramer`]. Out: packets written raw into the OUT channel's body, or
//! one unmasked binary WebSocket frame each. Both sides stay transport-agnostic for the
//! tunnel state machine.

use super::fail::Budget;
use super::http_io::ChunkDecoder;
use super::out_framing::{self, OutFraming};
use crate::decode::tsgu::framer::TsguFramer;
use crate::decode::ws::{self, Opcode, WsDecoder, WsEvent};
use crate::vocab::Dir;
use std::collections::VecDeque;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A boxed reader half.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// A boxed writer half.
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

enum Unwrap {
    /// The IN channel's chunked body.
    Chunked(ChunkDecoder),
    /// The client's WebSocket frames.
    Ws(Box<WsDecoder>),
}

/// Whole packets from the client.
pub struct Inbound {
    reader: Reader,
    unwrap: Unwrap,
    framer: TsguFramer,
    ready: VecDeque<Vec<u8>>,
    /// Bytes that arrived with the HTTP head, fed before reading more.
    first: Vec<u8>,
    ended: bool,
}

impl Inbound {
    /// Packets from a chunked IN channel body; `first` is what followed its head.
    pub fn chunked(reader: Reader, first: Vec<u8>) -> Inbound {
        Inbound::new(reader, Unwrap::Chunked(ChunkDecoder::new()), first)
    }

    /// Packets from WebSocket frames; `first` is what followed the upgrade request.
    pub fn websocket(reader: Reader, first: Vec<u8>) -> Inbound {
        Inbound::new(
            reader,
            Unwrap::Ws(Box::new(WsDecoder::new(Dir::C2S))),
            first,
        )
    }

    fn new(reader: Reader, unwrap: Unwrap, first: Vec<u8>) -> Inbound {
        Inbound {
            reader,
            unwrap,
            framer: TsguFramer::new(),
            ready: VecDeque::new(),
            first,
            ended: false,
        }
    }

    /// The next whole packet (header included); `None` once the client's stream ended
    /// (TCP close, the last chunk, or a WebSocket close). Cancel-safe: the only await is
    /// one read, and its bytes are processed before the next await.
    pub async fn next(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Ok(Some(p));
            }
            if self.ended {
                return Ok(None);
            }
            let bytes = if self.first.is_empty() {
                let mut buf = vec![0u8; 64 * 1024];
                let n = self.reader.read(&mut buf).await?;
                if n == 0 {
                    self.ended = true;
                    if self.framer.pending() > 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "the client's stream ended inside a packet ({} bytes held)",
                                self.framer.pending()
                            ),
                        ));
                    }
                    continue;
                }
                buf.truncate(n);
                buf
            } else {
                std::mem::take(&mut self.first)
            };
            self.absorb(&bytes)?;
        }
    }

    fn absorb(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Inbound {
            unwrap,
            framer,
            ready,
            ended,
            ..
        } = self;
        let mut to_packets =
            |payload: &[u8]| framer.push(payload, &mut |f| ready.push_back(f.to_vec()));
        match unwrap {
            Unwrap::Chunked(d) => {
                d.feed(bytes, &mut to_packets).map_err(bad_data)?;
                if d.done() {
                    *ended = true;
                }
            }
            Unwrap::Ws(d) => {
                let mut events = Vec::new();
                d.feed(bytes, &mut events, &mut to_packets);
                for e in events {
                    match e {
                        WsEvent::WsClose { .. } => *ended = true,
                        WsEvent::WsViolation { reason } => {
                            tracing::debug!("WebSocket from the client: {reason}")
                        }
                        other => tracing::debug!("WebSocket from the client: {other:?}"),
                    }
                }
                if let Some(e) = d.error() {
                    return Err(bad_data(format!("the client's WebSocket stream: {e}")));
                }
            }
        }
        if let Some(e) = framer.error() {
            return Err(bad_data(format!(
                "the client's packet stream is unframeable: {e}"
            )));
        }
        Ok(())
    }
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Packets to the client.
pub struct Outbound {
    writer: Writer,
    ws: bool,
    budget: Budget,
    /// The largest chunk, when the OUT channel's body is chunked.
    chunks: Option<usize>,
}

impl Outbound {
    /// Packets into the OUT channel's body, framed as `framing` declares.
    pub fn http(writer: Writer, budget: Budget, framing: OutFraming) -> Outbound {
        Outbound {
            writer,
            ws: false,
            budget,
            chunks: framing.chunk_limit(),
        }
    }

    /// One binary WebSocket frame per packet.
    pub fn websocket(writer: Writer, budget: Budget) -> Outbound {
        Outbound {
            writer,
            ws: true,
            budget,
            chunks: None,
        }
    }

    /// Sends one whole packet.
    pub async fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        if self.ws {
            let mut frame = Vec::with_capacity(packet.len() + 10);
            ws::encode_frame(Opcode::Binary, packet, None, &mut frame);
            self.write(&frame).await
        } else {
            self.write(packet).await
        }
    }

    /// Writes body bytes within the `close=out-body:N` budget (counted before any
    /// chunk framing, so a cut falls inside a chunk's data); the stream is closed and
    /// an error returned once the budget is spent.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let pieces: Vec<&[u8]> = match self.chunks {
            Some(max) => bytes.chunks(max).collect(),
            None => vec![bytes],
        };
        for piece in pieces {
            let (n, cut) = self.budget.take(piece.len());
            let data = piece.get(..n).unwrap_or(&[]);
            if self.chunks.is_some() {
                let mut wire = Vec::with_capacity(n + 12);
                out_framing::chunk(data, piece.len(), n == piece.len(), &mut wire);
                self.writer.write_all(&wire).await?;
            } else {
                self.writer.write_all(data).await?;
            }
            if cut {
                self.writer.flush().await?;
                let _ = self.writer.shutdown().await;
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed on purpose (--fail close=out-body)",
                ));
            }
        }
        self.writer.flush().await
    }

    /// Ends the stream: a WebSocket close frame (1000), or the last chunk of a chunked
    /// body, first; then TLS close_notify.
    pub async fn close(&mut self) {
        if self.ws {
            let mut frame = Vec::new();
            ws::encode_frame(Opcode::Close, &1000u16.to_be_bytes(), None, &mut frame);
            let _ = self.write(&frame).await;
        } else if self.chunks.is_some() {
            // After a cut on purpose the stream is shut already and this fails quietly.
            let _ = self.writer.write_all(out_framing::LAST_CHUNK).await;
        }
        let _ = self.writer.shutdown().await;
    }
}
