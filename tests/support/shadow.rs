//! FreeRDP's shadow server on loopback, the NLA peer: xrdp never offers NLA.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::ntlm::nt_hash;
use super::process::{bin, log_file, wait_listening, Guard};
use super::{free_port, hex, loopback, read_lossy, TempDir, SHADOW};

/// freerdp-shadow-cli listening on 127.0.0.1:`port()`. The fields are crate-visible because
/// `capture::peers` starts shadow servers with other options and signals them.
#[derive(Debug)]
pub struct Shadow {
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
    pub(crate) guard: Guard,
    pub(crate) dir: TempDir,
}

impl Shadow {
    /// NLA-only (`/sec:nla`) shadow server whose SAM file knows `user` / `pass`.
    pub fn start(user: &str, pass: &str, display: &str) -> io::Result<Shadow> {
        Shadow::start_sec(user, pass, display, "nla")
    }

    /// `sec`: nla | tls | rdp | ext (the server's `/sec:` option).
    pub fn start_sec(user: &str, pass: &str, display: &str, sec: &str) -> io::Result<Shadow> {
        let dir = TempDir::new("shadow")?;
        let sam = dir.path().join("sam");
        fs::write(&sam, format!("{user}:::{}:::\n", hex(&nt_hash(pass))))?;
        let mut last_err = None;
        for attempt in 0..3 {
            let port = free_port();
            let log = dir.path().join(format!("shadow-{attempt}.log"));
            let (o, e) = log_file(&log)?;
            let mut guard = Guard::spawn(
                SHADOW,
                Command::new(bin(SHADOW)?)
                    .arg("/bind-address:127.0.0.1")
                    .arg(format!("/port:{port}"))
                    .arg(format!("/sec:{sec}"))
                    .arg(format!("/sam-file:{}", sam.display()))
                    .env("DISPLAY", display)
                    .env("HOME", dir.path())
                    .current_dir(dir.path())
                    .stdin(Stdio::null())
                    .stdout(o)
                    .stderr(e),
            )?;
            match wait_listening(&mut guard, port, &log) {
                Ok(()) => {
                    return Ok(Shadow {
                        port,
                        log,
                        guard,
                        dir,
                    })
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("freerdp-shadow-cli did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    /// The server's combined stdout/stderr (a wrong password shows SEC_E_MESSAGE_ALTERED).
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }
}
