//! Gateway sessions shared between the connections that carry them. The two channels
//! of the HTTP transport are two TCP connections, served on whichever worker threads
//! accepted them, so their shared tunnel sits behind a lock here, in the composition,
//! and each connection's tracker reaches it through [`Link`].

use crate::decode::tls::RecordStats;
use crate::decode::tsgu::packet::Packet;
use crate::decode::Decoded;
use crate::record::capture::{ConnCapture, InnerFlow};
use crate::session::gateway::{Deposit, GwSession};
use crate::session::tracker::Tunnels;
use crate::vocab::Dir;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most gateway sessions tracked at once; beyond it the oldest are forgotten (their
/// connections still get their own verdicts).
const MAX_SESSIONS: usize = 4096;

/// One gateway session and its flow in the packet capture.
struct Shared {
    key: String,
    st: Mutex<State>,
}

struct State {
    session: GwSession,
    /// The tunnel's RDP, written to the trace as its own flow.
    inner_flow: Option<InnerFlow>,
}

impl Shared {
    fn new(key: String) -> Self {
        Shared {
            key,
            st: Mutex::new(State {
                session: GwSession::new(),
                inner_flow: None,
            }),
        }
    }

    /// A panic elsewhere must not poison the session for the relay.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every open gateway session, by `RDG-Connection-Id`.
#[derive(Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, (u64, Arc<Shared>)>>,
    next: AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The link of connection `conn`, whose capture (if any) gets the tunnel's flow.
    pub fn link(self: &Arc<Self>, conn: u64, capture: Option<Arc<ConnCapture>>) -> Link {
        Link {
            registry: self.clone(),
            conn,
            capture,
            shared: None,
        }
    }

    /// The session for `key` (created if new), with `conn` counted as a member.
    fn join(&self, key: Option<&str>, conn: u64) -> Arc<Shared> {
        let Some(key) = key else {
            let t = Arc::new(Shared::new(format!("conn-{conn}")));
            t.lock().session.join();
            return t;
        };
        let order = self.next.fetch_add(1, Ordering::Relaxed);
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let reusable = map
            .get(key)
            .filter(|(_, t)| !t.lock().session.reported)
            .map(|(_, t)| t.clone());
        let t = match reusable {
            Some(t) => t,
            None => {
                if map.len() >= MAX_SESSIONS {
                    if let Some(oldest) =
                        map.iter().min_by_key(|(_, v)| v.0).map(|(k, _)| k.clone())
                    {
                        map.remove(&oldest);
                    }
                }
                let t = Arc::new(Shared::new(key.to_string()));
                map.insert(key.to_string(), (order, t.clone()));
                t
            }
        };
        t.lock().session.join();
        t
    }

    /// Forgets a session once its verdict is written.
    fn remove(&self, t: &Arc<Shared>) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&t.key).is_some_and(|(_, x)| Arc::ptr_eq(x, t)) {
            map.remove(&t.key);
        }
    }
}

/// One connection's way to its gateway session.
pub struct Link {
    registry: Arc<Registry>,
    conn: u64,
    capture: Option<Arc<ConnCapture>>,
    shared: Option<Arc<Shared>>,
}

impl Link {
    fn shared(&mut self, key: Option<&str>) -> Arc<Shared> {
        let (registry, conn) = (&self.registry, self.conn);
        self.shared
            .get_or_insert_with(|| registry.join(key, conn))
            .clone()
    }
}

impl Tunnels for Link {
    fn packet(
        &mut self,
        conn_id: Option<&str>,
        dir: Dir,
        packet: Packet,
        frame: &[u8],
        out: &mut Vec<Decoded>,
    ) {
        let t = self.shared(conn_id);
        let mut st = t.lock();
        if let (Some(cap), Some(payload)) = (&self.capture, Packet::data_payload(frame)) {
            // The tunnel's RDP goes in the trace as its own flow, opened by whichever
            // channel carries the first DATA packet.
            st.inner_flow
                .get_or_insert_with(|| cap.inner_flow())
                .data(dir, payload);
        }
        st.session.tunnel.packet(dir, packet, frame, out);
    }

    fn link(&mut self, conn_id: Option<&str>) {
        self.shared(conn_id);
    }

    fn linked(&self) -> bool {
        self.shared.is_some()
    }

    fn inner_stats(&self) -> [RecordStats; 2] {
        match &self.shared {
            Some(t) => {
                let st = t.lock();
                let inner = st.session.tunnel.inner();
                [inner.tls_stats(Dir::C2S), inner.tls_stats(Dir::S2C)]
            }
            None => Default::default(),
        }
    }

    fn key(&self) -> Option<String> {
        self.shared.as_ref().map(|t| t.key.clone())
    }

    fn depart(&mut self, deposit: Deposit) -> Option<(String, Vec<Deposit>)> {
        let t = self.shared.as_ref()?;
        let members = {
            let mut st = t.lock();
            let members = st.session.depart(deposit)?;
            // The tunnel is over: its flow in the trace ends here.
            st.inner_flow = None;
            members
        };
        self.registry.remove(t);
        Some((t.key.clone(), members))
    }
}
