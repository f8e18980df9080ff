//! Waiting for the signal to stop.

/// Ctrl-C everywhere; SIGTERM too on Unix, so service managers stop rdptap cleanly.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A flag that turns true on Ctrl-C or SIGTERM, for work that runs without an async
/// runtime of its own (`analyze` reads a file in a plain loop and checks the flag between
/// records). A small thread waits for the signal; the flag is its only output.
pub fn stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let waiter = std::thread::Builder::new()
        .name("rdptap-signal".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(shutdown_signal());
                set.store(true, Ordering::Relaxed);
            }
        });
    // Without the thread, Ctrl-C keeps its default meaning: the process ends at once.
    drop(waiter);
    flag
}
