//! Runs the `rdptap` binary under test and reads back its JSON Lines events.

use serde_json::Value;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `rdptap proxy`, stopped (SIGTERM, then SIGKILL) on Drop.
pub struct Proxy {
    child: Option<Child>,
    /// The address rdptap listens on.
    pub addr: SocketAddr,
    /// The events file.
    pub events: PathBuf,
    stderr: PathBuf,
    _dir: super::TempDir,
}

impl Proxy {
    /// Start `rdptap proxy --target TARGET --listen 127.0.0.1:FREE --events FILE --linger 1s`
    /// plus `extra` arguments, and wait until it listens.
    pub fn start(target: &str, extra: &[&str]) -> Proxy {
        Proxy::start_with(&["--target", target], extra)
    }

    /// Like [`Proxy::start`], in RD Gateway mode: `--gateway GW`.
    pub fn start_gateway(gateway: &str, extra: &[&str]) -> Proxy {
        Proxy::start_with(&["--gateway", gateway], extra)
    }

    fn start_with(mode: &[&str], extra: &[&str]) -> Proxy {
        let dir = super::TempDir::new("proxy").expect("temp dir");
        let port = super::free_port();
        let addr = super::loopback(port);
        let events = dir.path().join("events.jsonl");
        let stderr = dir.path().join("stderr.txt");
        let mut args: Vec<String> = vec!["proxy".into()];
        args.extend(mode.iter().map(|s| s.to_string()));
        args.extend::<Vec<String>>(vec![
            "--listen".into(),
            addr.to_string(),
            "--events".into(),
            events.display().to_string(),
            "--linger".into(),
            "1s".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_rdptap"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .env("NO_COLOR", "1")
            .spawn()
            .expect("start rdptap");
        let p = Proxy {
            child: Some(child),
            addr,
            events,
            stderr,
            _dir: dir,
        };
        // Readiness comes from the start-up banner, not a probe connection, which would
        // count as a connection of its own (and use up --once).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.stderr_text().contains("rdptap listening on") {
            assert!(
                Instant::now() < deadline,
                "rdptap did not listen: {}",
                p.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// Every event written so far.
    pub fn events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.events).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every verdict written so far, in order.
    pub fn verdicts(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["kind"] == "verdict")
            .collect()
    }

    /// Wait until at least `n` verdicts are written; panics with the console on timeout.
    pub fn wait_verdicts(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.verdicts();
            if v.len() >= n {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} verdicts after {timeout:?}; console:\n{}",
                v.len(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first connection's verdict.
    pub fn first_verdict(&self, timeout: Duration) -> Value {
        self.wait_verdicts(1, timeout)[0].clone()
    }

    /// Events of one connection.
    pub fn events_of(&self, conn: u64) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["conn"] == conn)
            .collect()
    }

    /// What rdptap printed on stderr.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait (bounded) for rdptap to exit by itself, as it does with `--once`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kill with SIGKILL, as a crash or an OOM killer would, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop with SIGTERM and wait (bounded); returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        #[cfg(unix)]
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run `rdptap` with `args` to completion (bounded); returns status and stderr.
pub fn run_rdptap(args: &[&str], timeout: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdptap"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("start rdptap");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut err);
    }
    (status, err)
}
