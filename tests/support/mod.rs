//! Test support: starts and stops the real third-party peers (Xvfb, xrdp, FreeRDP's shadow
//! server, the xfreerdp client) on loopback.
//!
//! Every peer lives in a guard whose `Drop` kills it, so a panicking test still leaves no
//! process behind. Every wait is bounded. Each integration test binary uses only part of
//! this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod capture;
pub mod net;
pub mod proxy;
pub mod run;
pub mod tls10;

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

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

/// Full path of a peer binary. xrdp lives in /usr/sbin, which is not on every user's PATH.
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn bin(name: &str) -> io::Result<PathBuf> {
    find_bin(name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} not found")))
}

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
         xvfb tshark socat haproxy; .ci/run installs them)",
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

/// A spawned process that is killed and reaped when the guard goes away.
struct Guard {
    child: Child,
    name: &'static str,
}

impl Guard {
    fn spawn(name: &'static str, cmd: &mut Command) -> io::Result<Guard> {
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {name}: {e}")))?;
        Ok(Guard { child, name })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kill the process's descendants first (xrdp forks one per connection, and they keep
    /// their sockets open after the client leaves), then the process itself.
    fn stop(&mut self) {
        if self.exited().is_none() {
            for pid in descendants(self.pid()).into_iter().rev() {
                signal(pid, libc::SIGKILL);
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pid {})", self.name, self.child.id())
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) only takes plain integers; a stale pid just yields ESRCH.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Parent pid of a process, from /proc/PID/stat (the field after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every descendant of `root`, parents before their children.
fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &all {
            if ppid == p && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port`.
///
/// Readiness is read from /proc rather than probed with a connect: a probe would make xrdp
/// fork a child for it and makes the shadow server log a failed connection.
fn listening(pid: u32, port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // f[1] local address, f[3] state (0A = LISTEN), f[9] inode
            (f.len() > 9 && f[1] == want && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .any(|link| {
            let l = link.to_string_lossy();
            inodes.iter().any(|i| l == format!("socket:[{i}]"))
        })
}

/// Wait until `guard` listens on the port, or fail if it exits or the time runs out.
fn wait_listening(guard: &mut Guard, port: u16, log: &Path) -> io::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if listening(guard.pid(), port) {
            return Ok(());
        }
        if let Some(status) = guard.exited() {
            return Err(io::Error::other(format!(
                "{} exited ({status}) before listening on 127.0.0.1:{port}; log:\n{}",
                guard.name,
                read_lossy(log)
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}",
                    guard.name
                ),
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

pub fn read_lossy(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn log_file(p: &Path) -> io::Result<(Stdio, Stdio)> {
    let f = fs::File::create(p)?;
    Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
}

// ---------------------------------------------------------------------------------------
// Xvfb

/// A private virtual X display. xfreerdp 2 needs one even for `+auth-only`, and the shadow
/// server shares one.
#[derive(Debug)]
pub struct Xvfb {
    display: u32,
    _dir: TempDir,
    guard: Guard,
}

impl Xvfb {
    /// Start Xvfb on a display number nobody uses. `-displayfd` makes Xvfb pick the number
    /// itself and report it once its socket is up, which avoids races between parallel tests.
    pub fn start() -> io::Result<Xvfb> {
        let dir = TempDir::new("xvfb")?;
        let err_log = dir.path().join("xvfb.log");
        let mut guard = Guard::spawn(
            XVFB,
            Command::new(bin(XVFB)?)
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(fs::File::create(&err_log)?),
        )?;
        let mut stdout = guard.child.stdout.take().expect("piped stdout");
        // Reading blocks, so it happens on a helper thread and the wait stays bounded.
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while let Ok(1) = stdout.read(&mut byte) {
                if byte[0] == b'\n' {
                    break;
                }
                buf.push(byte[0]);
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).trim().to_string());
            // Keep the pipe open so Xvfb never gets SIGPIPE; this ends when Xvfb does.
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        let number = rx
            .recv_timeout(START_TIMEOUT)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "Xvfb did not report a display; log:\n{}",
                    read_lossy(&err_log)
                ))
            })?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let deadline = Instant::now() + START_TIMEOUT;
        while !socket.exists() {
            if guard.exited().is_some() || Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "Xvfb :{number} socket {} never appeared",
                    socket.display()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(Xvfb {
            display: number,
            _dir: dir,
            guard,
        })
    }

    /// The DISPLAY value, e.g. ":3".
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    pub fn number(&self) -> u32 {
        self.display
    }
}

// ---------------------------------------------------------------------------------------
// Certificates

/// A self-signed server certificate and its key, as PEM files (xrdp reads paths) and in
/// memory. The files live as long as this value.
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    _dir: TempDir,
}

impl CertFiles {
    /// Valid now, for `common_name` and the SAN `localhost` plus 127.0.0.1.
    pub fn normal(common_name: &str) -> CertFiles {
        make_cert(common_name, None)
    }

    /// Expired: valid only during 2020.
    pub fn expired(common_name: &str) -> CertFiles {
        make_cert(
            common_name,
            Some((
                rcgen::date_time_ymd(2020, 1, 1),
                rcgen::date_time_ymd(2021, 1, 1),
            )),
        )
    }
}

impl fmt::Debug for CertFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

type Validity = (time::OffsetDateTime, time::OffsetDateTime);

fn make_cert(common_name: &str, validity: Option<Validity>) -> CertFiles {
    // ECDSA P-256: the ring backend cannot generate RSA keys. xrdp's TLS and FreeRDP accept
    // it (xrdp's RDP Security keys come from rsakeys.ini, not from this certificate).
    let key = rcgen::KeyPair::generate().expect("generate key pair");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    if let Some((not_before, not_after)) = validity {
        params.not_before = not_before;
        params.not_after = not_after;
    } else {
        let now = std::time::SystemTime::now();
        params.not_before = (now - Duration::from_secs(24 * 3600)).into();
        params.not_after = (now + Duration::from_secs(30 * 24 * 3600)).into();
    }
    let cert = params.self_signed(&key).expect("self-sign certificate");
    let dir = TempDir::new("cert").expect("temp dir for certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let cert_pem = cert.pem();
    let key_pem = key.serialize_pem();
    fs::write(&cert_path, &cert_pem).expect("write cert.pem");
    fs::write(&key_path, &key_pem).expect("write key.pem");
    CertFiles {
        cert: cert_path,
        key: key_path,
        cert_pem,
        key_pem,
        cert_der: cert.der().to_vec(),
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------
// xrdp

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
    guard: Guard,
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

// ---------------------------------------------------------------------------------------
// FreeRDP shadow server (the NLA peer: xrdp never offers NLA)

#[derive(Debug)]
pub struct Shadow {
    port: u16,
    log: PathBuf,
    guard: Guard,
    dir: TempDir,
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

// ---------------------------------------------------------------------------------------
// xfreerdp client

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

// ---------------------------------------------------------------------------------------
// NT hash for the shadow server's SAM file: MD4 of the UTF-16LE password (RFC 1320).
// OpenSSL 3 hides MD4 in its legacy provider, so it is computed here.

pub fn nt_hash(password: &str) -> [u8; 16] {
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    md4(&utf16)
}

/// One MD4 round: its boolean function, additive constant, message-word order and shifts.
type Md4Round = (fn(u32, u32, u32) -> u32, u32, [usize; 16], [u32; 4]);

pub fn md4(input: &[u8]) -> [u8; 16] {
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());

    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for block in msg.chunks_exact(64) {
        let x: Vec<u32> = block
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        // Each round applies its function 16 times, rotating which state word is updated;
        // the word order and shift amounts are the ones RFC 1320 lists.
        let rounds: [Md4Round; 3] = [
            (
                |x, y, z| (x & y) | (!x & z),
                0,
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                [3, 7, 11, 19],
            ),
            (
                |x, y, z| (x & y) | (x & z) | (y & z),
                0x5a82_7999,
                [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15],
                [3, 5, 9, 13],
            ),
            (
                |x, y, z| x ^ y ^ z,
                0x6ed9_eba1,
                [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15],
                [3, 9, 11, 15],
            ),
        ];
        for (func, k, order, shifts) in rounds {
            for (i, &idx) in order.iter().enumerate() {
                let s = shifts[i % 4];
                let step = |w: u32, p: u32, q: u32, r: u32| {
                    w.wrapping_add(func(p, q, r))
                        .wrapping_add(x[idx])
                        .wrapping_add(k)
                        .rotate_left(s)
                };
                match i % 4 {
                    0 => a = step(a, b, c, d),
                    1 => d = step(d, a, b, c),
                    2 => c = step(c, d, a, b),
                    _ => b = step(b, c, d, a),
                }
            }
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
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
