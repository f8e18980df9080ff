//! The `rdptap` command line as a user meets it: help, start-up errors and their exit
//! status, the config file, the banner, `--once`, SIGTERM and the events file.

mod support;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use support::net::{accept_within, closed_port, connect, listener, read_to_eof, wait_for};
use support::proxy::{run_rdptap, Proxy};
use support::{free_port, TempDir};

const T: Duration = Duration::from_secs(10);

/// `rdptap` started with exactly the given arguments (unlike `Proxy::start`, which adds
/// its own --target, --listen, --events and --linger). Killed on Drop.
struct Rdptap {
    child: Option<Child>,
    stderr: PathBuf,
    _dir: TempDir,
}

impl Rdptap {
    /// Start and wait for the start-up banner's last line, `last_line` (a prefix).
    fn start(args: &[&str], last_line: &str) -> Rdptap {
        let dir = TempDir::new("cli").expect("temp dir");
        let stderr = dir.path().join("stderr.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_rdptap"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .env("NO_COLOR", "1")
            .spawn()
            .expect("start rdptap");
        let mut r = Rdptap {
            child: Some(child),
            stderr,
            _dir: dir,
        };
        let ready = wait_for(T, || r.stderr_text().contains(last_line).then_some(()));
        if ready.is_none() {
            let status = r.wait_exit(Duration::ZERO);
            panic!(
                "no '{last_line}' in the banner (exit {status:?}):\n{}",
                r.stderr_text()
            );
        }
        r
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait (bounded) for the process to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let st = wait_for(timeout, || child.try_wait().ok().flatten());
        if st.is_some() {
            self.child = None;
        }
        st
    }
}

impl Drop for Rdptap {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

fn lines_as_json(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("events file");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}")))
        .collect()
}

fn verdicts_in(path: &Path) -> Vec<Value> {
    lines_as_json(path)
        .into_iter()
        .filter(|e| e["kind"] == "verdict")
        .collect()
}

// ---------------------------------------------------------------------------------------
// Help

#[test]
fn help_shows_examples() {
    for args in [&["--help"][..], &["proxy", "--help"][..]] {
        let (code, out) = run_rdptap(args, T);
        assert_eq!(code, Some(0), "{args:?}: {out}");
        assert!(out.contains("Examples"), "{args:?}: {out}");
    }
    let (_, out) = run_rdptap(&["proxy", "--help"], T);
    assert!(out.contains("mstsc /v:localhost:13389"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Start-up errors: status 2 and a message that names what to fix

#[test]
fn unknown_config_key_is_named_with_its_file() {
    let dir = TempDir::new("cli-cfg").unwrap();
    let cfg = write_file(
        dir.path(),
        "rdptap.toml",
        "target = \"127.0.0.1:3389\"\ntagret = \"rdp-host\"\n",
    );
    let (code, err) = run_rdptap(&["proxy", "--config", cfg.to_str().unwrap()], T);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tagret"), "{err}");
    assert!(err.contains(&cfg.display().to_string()), "{err}");
}

#[test]
fn bad_listen_address_is_named() {
    let (code, err) = run_rdptap(
        &[
            "proxy",
            "--target",
            "127.0.0.1:3389",
            "--listen",
            "not-an-address",
        ],
        T,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not-an-address"), "{err}");
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn listen_port_in_use_is_reported() {
    let (_held, addr) = listener();
    let (code, err) = run_rdptap(
        &[
            "proxy",
            "--target",
            "127.0.0.1:3389",
            "--listen",
            &addr.to_string(),
        ],
        T,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains(&addr.to_string()), "{err}");
}

#[test]
fn the_port_suggested_for_a_taken_one_is_free() {
    // Hold a port and, where they can be had, the two after it: the suggestion must
    // skip every one of them and name a port that binds.
    let (_held, addr) = listener();
    let next: Vec<std::net::TcpListener> = (1..=2)
        .filter_map(|i| std::net::TcpListener::bind((addr.ip(), addr.port().checked_add(i)?)).ok())
        .collect();
    let (code, err) = run_rdptap(
        &[
            "proxy",
            "--target",
            "127.0.0.1:3389",
            "--listen",
            &addr.to_string(),
        ],
        T,
    );
    assert_eq!(code, Some(2), "{err}");
    let suggested = err
        .split("--listen ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no --listen ADDR suggested: {err}"));
    assert_ne!(suggested, addr, "{err}");
    for l in &next {
        assert_ne!(suggested, l.local_addr().unwrap(), "{err}");
    }
    assert_eq!(suggested.ip(), addr.ip());
    drop(std::net::TcpListener::bind(suggested).expect("the suggested port is free"));
}

#[test]
fn remote_listen_needs_allow_remote() {
    let listen = format!("0.0.0.0:{}", free_port());
    let (code, err) = run_rdptap(
        &["proxy", "--target", "127.0.0.1:3389", "--listen", &listen],
        T,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--allow-remote"), "{err}");
}

#[test]
fn missing_target_is_an_error() {
    let listen = format!("127.0.0.1:{}", free_port());
    let (code, err) = run_rdptap(&["proxy", "--listen", &listen], T);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--target"), "{err}");
}

#[test]
fn events_file_in_a_missing_directory_is_named() {
    let dir = TempDir::new("cli-events").unwrap();
    let events = dir.path().join("no-such-dir").join("e.jsonl");
    let listen = format!("127.0.0.1:{}", free_port());
    let (code, err) = run_rdptap(
        &[
            "proxy",
            "--target",
            "127.0.0.1:3389",
            "--listen",
            &listen,
            "--events",
            events.to_str().unwrap(),
        ],
        T,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&events.display().to_string()), "{err}");
}

// ---------------------------------------------------------------------------------------
// Config file and banner

#[test]
fn config_file_applies_and_flags_override_it() {
    let (l, server_addr) = listener();
    let dir = TempDir::new("cli-cfg").unwrap();
    let events = dir.path().join("from-file.jsonl");
    let file_listen = format!("127.0.0.1:{}", free_port());
    let flag_listen = format!("127.0.0.1:{}", free_port());
    let cfg = write_file(
        dir.path(),
        "rdptap.toml",
        &format!(
            "target = \"{server_addr}\"\nlisten = \"{file_listen}\"\nlinger = \"30s\"\nevents = \"{}\"\n",
            events.display()
        ),
    );
    let r = Rdptap::start(
        &[
            "proxy",
            "--config",
            cfg.to_str().unwrap(),
            "--listen",
            &flag_listen,
            "--linger",
            "1s",
        ],
        "  events:",
    );
    let banner = r.stderr_text();
    assert!(
        banner.contains(&format!(
            "rdptap listening on {flag_listen}, relaying to {server_addr}"
        )),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("events: {} (truncated)", events.display())),
        "{banner}"
    );

    // The target comes from the file: the connection reaches this test's server.
    let c = connect(flag_listen.parse().unwrap(), T);
    let _s = accept_within(&l, T).expect("rdptap dialled the target from the file");
    let closed = Instant::now();
    drop(c);
    // The linger comes from the flag (1 s), not the file (30 s).
    let v = wait_for(Duration::from_secs(5), || {
        verdicts_in(&events).first().cloned()
    })
    .unwrap_or_else(|| panic!("no verdict within 5 s:\n{}", r.stderr_text()));
    assert!(closed.elapsed() <= Duration::from_millis(2500), "{v:#}");
    assert_eq!(v["server"]["close_kind"], "timeout", "{v:#}");
}

#[test]
fn banner_shows_client_commands_and_the_localhost_note() {
    let dir = TempDir::new("cli-banner").unwrap();
    let events = dir.path().join("e.jsonl");
    let events = events.to_str().unwrap();
    let dial = format!("127.0.0.1:{}", closed_port());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // --connect gives the address to dial, so the unresolvable name is never looked up.
    let r = Rdptap::start(
        &[
            "proxy",
            "--target",
            "rdp.example.invalid",
            "--connect",
            &dial,
            "--listen",
            &listen,
            "--events",
            events,
        ],
        "  events:",
    );
    let b = r.stderr_text();
    assert!(b.contains(&format!("mstsc /v:localhost:{port}")), "{b}");
    assert!(b.contains(&format!("xfreerdp /v:127.0.0.1:{port}")), "{b}");
    assert!(b.contains("relaying to rdp.example.invalid:3389"), "{b}");
    assert!(b.contains("TERMSRV/localhost"), "{b}");
    assert!(b.contains("keep the real name rdp.example.invalid"), "{b}");
    drop(r);

    // A loopback target has no name to lose: no note.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let r = Rdptap::start(
        &[
            "proxy", "--target", &dial, "--listen", &listen, "--events", events,
        ],
        "  events:",
    );
    let b = r.stderr_text();
    assert!(b.contains(&format!("mstsc /v:localhost:{port}")), "{b}");
    assert!(!b.contains("TERMSRV/localhost"), "{b}");
}

// ---------------------------------------------------------------------------------------
// --once

/// Start `rdptap proxy --once` towards `target`, run `client` against it, and return the
/// exit status (it must exit by itself) and the events.
fn run_once(target: &str, client: impl FnOnce(std::net::SocketAddr)) -> (ExitStatus, Vec<Value>) {
    let dir = TempDir::new("cli-once").unwrap();
    let events = dir.path().join("e.jsonl");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut r = Rdptap::start(
        &[
            "proxy",
            "--target",
            target,
            "--listen",
            &listen,
            "--events",
            events.to_str().unwrap(),
            "--once",
        ],
        "  events:",
    );
    client(listen.parse().unwrap());
    let status = r
        .wait_exit(T)
        .unwrap_or_else(|| panic!("--once did not exit:\n{}", r.stderr_text()));
    (status, lines_as_json(&events))
}

#[test]
fn once_exits_with_1_after_a_refused_upstream() {
    let target = format!("127.0.0.1:{}", closed_port());
    let (status, events) = run_once(&target, |addr| {
        let mut c = connect(addr, T);
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).unwrap(), 0);
    });
    assert_eq!(status.code(), Some(1));
    let v: Vec<&Value> = events.iter().filter(|e| e["kind"] == "verdict").collect();
    assert_eq!(v.len(), 1, "{events:#?}");
    assert_eq!(v[0]["cause"], "upstream_refused");
}

#[test]
fn once_exits_with_1_after_a_protocol_mismatch() {
    let (l, server_addr) = listener();
    let server = thread::spawn(move || {
        let mut s = accept_within(&l, T).expect("rdptap connected upstream");
        s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let _ = read_to_eof(&mut s);
    });
    let (status, events) = run_once(&server_addr.to_string(), |addr| {
        let mut c = connect(addr, T);
        let got = read_to_eof(&mut c).expect("reply");
        assert!(got.starts_with(b"HTTP/1.1 400"));
    });
    server.join().unwrap();
    assert_eq!(status.code(), Some(1));
    let v: Vec<&Value> = events.iter().filter(|e| e["kind"] == "verdict").collect();
    assert_eq!(v.len(), 1, "{events:#?}");
    assert_eq!(v[0]["cause"], "protocol_mismatch");
}

// ---------------------------------------------------------------------------------------
// SIGTERM

#[test]
fn sigterm_writes_the_open_connections_verdict_and_exits_0() {
    let (l, server_addr) = listener();
    let mut proxy = Proxy::start(&server_addr.to_string(), &[]);
    let mut c = connect(proxy.addr, T);
    let mut s = accept_within(&l, T).expect("rdptap connected upstream");
    wait_for(T, || {
        proxy
            .events()
            .iter()
            .any(|e| e["kind"] == "upstream_connected")
            .then_some(())
    })
    .expect("upstream_connected event");

    let status = proxy.stop().expect("exit status");
    assert_eq!(status.code(), Some(0), "{}", proxy.stderr_text());

    let text = std::fs::read_to_string(&proxy.events).unwrap();
    assert!(text.ends_with('\n'), "last line is incomplete: {text}");
    let events = lines_as_json(&proxy.events);
    let last = events.last().expect("events");
    assert_eq!(last["kind"], "verdict", "{last:#}");
    assert_eq!(last["cause"], "proxy_shutdown", "{last:#}");
    assert_eq!(last["close_kind"], "shutdown", "{last:#}");
    assert!(
        proxy.stderr_text().contains("connections seen")
            || proxy.stderr_text().contains("connection seen"),
        "{}",
        proxy.stderr_text()
    );
    // Both peers were let go.
    let mut buf = [0u8; 8];
    assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
    s.set_read_timeout(Some(T)).unwrap();
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

// ---------------------------------------------------------------------------------------
// The events file

#[cfg(unix)]
#[test]
fn events_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let proxy = Proxy::start(&format!("127.0.0.1:{}", closed_port()), &[]);
    let mode = std::fs::metadata(&proxy.events)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
}

#[test]
fn an_events_path_that_is_a_planted_symlink_is_refused() {
    let dir = TempDir::new("cli-link").unwrap();
    let victim = write_file(dir.path(), "victim", "precious");
    let link = dir.path().join("events.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let l = link.display().to_string();
    for append in [false, true] {
        let mut args = vec![
            "proxy",
            "--target",
            "127.0.0.1:3389",
            "--listen",
            &listen,
            "--events",
            &l,
        ];
        if append {
            args.push("--events-append");
        }
        let (code, err) = run_rdptap(&args, T);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("symbolic link") && err.contains(&l), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}

#[test]
fn a_duration_without_a_unit_asks_for_one() {
    let listen = format!("127.0.0.1:{}", free_port());
    for (flag, key) in [
        ("--linger", "--linger"),
        ("--connect-timeout", "--connect-timeout"),
        ("--idle-timeout", "--idle-timeout"),
    ] {
        let (code, err) = run_rdptap(
            &[
                "proxy",
                "--target",
                "127.0.0.1",
                "--listen",
                &listen,
                flag,
                "5",
            ],
            T,
        );
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(key), "{err}");
        assert!(err.contains("has no unit") && err.contains("5s"), "{err}");
    }
    // In the config file too, named with the file.
    let dir = TempDir::new("cli-dur").unwrap();
    let cfg = write_file(dir.path(), "r.toml", "target = \"h\"\nlinger = \"30\"\n");
    let (code, err) = run_rdptap(&["proxy", "--config", cfg.to_str().unwrap()], T);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("linger") && err.contains("r.toml"), "{err}");
    assert!(err.contains("30s"), "{err}");
}

#[test]
fn events_file_is_truncated_by_default() {
    let dir = TempDir::new("cli-events").unwrap();
    let events = write_file(dir.path(), "e.jsonl", "{\"kind\":\"stale\"}\n");
    let listen = format!("127.0.0.1:{}", free_port());
    let target = format!("127.0.0.1:{}", closed_port());
    let r = Rdptap::start(
        &[
            "proxy",
            "--target",
            &target,
            "--listen",
            &listen,
            "--events",
            events.to_str().unwrap(),
        ],
        "  events:",
    );
    assert!(
        r.stderr_text().contains("(truncated)"),
        "{}",
        r.stderr_text()
    );
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(!text.contains("stale"), "{text}");
}

#[test]
fn events_file_is_appended_with_events_append() {
    let dir = TempDir::new("cli-events").unwrap();
    let events = write_file(dir.path(), "e.jsonl", "{\"kind\":\"earlier\"}\n");
    let listen = format!("127.0.0.1:{}", free_port());
    let target = format!("127.0.0.1:{}", closed_port());
    let mut r = Rdptap::start(
        &[
            "proxy",
            "--target",
            &target,
            "--listen",
            &listen,
            "--events",
            events.to_str().unwrap(),
            "--events-append",
            "--once",
        ],
        "  events:",
    );
    assert!(
        r.stderr_text().contains("(appending)"),
        "{}",
        r.stderr_text()
    );
    let mut c = connect(listen.parse().unwrap(), T);
    let mut buf = [0u8; 8];
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    r.wait_exit(T).expect("--once exits");
    let all = lines_as_json(&events);
    assert_eq!(all[0]["kind"], "earlier", "{all:#?}");
    assert!(all.len() > 1, "{all:#?}");
    assert_eq!(all.last().unwrap()["kind"], "verdict", "{all:#?}");
}
