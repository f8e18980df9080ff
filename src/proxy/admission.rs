//! `--max-connections`: how many connections rdptap relays at once. Beyond the limit a
//! new connection is closed at once, and the refusals are said (an event of connection
//! 0 and a console line) at most once a second, so a flood of them cannot flood the
//! outputs too.

use crate::record::Recorder;
use crate::session::event::{Body, EventLine};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How often refusals are said, at most.
const SAY_EVERY: Duration = Duration::from_secs(1);

/// Counts open connections against the limit, and the refusals.
pub struct Admission {
    limit: usize,
    open: AtomicUsize,
    refusals: Mutex<Refusals>,
    recorder: Recorder,
}

/// Refusals not yet said, and when they last were.
#[derive(Default)]
struct Refusals {
    unsaid: u64,
    total: u64,
    last_client: String,
    said_at: Option<Instant>,
}

/// One admitted connection's place; the place frees when it is dropped.
pub struct Slot(Arc<Admission>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// Admits at most `limit` connections at once, saying refusals to `recorder`.
    pub fn new(limit: usize, recorder: Recorder) -> Arc<Admission> {
        Arc::new(Admission {
            limit,
            open: AtomicUsize::new(0),
            refusals: Mutex::new(Refusals::default()),
            recorder,
        })
    }

    /// A place for a new connection from `peer`, or None (the refusal counted and, if
    /// none was said in the last second, said) when `limit` are open.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Slot> {
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            return Some(Slot(self.clone()));
        }
        let mut r = self.lock();
        r.unsaid += 1;
        r.total += 1;
        r.last_client = peer.to_string();
        if r.said_at.is_none_or(|t| t.elapsed() >= SAY_EVERY) {
            self.say(&mut r);
        }
        None
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Says the refusals not said yet (at the end of the run).
    pub fn finish(&self) {
        let mut r = self.lock();
        if r.unsaid > 0 {
            self.say(&mut r);
        }
    }

    fn say(&self, r: &mut Refusals) {
        tracing::warn!(
            "refused {} new connection{} (the last from {}): {} are open, the --max-connections limit; raise it if these are real clients",
            r.unsaid,
            if r.unsaid == 1 { "" } else { "s" },
            r.last_client,
            self.limit
        );
        self.recorder.event(EventLine::run(
            time::OffsetDateTime::now_utc(),
            Body::ConnectionsRefused {
                refused: r.unsaid,
                total: r.total,
                limit: self.limit as u64,
                client: r.last_client.clone(),
            },
        ));
        r.unsaid = 0;
        r.said_at = Some(Instant::now());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Refusals> {
        self.refusals.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SinkMsg;

    #[test]
    fn the_limit_admits_refuses_and_frees_places_and_says_refusals_once_a_second() {
        let (rec, mut rx) = Recorder::channel(64);
        let a = Admission::new(2, rec);
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let one = a.admit(peer).expect("first");
        let two = a.admit(peer).expect("second");
        assert_eq!(a.open(), 2);
        for _ in 0..5 {
            assert!(a.admit(peer).is_none());
        }
        drop(one);
        let three = a.admit(peer).expect("a freed place");
        a.finish();
        drop((two, three));
        assert_eq!(a.open(), 0);
        let mut said = Vec::new();
        while let Some(SinkMsg::Event(e)) = rx.try_recv() {
            said.push(e.event.body);
        }
        // The first refusal at once; the four in the same second at the end.
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(matches!(
            said[0],
            Body::ConnectionsRefused {
                refused: 1,
                total: 1,
                limit: 2,
                ..
            }
        ));
        assert!(matches!(
            said[1],
            Body::ConnectionsRefused {
                refused: 4,
                total: 5,
                ..
            }
        ));
    }
}
