//! One connection's share of the capture: its flows, and what the drop policy left out.

use super::{Close, FlowId, FlowKind, Msg, Overflow, Shared};
use crate::record::pcapng::tcp::MAX_SEGMENT;
use crate::vocab::{Dir, Leg, Legs};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Events kept for a packet at most; the rest are summed up in one more comment.
const MAX_COMMENTS: usize = 24;

/// A flow's sender-side state.
#[derive(Debug, Default)]
struct Side {
    flow: FlowId,
    /// Packets and bytes dropped per direction since the last captured packet.
    skipped: [(u64, u64); 2],
    /// Comments of dropped packets, carried to the next captured one.
    carried: Vec<String>,
}

#[derive(Debug, Default)]
struct ConnState {
    announced: bool,
    client: Option<SocketAddr>,
    listen: Option<SocketAddr>,
    upstream: Option<(SocketAddr, SocketAddr)>,
    raw: [Option<Side>; 2],
    plain: Option<Side>,
    dropped: (u64, u64),
}

/// The capture handle of one connection.
pub struct ConnCapture {
    shared: Arc<Shared>,
    conn: u64,
    desc: String,
    st: Mutex<ConnState>,
}

impl std::fmt::Debug for ConnCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnCapture({})", self.conn)
    }
}

/// The RDP stream inside a gateway tunnel, written as its own flow.
pub struct InnerFlow {
    shared: Arc<Shared>,
    side: Mutex<Side>,
}

impl std::fmt::Debug for InnerFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InnerFlow")
    }
}

