//! Test support: starts and stops the real third-party peers (Xvfb, xrdp, FreeRDP's shadow
//! server, the xfreerdp client) on loopback.
//!
//! Every peer lives in a guard whose `Drop` kills it, so a panicking test still leaves no
//! process behind. Every wait is bounded. Each integration test binary uses only part of
//! this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod capture;
pub mod gw_client;
pub mod lab_gateway;
pub mod mirror;
pub mod net;
pub mod proxy;
pub mod run;
pub mod tcpdump;
pub mod tls10;
pub mod tshark;

mod certs;
mod client;
mod ntlm;
mod process;
mod shadow;
mod xrdp;
mod xvfb;

// The tests' paths (`support::Xrdp`, ...) stay flat. Like the items themselves, some
// re-exports go unused in a given test binary, and `dead_code` does not cover imports.
#[allow(unused_imports)]
pub use self::{
    certs::{CertFiles, TestCa},
    client::{auth_only_args, xfreerdp, xfreerdp_trusting, ClientOutput},
    ntlm::{md4, nt_hash},
    process::find_bin,
    shadow::Shadow,
    xrdp::{SecurityLayer, Xrdp, XrdpOpts},
    xvfb::Xvfb,
};

// Harness internals, for `capture::peers`, which drives the same processes mid-session.
pub(crate) use process::{bin, descendants, log_file, signal, wait_listening, Guard};

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long a server gets to start listening before the start counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Default bound for one xfreerdp run. About 1.5 s of each run is the client's own start-up.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

pub const XVFB: &str = "Xvfb";
pub const XRDP: &str = "xrdp";
pub const XFREERDP: &str = "xfreerdp";
pub const SHADOW: &str = "freerdp-shadow-cli";
pub const TSHARK: &str = "tshark";
pub const SOCAT: &str = "socat";
pub const HAPROXY: &str = "haproxy";

/// Test user known to the shadow server's SAM file. Throwaway credentials.
pub const USER: &str = "labuser";
pub const PASS: &str = "labpass";

// ---------------------------------------------------------------------------------------
// Peer discovery

/// Whether this run is CI, where a missing peer must fail the test instead of skipping it.
pub fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

/// True when every named peer binary is installed. Otherwise the test should return early:
/// outside CI this prints a skip notice; under CI it panics, so a broken runner image can
/// never turn the peer tests into silent passes.
///
/// ```ignore
/// if !support::peers_available(&[support::XVFB, support::XRDP, support::XFREERDP]) { return; }
/// ```
pub fn peers_available(names: &[&str]) -> bool {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| find_bin(n).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "peer binaries missing: {} (Debian packages: xrdp freerdp2-x11 freerdp2-shadow-x11 \
         xvfb tshark socat haproxy chromium; .ci/run installs them)",
        missing.join(", ")
    );
    if in_ci() {
        panic!("CI is set, refusing to skip: {msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

// ---------------------------------------------------------------------------------------
// Small utilities

/// A loopback port that was free a moment ago: bind 127.0.0.1:0 and let the kernel choose.
/// Another process can take it before the caller binds it, so servers started here retry
/// with a fresh port when they fail to listen.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// A private directory removed on Drop (unless `RDPTAP_KEEP_TEST_DIRS` is set, to read logs).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("rdptap-{tag}-{}-{n}-{nanos:x}", std::process::id()));
        fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("RDPTAP_KEEP_TEST_DIRS").is_some() {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Fixtures

/// `tests/data/NAME.c2s.bin` and `NAME.s2c.bin` (see tests/data/README.md).
pub fn fixture(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let read = |dir_suffix: &str| {
        let p = dir.join(format!("{name}.{dir_suffix}.bin"));
        fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
    };
    (read("c2s"), read("s2c"))
}
