//! Peer processes: finding their binaries, guarding, signalling and waiting on them.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{read_lossy, START_TIMEOUT};

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

pub(crate) fn bin(name: &str) -> io::Result<PathBuf> {
    find_bin(name)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} not found")))
}

/// A spawned process that is killed and reaped when the guard goes away.
pub(crate) struct Guard {
    /// Crate-visible so Xvfb can take the stdout pipe it reads its display number from.
    pub(crate) child: Child,
    name: &'static str,
}

impl Guard {
    pub(crate) fn spawn(name: &'static str, cmd: &mut Command) -> io::Result<Guard> {
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {name}: {e}")))?;
        Ok(Guard { child, name })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kill the process's descendants first (xrdp forks one per connection, and they keep
    /// their sockets open after the client leaves), then the process itself.
    pub(crate) fn stop(&mut self) {
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

pub(crate) fn signal(pid: u32, sig: libc::c_int) {
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
pub(crate) fn descendants(root: u32) -> Vec<u32> {
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
pub(crate) fn wait_listening(guard: &mut Guard, port: u16, log: &Path) -> io::Result<()> {
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

pub(crate) fn log_file(p: &Path) -> io::Result<(Stdio, Stdio)> {
    let f = fs::File::create(p)?;
    Ok((Stdio::from(f.try_clone()?), Stdio::from(f)))
}
