//! xrdp on loopback, started from a rewritten copy of the system's xrdp.ini.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::certs::CertFiles;
use super::process::{bin, descendants, log_file, signal, wait_listening, Guard};
use super::{free_port, loopback, read_lossy, TempDir, XRDP};

/// xrdp's `security_layer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityLayer {
    Negotiate,
    Tls,
    Rdp,
}

impl SecurityLayer {
    fn as_str(self) -> &'static str {
        match self {
            SecurityLayer::Negotiate => "negotiate",
            SecurityLayer::Tls => "tls",
            SecurityLayer::Rdp => "rdp",
        }
    }
}

/// Settings rewritten into xrdp's ini. `cert`/`key` default to a fresh normal certificate.
#[derive(Clone, Debug)]
pub struct XrdpOpts {
    pub security_layer: SecurityLayer,
    /// e.g. "TLSv1.2" or "TLSv1.2, TLSv1.3" (xrdp's default).
    pub ssl_protocols: String,
    /// low | medium | high | fips. With `SecurityLayer::Rdp` only "fips" works against
    /// FreeRDP 2.11 (its RC4 path fails with a MAC error).
    pub crypt_level: String,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Default for XrdpOpts {
    fn default() -> Self {
        XrdpOpts {
            security_layer: SecurityLayer::Negotiate,
            ssl_protocols: "TLSv1.2, TLSv1.3".to_string(),
            crypt_level: "high".to_string(),
            cert: None,
            key: None,
        }
    }
}

impl XrdpOpts {
    pub fn security_layer(mut self, s: SecurityLayer) -> Self {
        self.security_layer = s;
        self
    }
    pub fn ssl_protocols(mut self, p: &str) -> Self {
        self.ssl_protocols = p.to_string();
        self
    }
    pub fn crypt_level(mut self, c: &str) -> Self {
        self.crypt_level = c.to_string();
        self
    }
    pub fn cert(mut self, c: &CertFiles) -> Self {
        self.cert = Some(c.cert.clone());
        self.key = Some(c.key.clone());
        self
    }
}

/// xrdp listening on 127.0.0.1:`port()`, with its own ini, log and working directory.
///
/// `+auth-only` clients do not need xrdp's session manager (sesman, fixed port 3350), so
/// many instances can run at once. xrdp listens with a backlog of 2: pace concurrent
/// connects to one instance.
#[derive(Debug)]
pub struct Xrdp {
    port: u16,
    log: PathBuf,
    /// Crate-visible so `capture::peers` can reach the per-connection children.
    pub(crate) guard: Guard,
    _cert: Option<CertFiles>,
    dir: TempDir,
}

impl Xrdp {
    pub fn start(opts: &XrdpOpts) -> io::Result<Xrdp> {
        let template = fs::read_to_string("/etc/xrdp/xrdp.ini")?;
        let dir = TempDir::new("xrdp")?;
        let (own_cert, cert, key) = match (&opts.cert, &opts.key) {
            (Some(c), Some(k)) => (None, c.clone(), k.clone()),
            _ => {
                let c = CertFiles::normal("rdptap-test-host");
                let (cp, kp) = (c.cert.clone(), c.key.clone());
                (Some(c), cp, kp)
            }
        };
        // A free port can be taken between the probe and xrdp's bind; retry a few times.
        let mut last_err = None;
        for attempt in 0..3 {
            let port = free_port();
            let log = dir.path().join(format!("xrdp-{attempt}.log"));
            let out = dir.path().join(format!("xrdp-{attempt}.out"));
            let ini = dir.path().join(format!("xrdp-{attempt}.ini"));
            fs::write(&ini, xrdp_ini(&template, port, opts, &cert, &key, &log))?;
            let (o, e) = log_file(&out)?;
            let mut guard = Guard::spawn(
                XRDP,
                Command::new(bin(XRDP)?)
                    .arg("--nodaemon")
                    .arg("--config")
                    .arg(&ini)
                    .current_dir(dir.path())
                    .stdin(Stdio::null())
                    .stdout(o)
                    .stderr(e),
            )?;
            match wait_listening(&mut guard, port, &out) {
                Ok(()) => {
                    return Ok(Xrdp {
                        port,
                        log,
                        guard,
                        _cert: own_cert,
                        dir,
                    });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("xrdp did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// xrdp's own log file (LogFile=), for assertions and failure messages.
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kill the per-connection children, keeping the listener. Useful between clients
    /// because the children of finished connections linger in CLOSE-WAIT.
    pub fn reap_connections(&self) {
        for pid in descendants(self.guard.pid()).into_iter().rev() {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Rewrite only [Globals] and [Logging]: session sections further down also have `port=`
/// lines that mean something else.
fn xrdp_ini(
    template: &str,
    port: u16,
    o: &XrdpOpts,
    cert: &Path,
    key: &Path,
    log: &Path,
) -> String {
    let mut section = String::new();
    let mut out = String::with_capacity(template.len() + 256);
    for line in template.lines() {
        if line.starts_with('[') {
            section = line.trim().to_string();
        }
        let key_of = line.split('=').next().unwrap_or("");
        let replaced = match (section.as_str(), key_of) {
            ("[Globals]", "port") => Some(format!("port=tcp://127.0.0.1:{port}")),
            ("[Globals]", "security_layer") => {
                Some(format!("security_layer={}", o.security_layer.as_str()))
            }
            ("[Globals]", "ssl_protocols") => Some(format!("ssl_protocols={}", o.ssl_protocols)),
            ("[Globals]", "crypt_level") => Some(format!("crypt_level={}", o.crypt_level)),
            ("[Globals]", "certificate") => Some(format!("certificate={}", cert.display())),
            ("[Globals]", "key_file") => Some(format!("key_file={}", key.display())),
            ("[Logging]", "LogFile") => Some(format!("LogFile={}", log.display())),
            ("[Logging]", "EnableSyslog") => Some("EnableSyslog=false".to_string()),
            _ => None,
        };
        out.push_str(replaced.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}
