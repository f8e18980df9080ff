//! Connection workers: a few threads, each with its own single-threaded runtime, and
//! every accepted connection kept on one of them for its whole life.
//!
//! On a work-stealing runtime a connection's reads, its TLS and its writes hop between
//! threads, and every hop is a cross-thread wake-up (a futex and an eventfd write). A
//! relay does little work per wake-up, so those hops cost a measurable share of both
//! throughput and connection setup. Keeping each connection on one thread removes
//! them; different connections still spread over the cores, round-robin.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};

/// One unit of work handed to a worker: builds its future on the worker's runtime.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The worker threads and what is running on them.
pub struct Workers {
    queues: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
    live: Arc<Live>,
}

/// How many jobs are running, and a wake-up when that drops to zero.
#[derive(Default)]
struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Decrements the live count when a job ends, however it ends (a panic included).
struct LiveGuard(Arc<Live>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Workers {
    /// Starts `n` worker threads (at least one) named `name-0`, `name-1`, ….
    pub fn start(name: &str, n: usize) -> io::Result<Workers> {
        let mut queues = Vec::new();
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        while let Some(job) = rx.recv().await {
                            tokio::spawn(job());
                        }
                    });
                })?;
            queues.push(tx);
        }
        Ok(Workers {
            queues,
            next: AtomicUsize::new(0),
            live: Arc::new(Live::default()),
        })
    }

    /// As many workers as the machine has cores.
    pub fn per_core(name: &str) -> io::Result<Workers> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        Workers::start(name, n)
    }

    /// How many worker threads there are.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Always false: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Runs the future that `make` builds on the next worker, round-robin. `make` runs
    /// on the worker, so sockets it registers belong to that worker's runtime (pass a
    /// `std::net::TcpStream` in and convert it there). Returns false if the worker has
    /// gone (its thread panicked).
    pub fn spawn<F, Fut>(&self, make: F) -> bool
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        self.live.count.fetch_add(1, Ordering::AcqRel);
        let guard = LiveGuard(self.live.clone());
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _guard = guard;
                make().await;
            })
        });
        // A job that cannot be queued is dropped here, and its guard with it.
        self.queues[i].send(job).is_ok()
    }

    /// Accepts on `listener` from every worker, and runs each connection on the worker
    /// that accepted it: no hand-over between threads, and a busy worker leaves new
    /// connections to an idle one. `handler` gets the socket and the peer's address
    /// and returns the connection's future, or None to drop it. Accepting stops when
    /// `stop` turns true or its sender is dropped.
    pub fn listen<H, Fut>(
        &self,
        listener: std::net::TcpListener,
        stop: watch::Receiver<bool>,
        handler: H,
    ) -> io::Result<()>
    where
        H: Fn(TcpStream, SocketAddr) -> Option<Fut> + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        listener.set_nonblocking(true)?;
        let handler = Arc::new(handler);
        for q in &self.queues {
            let own = listener.try_clone()?;
            let handler = handler.clone();
            let live = self.live.clone();
            let mut stop = stop.clone();
            let job: Job = Box::new(move || {
                Box::pin(async move {
                    let l = match TcpListener::from_std(own) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("cannot accept on this worker: {e}");
                            return;
                        }
                    };
                    loop {
                        let accepted = tokio::select! {
                            biased;
                            r = stop.changed() => {
                                if r.is_err() || *stop.borrow() {
                                    return;
                                }
                                continue;
                            }
                            a = l.accept() => a,
                        };
                        match accepted {
                            Ok((tcp, peer)) => {
                                if let Some(fut) = handler(tcp, peer) {
                                    live.count.fetch_add(1, Ordering::AcqRel);
                                    let guard = LiveGuard(live.clone());
                                    tokio::spawn(async move {
                                        let _guard = guard;
                                        fut.await;
                                    });
                                }
                            }
                            // Out of descriptors and the like: wait rather than spin.
                            Err(e) => {
                                tracing::error!("accept failed: {e}");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                })
            });
            if q.send(job).is_err() {
                return Err(io::Error::other("a connection thread has stopped"));
            }
        }
        Ok(())
    }

    /// How many spawned futures have not finished.
    pub fn running(&self) -> usize {
        self.live.count.load(Ordering::Acquire)
    }

    /// Waits until every spawned future has finished, or `limit` has passed; true if
    /// they all finished.
    pub async fn idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.live.idle.notified();
                tokio::pin!(notified);
                // Registered before the check, so a finish in between is not missed.
                notified.as_mut().enable();
                if self.running() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[tokio::test]
    async fn jobs_run_on_the_workers_round_robin() {
        let w = Workers::start("test-worker", 2).unwrap();
        assert_eq!(w.len(), 2);
        let seen = Arc::new(Mutex::new(HashSet::new()));
        for _ in 0..4 {
            let seen = seen.clone();
            assert!(w.spawn(move || async move {
                let name = std::thread::current().name().unwrap_or("").to_string();
                seen.lock().unwrap().insert(name);
            }));
        }
        assert!(w.idle(Duration::from_secs(5)).await);
        let seen = seen.lock().unwrap();
        assert!(seen.contains("test-worker-0") && seen.contains("test-worker-1"));
        assert_eq!(seen.len(), 2);
    }

    #[tokio::test]
    async fn idle_waits_for_running_jobs_and_gives_up_at_the_limit() {
        let w = Workers::start("test-idle", 1).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        w.spawn(move || async move {
            let _ = rx.await;
        });
        assert_eq!(w.running(), 1);
        assert!(!w.idle(Duration::from_millis(50)).await);
        tx.send(()).unwrap();
        assert!(w.idle(Duration::from_secs(5)).await);
        assert_eq!(w.running(), 0);
    }

    #[tokio::test]
    async fn sockets_made_on_a_worker_work_there() {
        let w = Workers::start("test-io", 1).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        w.spawn(move || async move {
            use tokio::io::AsyncReadExt;
            listener.set_nonblocking(true).unwrap();
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            let _ = tx.send(b);
        });
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut c, b"hello")
            .await
            .unwrap();
        assert_eq!(&rx.await.unwrap(), b"hello");
    }

    #[tokio::test]
    async fn every_worker_accepts_and_keeps_its_connections() {
        let w = Workers::start("test-listen", 2).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        w.listen(listener, stop, move |mut s, _peer| {
            let tx = tx.clone();
            let accepted_on = std::thread::current().name().map(str::to_string);
            Some(async move {
                use tokio::io::AsyncReadExt;
                let mut b = [0u8; 1];
                let _ = s.read_exact(&mut b).await;
                let ran_on = std::thread::current().name().map(str::to_string);
                let _ = tx.send((b[0], accepted_on, ran_on));
            })
        })
        .unwrap();
        let mut got = Vec::new();
        for i in 0..20u8 {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut c, &[i])
                .await
                .unwrap();
            got.push(rx.recv().await.unwrap());
        }
        for (i, (b, accepted_on, ran_on)) in got.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert!(accepted_on.as_deref().unwrap().starts_with("test-listen-"));
            assert_eq!(accepted_on, ran_on);
        }
        assert!(w.idle(Duration::from_secs(5)).await);
        // Once stopped, nobody accepts any more.
        stop_tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(mut c) = tokio::net::TcpStream::connect(addr).await {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut c, &[99]).await;
        }
        let late = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
        // Either nothing came, or every accept loop has ended and dropped its handler.
        assert!(
            !matches!(late, Ok(Some(_))),
            "a connection was accepted after the stop"
        );
    }

    #[tokio::test]
    async fn a_panicking_job_still_counts_as_finished() {
        let w = Workers::start("test-panic", 1).unwrap();
        w.spawn(|| async { panic!("deliberate") });
        assert!(w.idle(Duration::from_secs(5)).await);
    }
}
