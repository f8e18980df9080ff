//! What reaches the terminal: `-q` leaves only verdicts and errors (checked with a real
//! client and server), and colour appears only when the stream is a terminal (checked
//! on a pseudo-terminal) and `NO_COLOR` is not set.

mod support;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::net::closed_port;
use support::{
    auth_only_args, free_port, loopback, peers_available, xfreerdp, SecurityLayer, TempDir, Xrdp,
    XrdpOpts, Xvfb, CLIENT_TIMEOUT, PASS, XFREERDP, XRDP, XVFB,
};

const WAIT: Duration = Duration::from_secs(20);

/// Waits (bounded) for `child` to exit; kills it on timeout.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until rdptap has written its first event line: it listens from then on.
fn wait_started(events: &Path) {
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(events).is_ok_and(|t| t.contains("proxy_started")) {
        assert!(Instant::now() < deadline, "rdptap did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a console line is part of a verdict: its first line, its hint or a warning.
fn verdict_line(l: &str) -> bool {
    l.starts_with("[conn ")
        || l.starts_with("[gateway session ")
        || l.starts_with("    hint: ")
        || l.starts_with("    warning: ")
}

#[test]
fn quiet_prints_the_verdict_and_nothing_else() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let dir = TempDir::new("quiet").expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let stderr = dir.path().join("stderr.txt");
    let listen = loopback(free_port());
    let mut rdptap = Command::new(env!("CARGO_BIN_EXE_rdptap"))
        .args(["-q", "proxy", "--target", &xrdp.addr().to_string()])
        .args(["--listen", &listen.to_string(), "--once", "--linger", "1s"])
        .arg("--events")
        .arg(&events)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .env_remove("RUST_LOG")
        .spawn()
        .expect("start rdptap");
    wait_started(&events);
    let out = xfreerdp(
        &auth_only_args(listen, PASS, &["/sec:tls"]),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(out.success(), "{}", out.log);
    let code = wait_exit(&mut rdptap, WAIT);
    let console = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert_eq!(code, Some(0), "{console}");
    let lines: Vec<&str> = console.lines().collect();
    assert!(lines[0].starts_with("[conn 1] ok at "), "{console}");
    assert!(lines.iter().all(|l| verdict_line(l)), "{console}");
    // The same run without -q says much more: the banner, the events, the summary.
    assert!(!console.contains("listening") && !console.contains("stopped"));
    assert!(!console.contains("INFO"), "{console}");
}

/// A pseudo-terminal: the master to read, and the slave for the child's stderr.
fn pty() -> (std::fs::File, OwnedFd) {
    // SAFETY: plain libc calls on descriptors we own; every result is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0, "grantpt");
        assert_eq!(libc::unlockpt(master), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open the pty slave");
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}

/// Connects (retrying while rdptap starts) and closes at once.
fn poke(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "rdptap never listened on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One `--once` run against a closed port with stderr on a terminal (or a file), with
/// or without `NO_COLOR`; returns what reached stderr.
fn console_of(terminal: bool, no_color: bool) -> String {
    let dir = TempDir::new("colour").expect("temp dir");
    let listen = loopback(free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rdptap"));
    cmd.args(["proxy", "--target", &format!("127.0.0.1:{}", closed_port())])
        .args(["--listen", &listen.to_string(), "--once"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let file = dir.path().join("stderr.txt");
    let mut master = None;
    if terminal {
        let (m, slave) = pty();
        cmd.stderr(Stdio::from(slave));
        master = Some(m);
    } else {
        cmd.stderr(std::fs::File::create(&file).expect("stderr file"));
    }
    let mut child = cmd.spawn().expect("start rdptap");
    // The command holds the slave's only other copy: dropping it lets the master see
    // the end once rdptap exits.
    drop(cmd);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = master.map(|mut m| {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave descriptor is closed.
            while let Ok(n) = m.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    });
    poke(listen);
    assert_eq!(
        wait_exit(&mut child, WAIT),
        Some(1),
        "upstream_refused exits 1"
    );
    if let Some(r) = reader {
        r.join().expect("pty reader");
        let bytes = seen.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        std::fs::read_to_string(&file).unwrap_or_default()
    }
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let tty = console_of(true, false);
    assert!(
        tty.contains("\x1b[1;31mupstream_refused\x1b[0m at tcp_connect"),
        "{tty:?}"
    );
    let plain = console_of(true, true);
    assert!(
        plain.contains("upstream_refused at tcp_connect"),
        "{plain:?}"
    );
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    let file = console_of(false, false);
    assert!(file.contains("upstream_refused at tcp_connect"), "{file:?}");
    assert!(!file.contains('\x1b'), "not a terminal: {file:?}");
}
