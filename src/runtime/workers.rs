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
    inner: Arc<Inner>,
}

/// What the workers share with the accept loops running on them.
struct Inner {
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

impl Inner {
    /// `fut`, counted as running until it ends.
    fn counted<Fut: Future<Output = ()>>(&self, fut: Fut) -> impl Future<Output = ()> {
        self.live.count.fetch_add(1, Ordering::AcqRel);
        let guard = LiveGuard(self.live.clone());
        async move {
            let _guard = guard;
            fut.await;
        }
    }

    /// Queues the future `make` builds on the next worker, counted.
    fn spawn<F, Fut>(&self, make: F) -> bool
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        let run = self.counted(async move { make().await });
        // A job that cannot be queued is dropped here, and its count with it.
        self.queues[i].send(Box::new(move || Box::pin(run))).is_ok()
    }
}

/// Which workers accept on a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acceptors {
    /// Every worker, on its own copy of the socket; a connection stays where it was
    /// accepted.
    Each,
    /// The first worker only, which hands each connection on, round-robin.
    One,
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
            inner: Arc::new(Inner {
                queues,
                next: AtomicUsize::new(0),
                live: Arc::new(Live::default()),
            }),
        })
    }

    /// As many workers as the machine has cores.
    pub fn per_core(name: &str) -> io::Result<Workers> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        Workers::start(name, n)
    }

    /// How many worker threads there are.
    pub fn len(&self) -> usize {
        self.inner.queues.len()
    }

    /// Always false: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        self.inner.queues.is_empty()
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
        self.inner.spawn(make)
    }

    /// Accepts on `listener` and runs each connection on a worker. `handler` gets the
    /// socket and the peer's address and returns the connection's future, or None to
    /// drop it. Accepting stops when `stop` turns true or its sender is dropped.
    ///
    /// On Unix every worker accepts on its own copy of the socket and keeps what it
    /// accepted: no hand-over between threads, and a busy worker leaves new connections
    /// to an idle one. Elsewhere one socket registered with several pollers is not
    /// dependable, so the first worker accepts and hands connections on.
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
        let acceptors = if cfg!(unix) {
            Acceptors::Each
        } else {
            Acceptors::One
        };
        self.listen_with(listener, stop, handler, acceptors)
    }

    fn listen_with<H, Fut>(
        &self,
        listener: std::net::TcpListener,
        stop: watch::Receiver<bool>,
        handler: H,
        acceptors: Acceptors,
    ) -> io::Result<()>
    where
        H: Fn(TcpStream, SocketAddr) -> Option<Fut> + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        listener.set_nonblocking(true)?;
        let handler = Arc::new(handler);
        let n = match acceptors {
            Acceptors::Each => self.len(),
            Acceptors::One => 1,
        };
        for q in &self.inner.queues[..n] {
            let own = listener.try_clone()?;
            let accept = accept_loop(
                own,
                stop.clone(),
                handler.clone(),
                self.inner.clone(),
                acceptors,
            );
            if q.send(Box::new(move || Box::pin(accept))).is_err() {
                return Err(io::Error::other("a connection thread has stopped"));
            }
        }
        Ok(())
    }

    /// How many spawned futures have not finished.
    pub fn running(&self) -> usize {
        self.inner.live.count.load(Ordering::Acquire)
    }

    /// Waits until every spawned future has finished, or `limit` has passed; true if
    /// they all finished.
    pub async fn idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.inner.live.idle.notified();
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

/// One worker's accept loop (it runs on that worker).
async fn accept_loop<H, Fut>(
    own: std::net::TcpListener,
    mut stop: watch::Receiver<bool>,
    handler: Arc<H>,
    inner: Arc<Inner>,
    acceptors: Acceptors,
) where
    H: Fn(TcpStream, SocketAddr) -> Option<Fut> + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
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
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            // Out of descriptors and the like: wait rather than spin.
            Err(e) => {
                tracing::error!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if acceptors == Acceptors::Each || inner.queues.len() == 1 {
            if let Some(fut) = handler(tcp, peer) {
                tokio::spawn(inner.counted(fut));
            }
            continue;
        }
        // The socket leaves this runtime and is registered again on its worker.
        let tcp = match tcp.into_std() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("cannot hand a connection to a worker: {e}");
                continue;
            }
        };
        let handler = handler.clone();
        inner.spawn(move || async move {
            match TcpStream::from_std(tcp) {
                Ok(tcp) => {
                    if let Some(fut) = handler(tcp, peer) {
                        fut.await;
                    }
                }
                Err(e) => tracing::error!("cannot register a connection: {e}"),
            }
        });
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
    async fn one_acceptor_hands_connections_to_every_worker() {
        let w = Workers::start("test-hand", 2).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (_stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = mpsc::unbounded_channel();
        w.listen_with(
            listener,
            stop,
            move |mut s, _peer| {
                let tx = tx.clone();
                let handled_on = std::thread::current().name().map(str::to_string);
                Some(async move {
                    use tokio::io::AsyncReadExt;
                    let mut b = [0u8; 1];
                    let _ = s.read_exact(&mut b).await;
                    let ran_on = std::thread::current().name().map(str::to_string);
                    let _ = tx.send((b[0], handled_on, ran_on));
                })
            },
            Acceptors::One,
        )
        .unwrap();
        let mut threads = HashSet::new();
        for i in 0..6u8 {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut c, &[i])
                .await
                .unwrap();
            let (b, handled_on, ran_on) = rx.recv().await.unwrap();
            assert_eq!(b, i);
            // The socket was registered on the worker that runs the connection.
            assert_eq!(handled_on, ran_on);
            threads.insert(ran_on.unwrap());
        }
        assert_eq!(threads.len(), 2, "{threads:?}");
        assert!(w.idle(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_panicking_job_still_counts_as_finished() {
        let w = Workers::start("test-panic", 1).unwrap();
        w.spawn(|| async { panic!("deliberate") });
        assert!(w.idle(Duration::from_secs(5)).await);
    }
}
