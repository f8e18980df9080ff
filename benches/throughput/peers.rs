//! The relay processes: rdptap, socat and haproxy, each spawned in front of an
//! upstream port and ended (with anything it forked) when dropped.

use crate::env::Env;
use crate::upstream::free_port;
use crate::Res;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A relay child process, ended (with anything it forked) when dropped, so no
/// relay outlives the benchmark, also on errors and panics.
pub(crate) struct Relay {
    name: &'static str,
    pub(crate) port: u16,
    child: Child,
    log: PathBuf,
}

impl Relay {
    pub(crate) fn spawn(name: &'static str, mut cmd: Command, port: u16, env: &Env) -> Res<Relay> {
        let log = env.tmp.join(format!("{name}-{port}.log"));
        let f = File::create(&log)?;
        cmd.stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        // If the benchmark is killed outright, the kernel ends the relay too.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut r = Relay {
            name,
            port,
            child,
            log,
        };
        r.wait_ready()?;
        Ok(r)
    }

    fn wait_ready(&mut self) -> Res<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Err(format!(
                    "{} exited ({st}) before listening:\n{}",
                    self.name,
                    tail(&self.log)
                )
                .into());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Let the probe's own connection finish before measuring.
                thread::sleep(Duration::from_millis(150));
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} is not listening on {addr} after 10 s:\n{}",
                    self.name,
                    tail(&self.log)
                )
                .into());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines the relay logged, to explain a failure through it.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let pid = self.pid();
        // socat forks one process per connection; end those, by pid, first.
        for c in children_of(pid) {
            // SAFETY: plain kill(2) on a pid we just read as our relay's child.
            unsafe { libc::kill(c, libc::SIGKILL) };
        }
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            // /proc/P/stat: "pid (comm) state ppid …"; comm may contain spaces.
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string))
                })
                .flatten()
                .and_then(|pp| pp.parse::<i32>().ok())
                == Some(pid)
        })
        .collect()
}

fn tail(log: &Path) -> String {
    let s = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

pub(crate) fn start_rdptap(env: &Env, up: u16) -> Res<Relay> {
    start_rdptap_with(env, up, "rdptap", &[])
}

/// rdptap in front of `up` with `extra` proxy options; `name` labels its log file.
pub(crate) fn start_rdptap_with(
    env: &Env,
    up: u16,
    name: &'static str,
    extra: &[&OsStr],
) -> Res<Relay> {
    let port = free_port()?;
    let mut cmd = Command::new(&env.rdptap);
    cmd.args([
        "proxy",
        "--target",
        &format!("127.0.0.1:{up}"),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "-q",
    ]);
    cmd.args(extra);
    Relay::spawn(name, cmd, port, env)
}

fn start_socat(env: &Env, up: u16) -> Res<Relay> {
    let port = free_port()?;
    let mut cmd = Command::new("socat");
    cmd.args([
        "-b",
        "65536",
        &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
        &format!("TCP:127.0.0.1:{up}"),
    ]);
    Relay::spawn("socat", cmd, port, env)
}

fn start_haproxy(env: &Env, up: u16) -> Res<Relay> {
    let port = free_port()?;
    let cfg = env.tmp.join(format!("haproxy-{port}.cfg"));
    fs::write(
        &cfg,
        format!(
            "global\n    nbthread 2\n    maxconn 8192\n\
             defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n\
             frontend bench\n    bind 127.0.0.1:{port}\n    default_backend upstream\n\
             backend upstream\n    server sink 127.0.0.1:{up}\n"
        ),
    )?;
    let mut cmd = Command::new("haproxy");
    // -db: stay in the foreground, so it is our child and ends with us.
    cmd.arg("-db").arg("-f").arg(&cfg);
    Relay::spawn("haproxy", cmd, port, env)
}

/// The three relays in front of `up`, in PATHS order after "direct".
pub(crate) fn start_relays(env: &Env, up: u16) -> Res<Vec<Relay>> {
    Ok(vec![
        start_rdptap(env, up)?,
        start_socat(env, up)?,
        start_haproxy(env, up)?,
    ])
}
