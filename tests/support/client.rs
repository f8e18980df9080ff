//! The xfreerdp client, run once with a time bound and a private HOME.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::Path;
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
    xfreerdp_trusting(args, display, timeout, &[])
}

/// Like [`xfreerdp`], with the CA certificates (PEM files) in `trusted` trusted by the
/// client: FreeRDP 2 verifies a server's certificate with OpenSSL against the system
/// store and its own `certs` directory (hashed names, as `openssl rehash` makes), so
/// each CA goes there. With `/cert:deny` the client then accepts exactly the
/// certificates that verify and match the name it dialled.
pub fn xfreerdp_trusting<S: AsRef<OsStr>>(
    args: &[S],
    display: &str,
    timeout: Duration,
    trusted: &[&Path],
) -> ClientOutput {
    let home = TempDir::new("xfreerdp").expect("temp dir for xfreerdp");
    if let Err(e) = trust_in(&home.path().join(".config/freerdp/certs"), trusted) {
        return ClientOutput {
            code: None,
            timed_out: false,
            log: format!("cannot set up the client's trusted CAs: {e}"),
            elapsed: Duration::ZERO,
        };
    }
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

/// Writes each PEM certificate in `cas` into `dir` under its OpenSSL subject hash.
fn trust_in(dir: &Path, cas: &[&Path]) -> std::io::Result<()> {
    if cas.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    for ca in cas {
        let out = Command::new("openssl")
            .args(["x509", "-hash", "-noout", "-in"])
            .arg(ca)
            .output()?;
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || hash.is_empty() {
            return Err(std::io::Error::other(format!(
                "openssl x509 -hash failed for {}",
                ca.display()
            )));
        }
        // Two CAs can share a hash; OpenSSL then tries .0, .1, ...
        let free = (0..10)
            .map(|i| dir.join(format!("{hash}.{i}")))
            .find(|p| !p.exists())
            .ok_or_else(|| std::io::Error::other("too many CAs with one hash"))?;
        std::fs::copy(ca, free)?;
    }
    Ok(())
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
