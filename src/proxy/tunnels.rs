//! Gateway sessions shared between the connections that carry them. The two channels
//! of the HTTP transport are two TCP connections, served on whichever worker threads
//! accepted them, so their shared tunnel sits behind a lock here, in the composition,
//! and each connection's tracker reaches it through [`Link`].
//!
//! A session is named by its `RDG-Connection-Id` and the client address its first
//! connection came from. The id is the client's to choose, so a connection from another
//! address that names an open session's id does not join it (it would feed that
//! session's decoder and trace flow, and change its verdict): it starts its own session,
//! and its timeline says so.

use crate::decode::note::Note;
use crate::decode::tls::RecordStats;
use crate::decode::tsgu::packet::Packet;
use crate::decode::Decoded;
use crate::record::capture::{ConnCapture, InnerFlow};
use crate::session::gateway::{Deposit, GwSession};
use crate::session::tracker::Tunnels;
use crate::vocab::Dir;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most gateway sessions tracked at once; beyond it the oldest are forgotten (their
/// connections still get their own verdicts).
const MAX_SESSIONS: usize = 4096;
/// The most open sessions one `RDG-Connection-Id` may name (one per client address);
/// a connection beyond it gets a session no other connection can join.
const MAX_PER_ID: usize = 8;

/// One gateway session and its flow in the packet capture.
struct Shared {
    /// The session's name in verdicts and on the console.
    key: String,
    /// The `RDG-Connection-Id` it is registered under, if any.
    id: Option<String>,
    st: Mutex<State>,
}

struct State {
    session: GwSession,
    /// The tunnel's RDP, written to the trace as its own flow.
    inner_flow: Option<InnerFlow>,
}

impl Shared {
    fn new(key: String, id: Option<String>) -> Self {
        Shared {
            key,
            id,
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

    /// Its verdict is not written yet, so connections may still join.
    fn open(&self) -> bool {
        !self.lock().session.reported
    }
}

/// One registered session: the client address its first connection came from (None
/// where the driver does not know it), and when it was registered.
struct Slot {
    client: Option<IpAddr>,
    order: u64,
    shared: Arc<Shared>,
}

/// The sessions and how many there are.
#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Vec<Slot>>,
    count: usize,
}

impl Sessions {
    /// Forgets the oldest session, to stay within [`MAX_SESSIONS`].
    fn evict_oldest(&mut self) {
        let oldest = self
            .by_id
            .iter()
            .flat_map(|(id, v)| v.iter().map(move |s| (s.order, id)))
            .min()
            .map(|(order, id)| (order, id.clone()));
        if let Some((order, id)) = oldest {
            self.drop_where(&id, |s| s.order == order);
        }
    }

    /// Removes the sessions of `id` that `gone` picks.
    fn drop_where(&mut self, id: &str, gone: impl Fn(&Slot) -> bool) {
        if let Some(v) = self.by_id.get_mut(id) {
            let before = v.len();
            v.retain(|s| !gone(s));
            self.count -= before - v.len();
            if v.is_empty() {
                self.by_id.remove(id);
            }
        }
    }
}

/// Every open gateway session, by `RDG-Connection-Id` and client address.
#[derive(Default)]
pub struct Registry {
    sessions: Mutex<Sessions>,
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

    /// The link of connection `conn` from a client at `client` (None when unknown), whose
    /// capture (if any) gets the tunnel's flow.
    pub fn link(
        self: &Arc<Self>,
        conn: u64,
        client: Option<IpAddr>,
        capture: Option<Arc<ConnCapture>>,
    ) -> Link {
        Link {
            registry: self.clone(),
            conn,
            client,
            capture,
            shared: None,
            note: None,
        }
    }

    /// The session for `id` from `client` (created if new), with `conn` counted as a
    /// member; and the note to record when the id belongs to an open session of another
    /// client address, which this connection then does not join.
    fn join(
        &self,
        id: Option<&str>,
        client: Option<IpAddr>,
        conn: u64,
    ) -> (Arc<Shared>, Option<Note>) {
        let alone = |key: String| {
            let t = Arc::new(Shared::new(key, None));
            t.lock().session.join();
            t
        };
        let Some(id) = id else {
            return (alone(format!("conn-{conn}")), None);
        };
        let order = self.next.fetch_add(1, Ordering::Relaxed);
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let slots = map.by_id.get(id).map(Vec::as_slice).unwrap_or_default();
        if let Some(s) = slots.iter().find(|s| s.client == client && s.shared.open()) {
            let t = s.shared.clone();
            t.lock().session.join();
            return (t, None);
        }
        // Another address's open session with this id: said, never joined.
        let first = slots
            .iter()
            .filter(|s| s.client != client && s.shared.open())
            .min_by_key(|s| s.order)
            .map(|s| s.client);
        let key = match (first, client) {
            (None, _) => id.to_string(),
            (Some(_), Some(ip)) => format!("{id}@{ip}"),
            (Some(_), None) => format!("{id}@conn-{conn}"),
        };
        let note = first.map(|c| Note::GatewayIdReused {
            connection_id: id.to_string(),
            first_client: c.map_or_else(|| "an unknown address".into(), |c| c.to_string()),
            own_key: key.clone(),
        });
        // A reported session with this address's key is over: this one replaces it.
        map.drop_where(id, |s| s.client == client);
        if map.by_id.get(id).is_some_and(|v| v.len() >= MAX_PER_ID) {
            return (alone(key), note);
        }
        if map.count >= MAX_SESSIONS {
            map.evict_oldest();
        }
        let t = Arc::new(Shared::new(key, Some(id.to_string())));
        t.lock().session.join();
        map.by_id.entry(id.to_string()).or_default().push(Slot {
            client,
            order,
            shared: t.clone(),
        });
        map.count += 1;
        (t, note)
    }

    /// Forgets a session once its verdict is written.
    fn remove(&self, t: &Arc<Shared>) {
        let Some(id) = &t.id else { return };
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.drop_where(id, |s| Arc::ptr_eq(&s.shared, t));
    }
}

/// One connection's way to its gateway session.
pub struct Link {
    registry: Arc<Registry>,
    conn: u64,
    client: Option<IpAddr>,
    capture: Option<Arc<ConnCapture>>,
    shared: Option<Arc<Shared>>,
    /// What joining found worth recording, until the tracker takes it.
    note: Option<Note>,
}

impl Link {
    fn shared(&mut self, id: Option<&str>) -> Arc<Shared> {
        if let Some(t) = &self.shared {
            return t.clone();
        }
        let (t, note) = self.registry.join(id, self.client, self.conn);
        self.note = note;
        self.shared = Some(t.clone());
        t
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

    fn inner_cut(&self) -> [Option<(u64, u64)>; 2] {
        match &self.shared {
            Some(t) => {
                let st = t.lock();
                let tls = st.session.tunnel.inner().tls();
                [tls.mid_record(Dir::C2S), tls.mid_record(Dir::S2C)]
            }
            None => [None, None],
        }
    }

    fn key(&self) -> Option<String> {
        self.shared.as_ref().map(|t| t.key.clone())
    }

    fn take_note(&mut self) -> Option<Note> {
        self.note.take()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Timeline;
    use std::time::Duration;

    const ID: &str = "{6c1f2a4e-0000-4000-8000-000000000001}";

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn linked(r: &Arc<Registry>, conn: u64, client: Option<IpAddr>) -> Link {
        let mut l = r.link(conn, client, None);
        l.link(Some(ID));
        l
    }

    fn leave(l: &mut Link, conn: u64) -> Option<(String, Vec<Deposit>)> {
        l.depart(Deposit {
            conn,
            started: Duration::ZERO,
            timeline: Timeline::default(),
            carries: None,
        })
    }

    #[test]
    fn both_channels_from_one_address_share_the_session() {
        let r = Arc::new(Registry::new());
        let mut out = linked(&r, 1, ip("127.0.0.1"));
        let mut inn = linked(&r, 2, ip("127.0.0.1"));
        assert_eq!(out.key().as_deref(), Some(ID));
        assert_eq!(inn.key().as_deref(), Some(ID));
        assert!(out.take_note().is_none() && inn.take_note().is_none());
        assert!(
            leave(&mut out, 1).is_none(),
            "the session waits for its IN channel"
        );
        let (key, members) = leave(&mut inn, 2).expect("the last member reports");
        // The members' timelines come back folded into one record.
        assert_eq!((key.as_str(), members.len()), (ID, 1));
    }

    #[test]
    fn the_id_from_another_address_starts_its_own_session_and_says_so() {
        let r = Arc::new(Registry::new());
        let mut a = linked(&r, 1, ip("127.0.0.1"));
        let mut b = linked(&r, 2, ip("127.0.0.2"));
        let own = format!("{ID}@127.0.0.2");
        assert_eq!(b.key().as_deref(), Some(own.as_str()));
        assert!(a.take_note().is_none());
        match b.take_note() {
            Some(Note::GatewayIdReused {
                connection_id,
                first_client,
                own_key,
            }) => {
                assert_eq!(connection_id, ID);
                assert_eq!(first_client, "127.0.0.1");
                assert_eq!(own_key, own);
            }
            other => panic!("{other:?}"),
        }
        assert!(b.take_note().is_none(), "said once");
        // The second address's own second channel pairs with its own session.
        let mut b2 = linked(&r, 3, ip("127.0.0.2"));
        assert_eq!(b2.key().as_deref(), Some(own.as_str()));
        assert!(b2.take_note().is_none());
        // Each session reports alone, with its own members.
        let (k, m) = leave(&mut a, 1).expect("a alone");
        assert_eq!((k.as_str(), m.len()), (ID, 1));
        assert!(leave(&mut b, 2).is_none());
        let (k, m) = leave(&mut b2, 3).expect("b and b2, folded into one record");
        assert_eq!((k, m.len()), (own, 1));
        assert_eq!(r.sessions.lock().unwrap().count, 0);
    }

    #[test]
    fn a_finished_session_leaves_its_id_free() {
        let r = Arc::new(Registry::new());
        let mut a = linked(&r, 1, ip("127.0.0.1"));
        leave(&mut a, 1).expect("reported");
        let mut b = linked(&r, 2, ip("127.0.0.2"));
        assert_eq!(b.key().as_deref(), Some(ID));
        assert!(b.take_note().is_none());
    }

    #[test]
    fn one_id_names_a_bounded_number_of_sessions() {
        let r = Arc::new(Registry::new());
        let links: Vec<Link> = (0..MAX_PER_ID as u64 + 4)
            .map(|i| linked(&r, i + 1, ip(&format!("127.0.1.{i}"))))
            .collect();
        assert_eq!(r.sessions.lock().unwrap().count, MAX_PER_ID);
        assert!(links.iter().all(|l| l.linked()));
    }
}