impl ConnCapture {
    pub(super) fn new(shared: Arc<Shared>, conn: u64, desc: String) -> Self {
        ConnCapture {
            shared,
            conn,
            desc,
            st: Mutex::new(ConnState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open(
        &self,
        st: &mut ConnState,
        kind: FlowKind,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Side {
        if !st.announced {
            st.announced = true;
            self.shared.send(Msg::Conn {
                conn: self.conn,
                desc: self.desc.clone(),
            });
        }
        let flow = self.shared.new_flow();
        self.shared.send(Msg::Open {
            flow,
            conn: self.conn,
            kind,
            client,
            server,
            ts: SystemTime::now(),
        });
        Side {
            flow,
            ..Side::default()
        }
    }

    /// The client's leg, as accepted.
    pub fn client_leg(&self, client: SocketAddr, listen: SocketAddr) {
        let mut st = self.lock();
        st.client = Some(client);
        st.listen = Some(listen);
        let side = self.open(&mut st, FlowKind::Raw, client, listen);
        st.raw[0] = Some(side);
    }

    /// The upstream leg, once connected (`local` is rdptap's end).
    pub fn upstream_leg(&self, local: SocketAddr, peer: SocketAddr) {
        let mut st = self.lock();
        st.upstream = Some((local, peer));
        let side = self.open(&mut st, FlowKind::Raw, local, peer);
        st.raw[1] = Some(side);
    }

    /// The upstream leg was replaced by a fresh connection (the passthrough fallback):
    /// the first one ends and the new one becomes the upstream flow, so the trace shows
    /// the two TCP connections the host really saw.
    pub fn redial(&self, local: SocketAddr, peer: SocketAddr) {
        let mut st = self.lock();
        let st = &mut *st;
        if let Some(old) = st.raw[1].as_mut() {
            // rdptap dropped the first connection when its own handshake failed.
            for dir in [Dir::C2S, Dir::S2C] {
                send_end(&self.shared, old, dir, Close::Fin, Vec::new());
            }
        }
        st.upstream = Some((local, peer));
        let mut side = self.open(st, FlowKind::Raw, local, peer);
        side.carried.push(
            "rdptap: a fresh connection to the host: rdptap's own TLS could not be spoken with it, so the client's TLS is relayed untouched (passthrough fallback)"
                .to_string(),
        );
        st.raw[1] = Some(side);
    }

    /// A relayed chunk on its raw legs; `comments` go on the packet of the leg it was
    /// read from.
    pub fn raw(&self, dir: Dir, legs: Legs, chunk: &Bytes, comments: Vec<String>) {
        let origin = match dir {
            Dir::C2S => 0,
            Dir::S2C => 1,
        };
        let idx: &[usize] = match legs {
            Legs::Both if origin == 0 => &[0, 1],
            Legs::Both => &[1, 0],
            Legs::One(Leg::Client) => &[0],
            Legs::One(Leg::Upstream) => &[1],
            Legs::Neither => &[],
        };
        let mut st = self.lock();
        let mut comments = Some(comments);
        for &i in idx {
            let c = comments.take().unwrap_or_default();
            let (shared, st) = (&self.shared, &mut *st);
            if let Some(side) = st.raw[i].as_mut() {
                send_data(shared, side, &mut st.dropped, dir, chunk.clone(), c);
            }
        }
    }

    /// Raw bytes one leg carried under TLS interception (copied: they live in the TLS
    /// library's buffers).
    pub fn wire(&self, leg: Leg, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() || self.shared.off.load(Ordering::Relaxed) {
            return;
        }
        let i = match leg {
            Leg::Client => 0,
            Leg::Upstream => 1,
        };
        let mut st = self.lock();
        let st = &mut *st;
        if let Some(side) = st.raw[i].as_mut() {
            let data = Bytes::copy_from_slice(bytes);
            send_data(&self.shared, side, &mut st.dropped, dir, data, Vec::new());
        }
    }

    /// Decrypted bytes: gateway HTTP (`http`) or RDP.
    pub fn plain(&self, dir: Dir, chunk: &Bytes, comments: Vec<String>, http: bool) {
        let mut st = self.lock();
        let st = &mut *st;
        if st.plain.is_none() {
            let (kind, port) = if http {
                (FlowKind::PlainHttp, 80)
            } else {
                (FlowKind::PlainRdp, 3389)
            };
            let (client, server) = self.synthetic(st, port);
            let side = self.open(st, kind, client, server);
            st.plain = Some(side);
        }
        if let Some(side) = st.plain.as_mut() {
            send_data(
                &self.shared,
                side,
                &mut st.dropped,
                dir,
                chunk.clone(),
                comments,
            );
        }
    }

    /// Comments with no packet of their own (a note, a verdict), put on a packet of the
    /// decrypted flow if there is one, else of the client's leg.
    pub fn comments_only(&self, comments: Vec<String>) {
        if comments.is_empty() {
            return;
        }
        let mut st = self.lock();
        let side = match st.plain.as_mut() {
            Some(p) => Some(p),
            None => st.raw[0].as_mut(),
        };
        if let Some(side) = side {
            side.carried.extend(comments);
            side.carried.truncate(MAX_COMMENTS * 4);
        }
    }

    /// Addresses for a synthetic flow toward `port`: the client's address, and the
    /// upstream host's address on the dissector's port. Where that would repeat a raw
    /// leg's addresses, the client port is moved so Wireshark keeps the flows apart.
    fn synthetic(&self, st: &ConnState, port: u16) -> (SocketAddr, SocketAddr) {
        let mut client = st
            .client
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 1)));
        let host = st
            .upstream
            .map(|(_, p)| p.ip())
            .or(st.listen.map(|l| l.ip()))
            .unwrap_or(client.ip());
        let server = SocketAddr::new(host, port);
        if st.listen == Some(server) {
            client.set_port(client.port() ^ 0x8000);
        }
        (client, server)
    }

    /// A flow for the RDP inside a gateway tunnel, on this connection's interface.
    pub fn inner_flow(&self) -> InnerFlow {
        let mut st = self.lock();
        let st = &mut *st;
        let (mut client, server) = self.synthetic(st, 3389);
        // Apart from the decrypted HTTP flow, which uses the client's port.
        client.set_port(client.port() ^ 0x4000);
        let side = self.open(st, FlowKind::Inner, client, server);
        InnerFlow {
            shared: self.shared.clone(),
            side: Mutex::new(side),
        }
    }

    /// `dir`'s sender closed: its side of every flow of this connection ends. The other
    /// raw leg ends the same way, since rdptap passes closes on as they came.
    pub fn end(&self, dir: Dir, how: Close, comments: Vec<String>) {
        let mut st = self.lock();
        let st = &mut *st;
        let origin = if dir == Dir::C2S { 0 } else { 1 };
        // Comments belong on the decrypted flow when there is one, else on the leg the
        // close came from.
        let mut comments = Some(comments);
        if let Some(p) = st.plain.as_mut() {
            send_end(
                &self.shared,
                p,
                dir,
                how,
                comments.take().unwrap_or_default(),
            );
        }
        for i in [origin, 1 - origin] {
            if let Some(side) = st.raw[i].as_mut() {
                send_end(
                    &self.shared,
                    side,
                    dir,
                    how,
                    comments.take().unwrap_or_default(),
                );
            }
        }
    }

    /// The connection is over: its blocks are written out. Returns the packets and bytes
    /// the drop policy left out of its flows.
    pub fn finish(&self) -> (u64, u64) {
        let st = self.lock();
        self.shared.send(Msg::ConnDone { conn: self.conn });
        st.dropped
    }
}

impl InnerFlow {
    /// A DATA payload of the tunnel.
    pub fn data(&self, dir: Dir, payload: &[u8]) {
        if payload.is_empty() || self.shared.off.load(Ordering::Relaxed) {
            return;
        }
        let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
        let mut dropped = (0, 0);
        send_data(
            &self.shared,
            &mut side,
            &mut dropped,
            dir,
            Bytes::copy_from_slice(payload),
            Vec::new(),
        );
    }
}

impl Drop for InnerFlow {
    fn drop(&mut self) {
        let side = self.side.get_mut().unwrap_or_else(|p| p.into_inner());
        for dir in [Dir::C2S, Dir::S2C] {
            send_end(&self.shared, side, dir, Close::Fin, Vec::new());
        }
    }
}

/// Queues one chunk of a flow, or drops and counts it when the drop policy says so.
fn send_data(
    shared: &Shared,
    side: &mut Side,
    dropped: &mut (u64, u64),
    dir: Dir,
    data: Bytes,
    mut comments: Vec<String>,
) {
    let d = dir.idx();
    if shared.overflow == Overflow::Drop && !shared.admits(data.len() + super::MSG_OVERHEAD) {
        let packets = data.len().div_ceil(MAX_SEGMENT).max(1) as u64;
        let bytes = data.len() as u64;
        side.skipped[d].0 += packets;
        side.skipped[d].1 += bytes;
        dropped.0 += packets;
        dropped.1 += bytes;
        shared.dropped_packets.fetch_add(packets, Ordering::Relaxed);
        shared.dropped_bytes.fetch_add(bytes, Ordering::Relaxed);
        if side.carried.len() < MAX_COMMENTS * 4 {
            side.carried.append(&mut comments);
        }
        return;
    }
    let comments = merge(&mut side.carried, comments);
    let skipped = take_skipped(side, d);
    shared.send(Msg::Data {
        flow: side.flow,
        from_client: dir == Dir::C2S,
        data,
        ts: SystemTime::now(),
        comments,
        skipped,
    });
}

fn send_end(shared: &Shared, side: &mut Side, dir: Dir, how: Close, comments: Vec<String>) {
    let comments = merge(&mut side.carried, comments);
    let skipped = take_skipped(side, dir.idx());
    shared.send(Msg::End {
        flow: side.flow,
        from_client: dir == Dir::C2S,
        how,
        ts: SystemTime::now(),
        comments,
        skipped,
    });
}

fn take_skipped(side: &mut Side, d: usize) -> Option<(u64, u64)> {
    let s = std::mem::take(&mut side.skipped[d]);
    (s.0 > 0).then_some(s)
}

/// Carried comments first, then the packet's own, capped with a count of the rest.
fn merge(carried: &mut Vec<String>, own: Vec<String>) -> Vec<String> {
    let mut all = if carried.is_empty() {
        own
    } else {
        let mut v = std::mem::take(carried);
        v.extend(own);
        v
    };
    if all.len() > MAX_COMMENTS {
        let more = all.len() - (MAX_COMMENTS - 1);
        all.truncate(MAX_COMMENTS - 1);
        all.push(format!(
            "rdptap: … and {more} more events (see the event file)"
        ));
    }
    all
}
