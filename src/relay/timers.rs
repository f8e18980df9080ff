//! The timers both pumps share: linger after the other direction closed, the idle
//! timeout, the first-byte deadline, and how read errors are classified. Reads and
//! writes race the same deadlines (see [`race`]), so a peer that stops reading holds a
//! connection no longer than one that stops sending.

use crate::vocab::EndKind;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One connection's clock, shared by its two directions.
#[derive(Debug, Clone)]
pub struct Timers {
    /// When the connection was accepted.
    pub started: Instant,
    /// Linger after the other direction ended.
    pub linger: Duration,
    /// Idle timeout, if any.
    pub idle: Option<Duration>,
    /// How long the client may stay silent after connecting, if limited.
    pub first_byte: Option<Duration>,
    /// Milliseconds since `started` of the last byte either way.
    last_activity: Arc<AtomicU64>,
    /// The client has sent a byte.
    spoke: Arc<AtomicBool>,
}

impl Timers {
    /// A fresh clock for a connection accepted at `started`.
    pub fn new(started: Instant, linger: Duration, idle: Option<Duration>) -> Self {
        Timers {
            started,
            linger,
            idle,
            first_byte: None,
            last_activity: Arc::new(AtomicU64::new(0)),
            spoke: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same clock with a first-byte deadline: until the client sends its first
    /// byte, both directions end `first_byte` after the accept.
    pub fn with_first_byte(mut self, first_byte: Option<Duration>) -> Self {
        self.first_byte = first_byte;
        self
    }

    /// Bytes moved just now.
    pub fn touch(&self) {
        self.last_activity
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The client sent bytes: the first-byte deadline no longer applies.
    pub fn client_spoke(&self) {
        self.spoke.store(true, Ordering::Relaxed);
    }

    /// The first-byte deadline, while it applies.
    fn first_byte_at(&self) -> Option<Instant> {
        let limit = self.first_byte?;
        (!self.spoke.load(Ordering::Relaxed)).then(|| self.started + limit)
    }

    /// When to check the timers next, if any applies.
    pub fn deadline(&self, sibling_closed: bool) -> Option<Instant> {
        let limit = if sibling_closed {
            Some(self.linger)
        } else {
            self.idle
        };
        let last = Duration::from_millis(self.last_activity.load(Ordering::Relaxed));
        let quiet = limit.map(|l| self.started + last + l);
        let at = match (quiet, self.first_byte_at()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(at.max(Instant::now() + Duration::from_millis(10)))
    }

    /// How the direction ends, if a timer ran out. Past the first-byte deadline both
    /// directions end for that reason, whichever ends first (the other then sees its
    /// sibling closed).
    pub fn expired(&self, sibling_closed: bool) -> Option<EndKind> {
        if self.first_byte_at().is_some_and(|at| Instant::now() >= at) {
            return Some(EndKind::FirstByteTimeout);
        }
        let last = Duration::from_millis(self.last_activity.load(Ordering::Relaxed));
        let idle = self.started.elapsed().saturating_sub(last);
        if sibling_closed {
            (idle >= self.linger).then_some(EndKind::Linger)
        } else {
            self.idle
                .is_some_and(|d| idle >= d)
                .then_some(EndKind::IdleTimeout)
        }
    }
}

/// What a pump tells its sibling (the opposite direction) when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sibling {
    /// Still relaying.
    Open,
    /// Ended in an orderly way: the sibling keeps going until its own end or the linger.
    Closed,
    /// Ended by a reset or a failed write: the sibling must stop now.
    Aborted,
}

/// What can end a pump while it waits, whether for bytes to read or for room to write.
pub struct Stops<'a> {
    /// The connection's timers.
    pub timers: &'a Timers,
    /// rdptap is stopping.
    pub shutdown: &'a mut watch::Receiver<bool>,
    /// How the other direction stands.
    pub sibling: &'a mut watch::Receiver<Sibling>,
    /// The other direction has ended in order (so the linger applies).
    pub sibling_closed: &'a mut bool,
}

/// Runs `work` until it completes, or until rdptap stops, the other direction aborts,
/// or a timer runs out: then how the direction ends.
pub async fn race<T>(s: Stops<'_>, work: impl Future<Output = T>) -> Result<T, EndKind> {
    tokio::pin!(work);
    loop {
        let deadline = s.timers.deadline(*s.sibling_closed);
        tokio::select! {
            biased;
            _ = s.shutdown.changed() => return Err(EndKind::Shutdown),
            changed = s.sibling.changed(), if !*s.sibling_closed => {
                match (changed, *s.sibling.borrow()) {
                    (Err(_), _) | (Ok(()), Sibling::Closed) => *s.sibling_closed = true,
                    (Ok(()), Sibling::Aborted) => return Err(EndKind::Aborted),
                    (Ok(()), Sibling::Open) => {}
                }
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() => {
                if let Some(k) = s.timers.expired(*s.sibling_closed) {
                    return Err(k);
                }
            }
            done = &mut work => return Ok(done),
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
pub async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// True for errors that mean the peer reset the connection.
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// How a failed read ends its direction.
pub fn read_error(e: io::Error) -> EndKind {
    if is_reset(&e) {
        EndKind::Rst
    } else {
        EndKind::Error {
            error: e.to_string(),
        }
    }
}

/// How a failed write ends its direction.
pub fn write_error(e: &io::Error) -> EndKind {
    EndKind::WriteFailed {
        reset: is_reset(e),
        error: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn the_first_byte_deadline_ends_a_silent_client_unless_a_shorter_timer_does() {
        let t = Timers::new(Instant::now(), 500 * MS, None).with_first_byte(Some(60 * MS));
        assert_eq!(t.expired(false), None);
        tokio::time::sleep(60 * MS).await;
        assert_eq!(t.expired(false), Some(EndKind::FirstByteTimeout));
        assert_eq!(t.expired(true), Some(EndKind::FirstByteTimeout));
        // Once the client spoke, silence is only idleness, and there is no idle limit.
        t.client_spoke();
        assert_eq!(t.expired(false), None);
        assert_eq!(t.deadline(false), None);

        let t =
            Timers::new(Instant::now(), 500 * MS, Some(30 * MS)).with_first_byte(Some(10_000 * MS));
        tokio::time::sleep(30 * MS).await;
        assert_eq!(t.expired(false), Some(EndKind::IdleTimeout));
        assert!(t.deadline(true).is_some());
    }

    #[tokio::test]
    async fn a_write_that_never_completes_ends_at_the_timers() {
        let t = Timers::new(Instant::now(), 20 * MS, Some(40 * MS));
        let (_stop_tx, mut stop) = watch::channel(false);
        let (sib_tx, mut sib) = watch::channel(Sibling::Open);
        let mut closed = false;
        let never = std::future::pending::<()>;
        let r = race(
            Stops {
                timers: &t,
                shutdown: &mut stop,
                sibling: &mut sib,
                sibling_closed: &mut closed,
            },
            never(),
        )
        .await;
        assert_eq!(r, Err(EndKind::IdleTimeout));
        // With the other side closed in order, the linger applies instead.
        sib_tx.send(Sibling::Closed).unwrap();
        let r = race(
            Stops {
                timers: &t,
                shutdown: &mut stop,
                sibling: &mut sib,
                sibling_closed: &mut closed,
            },
            never(),
        )
        .await;
        assert_eq!(r, Err(EndKind::Linger));
        assert!(closed);
        let r = race(
            Stops {
                timers: &t,
                shutdown: &mut stop,
                sibling: &mut sib,
                sibling_closed: &mut closed,
            },
            async { 7 },
        )
        .await;
        assert_eq!(r, Ok(7));
    }
}
