//! The xfreerdp client, run once with a time bound and a private HOME.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{bin, log_file, Guard};
use super::{read_lossy, TempDir, USER, XFREERDP};

/// Result of one bounded xfreerdp run.
#[derive(Debug)]
pub struct ClientOutput {
    /// Exit code; None when killed (for instance on timeout).
    pub code: Option<i32>,
    pub timed_out: bool,
    /// stdout and stderr, interleaved as written.
    pub log: String,
    pub elapsed: Duration,
}

impl ClientOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Run `xfreerdp ARGS` on `display`, killed after `timeout`. HOME points at a private
/// directory so the run neither reads nor writes the user's FreeRDP configuration.
///
/// ```ignore
/// let out = support::xfreerdp(&[&format!("/v:{addr}"), "/u:labuser", "/p:labpass",
///     "/cert:ignore", "+auth-only", "/sec:tls"], &x.display(), support::CLIENT_TIMEOUT);
/// ```
pub fn xfreerdp<S: AsRef<OsStr>>(args: &[S], display: &str, timeout: Duration) -> ClientOutput {
    let home = TempDir::new("xfreerdp").expect("temp dir for xfreerdp");
    let log_path = home.path().join("client.log");
    let start = Instant::now();
    let spawned = log_file(&log_path).and_then(|(o, e)| {
        Guard::spawn(
            XFREERDP,
            Command::new(bin(XFREERDP)?)
                .args(args)
                .env("DISPLAY", display)
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", home.path().join(".config"))
                .current_dir(home.path())
                .stdin(Stdio::null())
                .stdout(o)
                .stderr(e),
        )
    });
    let mut guard = match spawned {
        Ok(g) => g,
        Err(e) => {
            return ClientOutput {
                code: None,
                timed_out: false,
                log: format!("spawn failed: {e}"),
                elapsed: start.elapsed(),
            }
        }
    };
    let deadline = start + timeout;
    let (code, timed_out) = loop {
        if let Some(status) = guard.exited() {
            break (status.code(), false);
        }
        if Instant::now() >= deadline {
            guard.stop();
            break (None, true);
        }
        thread::sleep(Duration::from_millis(20));
    };
    drop(guard);
    ClientOutput {
        code,
        timed_out,
        log: read_lossy(&log_path),
        elapsed: start.elapsed(),
    }
}

/// The usual `+auth-only` arguments for labuser against `addr`, plus `extra`.
pub fn auth_only_args(addr: SocketAddr, pass: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        format!("/v:{addr}"),
        format!("/u:{USER}"),
        format!("/p:{pass}"),
        "/cert:ignore".to_string(),
        "+auth-only".to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}
