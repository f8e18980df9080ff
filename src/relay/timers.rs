//! The timers both pumps share: linger after the other direction closed, the idle
//! timeout, and how read errors are classified.

use crate::vocab::EndKind;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
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
    /// Milliseconds since `started` of the last byte either way.
    last_activity: Arc<AtomicU64>,
}

impl Timers {
    /// A fresh clock for a connection accepted at `started`.
    pub fn new(started: Instant, linger: Duration, idle: Option<Duration>) -> Self {
        Timers {
            started,
            linger,
            idle,
            last_activity: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes moved just now.
    pub fn touch(&self) {
        self.last_activity
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When to check the timers next, if any applies.
    pub fn deadline(&self, sibling_closed: bool) -> Option<Instant> {
        let limit = if sibling_closed {
            Some(self.linger)
        } else {
            self.idle
        }?;
        let last = Duration::from_millis(self.last_activity.load(Ordering::Relaxed));
        Some((self.started + last + limit).max(Instant::now() + Duration::from_millis(10)))
    }

    /// How the direction ends, if a timer ran out.
    pub fn expired(&self, sibling_closed: bool) -> Option<EndKind> {
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
