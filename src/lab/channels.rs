//! Pairing the two channels of the HTTP transport: an OUT channel and an IN channel that
//! name the same `RDG-Connection-Id` form one tunnel.
//!
//! Clients open OUT first and IN once OUT is authenticated, but nothing requires that
//! order, so whichever arrives first waits for the other, for a bounded time. An IN
//! channel left waiting is dropped (and its connection closed) when the time is up, so a
//! client that never sends the other half cannot pile up connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long one channel waits for the other by default.
pub const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// The most tunnels that may wait for their other channel at once.
pub const MAX_WAITING: usize = 256;

enum Slot<T> {
    /// An OUT channel waits for its IN half.
    OutWaiting(oneshot::Sender<T>),
    /// An IN half waits for its OUT channel.
    InWaiting(T, u64),
}

/// Why a channel could not be paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairError {
    /// The other channel did not arrive in time.
    TimedOut(Duration),
    /// Another channel of the same kind already waits under this id.
    Duplicate,
    /// Too many channels wait already.
    Full,
}

impl std::fmt::Display for PairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PairError::TimedOut(d) => write!(
                f,
                "the other channel with this RDG-Connection-Id did not arrive within {}s",
                d.as_secs()
            ),
            PairError::Duplicate => {
                f.write_str("another channel of the same kind already uses this RDG-Connection-Id")
            }
            PairError::Full => write!(f, "{MAX_WAITING} channels already wait for their pair"),
        }
    }
}

/// The waiting channels by connection id. Cloning shares the registry.
pub struct Registry<T> {
    inner: Arc<Mutex<Inner<T>>>,
    timeout: Duration,
}

struct Inner<T> {
    slots: HashMap<String, Slot<T>>,
    next_ticket: u64,
}

impl<T> Clone for Registry<T> {
    fn clone(&self) -> Self {
        Registry {
            inner: Arc::clone(&self.inner),
            timeout: self.timeout,
        }
    }
}

impl<T: Send + 'static> Registry<T> {
    /// An empty registry where channels wait up to `timeout`.
    pub fn new(timeout: Duration) -> Registry<T> {
        Registry {
            inner: Arc::new(Mutex::new(Inner {
                slots: HashMap::new(),
                next_ticket: 0,
            })),
            timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Each operation is one map change; a poisoned lock leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The OUT channel `id` waits for its IN half.
    pub async fn out_wait(&self, id: &str) -> Result<T, PairError> {
        let rx = {
            let mut inner = self.lock();
            match inner.slots.remove(id) {
                Some(Slot::InWaiting(half, _)) => return Ok(half),
                Some(other @ Slot::OutWaiting(_)) => {
                    inner.slots.insert(id.to_string(), other);
                    return Err(PairError::Duplicate);
                }
                None => {}
            }
            if inner.slots.len() >= MAX_WAITING {
                return Err(PairError::Full);
            }
            let (tx, rx) = oneshot::channel();
            inner.slots.insert(id.to_string(), Slot::OutWaiting(tx));
            rx
        };
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(half)) => Ok(half),
            _ => {
                let mut inner = self.lock();
                if matches!(inner.slots.get(id), Some(Slot::OutWaiting(_))) {
                    inner.slots.remove(id);
                }
                Err(PairError::TimedOut(self.timeout))
            }
        }
    }

    /// The IN half `half` of tunnel `id` arrives: handed to its waiting OUT channel, or
    /// kept until that comes (and dropped after the timeout).
    pub fn in_arrive(&self, id: &str, half: T) -> Result<(), PairError> {
        let ticket = {
            let mut inner = self.lock();
            match inner.slots.remove(id) {
                Some(Slot::OutWaiting(tx)) => {
                    // A receiver gone at this instant timed out; the half is dropped
                    // with the closed send, which closes its connection.
                    let _ = tx.send(half);
                    return Ok(());
                }
                Some(other @ Slot::InWaiting(..)) => {
                    inner.slots.insert(id.to_string(), other);
                    return Err(PairError::Duplicate);
                }
                None => {}
            }
            if inner.slots.len() >= MAX_WAITING {
                return Err(PairError::Full);
            }
            inner.next_ticket += 1;
            let ticket = inner.next_ticket;
            inner
                .slots
                .insert(id.to_string(), Slot::InWaiting(half, ticket));
            ticket
        };
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(me.timeout).await;
            let mut inner = me.lock();
            if matches!(inner.slots.get(&id), Some(Slot::InWaiting(_, t)) if *t == ticket) {
                inner.slots.remove(&id);
                tracing::info!(
                    "IN channel {id} dropped: no OUT channel with that RDG-Connection-Id within {}s",
                    me.timeout.as_secs()
                );
            }
        });
        Ok(())
    }

    /// How many channels wait.
    pub fn waiting(&self) -> usize {
        self.lock().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn out_first_then_in() {
        let r: Registry<u32> = Registry::new(Duration::from_secs(5));
        let r2 = r.clone();
        let waiter = tokio::spawn(async move { r2.out_wait("{a}").await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        r.in_arrive("{a}", 7).unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(7));
        assert_eq!(r.waiting(), 0);
    }

    #[tokio::test]
    async fn in_first_then_out() {
        let r: Registry<u32> = Registry::new(Duration::from_secs(5));
        r.in_arrive("{b}", 9).unwrap();
        assert_eq!(r.in_arrive("{b}", 10), Err(PairError::Duplicate));
        assert_eq!(r.out_wait("{b}").await, Ok(9));
        assert_eq!(r.waiting(), 0);
    }

    #[tokio::test]
    async fn waits_are_bounded() {
        let t = Duration::from_millis(100);
        let r: Registry<u32> = Registry::new(t);
        assert_eq!(r.out_wait("{c}").await, Err(PairError::TimedOut(t)));
        assert_eq!(r.waiting(), 0);
        r.in_arrive("{d}", 1).unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(r.waiting(), 0);
    }
}
