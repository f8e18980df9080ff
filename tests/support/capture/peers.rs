//! Peers driven mid-session: a background xfreerdp that can be signalled or asked to close
//! its window, and handles on the xrdp and shadow-server processes of the harness.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self as harness, Guard, Shadow, TempDir, Xrdp};

/// An xfreerdp run in the background, for tests that act on the client while it is
/// connected. Killed on Drop.
pub struct Client {
    guard: Guard,
    log: PathBuf,
    display: String,
    _home: TempDir,
}

impl Client {
    /// Start `xfreerdp ARGS` on `display`, with a private HOME like [`harness::xfreerdp`].
    pub fn spawn(args: &[String], display: &str) -> io::Result<Client> {
        let home = TempDir::new("xfreerdp-bg")?;
        let log = home.path().join("client.log");
        let (o, e) = harness::log_file(&log)?;
        let guard = Guard::spawn(
            harness::XFREERDP,
            Command::new(harness::bin(harness::XFREERDP)?)
                .args(args)
                .env("DISPLAY", display)
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", home.path().join(".config"))
                .current_dir(home.path())
                .stdin(Stdio::null())
                .stdout(o)
                .stderr(e),
        )?;
        Ok(Client {
            guard,
            log,
            display: display.to_string(),
            _home: home,
        })
    }

    /// The client's process id.
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// Send `sig` (a libc signal number) to the client.
    pub fn signal(&self, sig: libc::c_int) {
        harness::signal(self.guard.pid(), sig);
    }

    /// Wait up to `timeout` for the client to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.guard.exited() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Close the client's windows the way a user does, with the window manager's
    /// WM_DELETE_WINDOW message. Returns how many windows were asked.
    pub fn close_window(&self) -> io::Result<usize> {
        close_windows(&self.display)
    }

    /// The client's stdout and stderr so far.
    pub fn log(&self) -> String {
        harness::read_lossy(&self.log)
    }
}

/// The per-connection children xrdp has forked (xrdp forks one per client).
pub fn xrdp_children(x: &Xrdp) -> Vec<u32> {
    harness::descendants(x.guard.pid())
}

/// Send `sig` to one process (by id), e.g. an xrdp connection child.
pub fn signal_pid(pid: u32, sig: libc::c_int) {
    harness::signal(pid, sig);
}

/// Send `sig` to the shadow server.
pub fn signal_shadow(s: &Shadow, sig: libc::c_int) {
    harness::signal(s.guard.pid(), sig);
}

/// freerdp-shadow-cli on 127.0.0.1 sharing `display`, with exactly the options in `args`
/// besides the address and port (the harness's [`Shadow::start_sec`] always adds a SAM file
/// and one `/sec:`).
pub fn start_shadow(display: &str, args: &[&str]) -> io::Result<Shadow> {
    let dir = TempDir::new("shadow-capture")?;
    let port = harness::free_port();
    let log = dir.path().join("shadow.log");
    let (o, e) = harness::log_file(&log)?;
    let mut guard = Guard::spawn(
        harness::SHADOW,
        Command::new(harness::bin(harness::SHADOW)?)
            .arg("/bind-address:127.0.0.1")
            .arg(format!("/port:{port}"))
            .args(args)
            .env("DISPLAY", display)
            .env("HOME", dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(o)
            .stderr(e),
    )?;
    harness::wait_listening(&mut guard, port, &log)?;
    Ok(Shadow {
        port,
        log,
        guard,
        dir,
    })
}

/// Wait up to `timeout` for the shadow server to exit; true once it has.
pub fn shadow_exited(s: &mut Shadow, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while s.guard.exited().is_none() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

// ---------------------------------------------------------------------------------------
// Just enough of the X11 protocol to send WM_DELETE_WINDOW: Xvfb runs no window manager,
// and the usual tools for this are not installed with the peers.

/// Send WM_DELETE_WINDOW to every top-level window on `display` (`:N`). The display is
/// private to one xfreerdp, so every such window is the client's.
fn close_windows(display: &str) -> io::Result<usize> {
    let number = display
        .trim_start_matches(':')
        .split('.')
        .next()
        .unwrap_or_default();
    let mut x = UnixStream::connect(format!("/tmp/.X11-unix/X{number}"))?;
    x.set_read_timeout(Some(Duration::from_secs(5)))?;
    x.set_write_timeout(Some(Duration::from_secs(5)))?;
    // Connection setup: little-endian, protocol 11.0, no authorization (Xvfb grants
    // local clients without it, as xfreerdp itself relies on).
    x.write_all(&[b'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
    let mut head = [0u8; 8];
    x.read_exact(&mut head)?;
    let mut setup = vec![0u8; usize::from(u16le(&head, 6)) * 4];
    x.read_exact(&mut setup)?;
    if head[0] != 1 {
        return Err(io::Error::other(format!(
            "X server refused the connection: {}",
            String::from_utf8_lossy(&setup)
        )));
    }
    // `setup` starts 8 bytes into the reply: the vendor length is at 24 in the protocol's
    // numbering, the format count at 29 and the vendor string at 40; the first screen,
    // whose first field is its root window, follows the vendor string and the formats.
    let vendor = usize::from(u16le(&setup, 16));
    let formats = usize::from(setup[21]);
    let root = u32le(&setup, 32 + pad4(vendor) + 8 * formats);

    let protocols = intern(&mut x, "WM_PROTOCOLS")?;
    let delete = intern(&mut x, "WM_DELETE_WINDOW")?;
    let tree = request(
        &mut x,
        &[&[15, 0], &2u16.to_le_bytes()[..], &root.to_le_bytes()],
    )?;
    let count = usize::from(u16le(&tree, 16));
    for i in 0..count {
        let window = u32le(&tree, 32 + 4 * i);
        // ClientMessage: code 33, format 32, a sequence number the server fills in, the
        // window, the type WM_PROTOCOLS, then data l[0] = WM_DELETE_WINDOW and the time.
        let mut event = vec![33u8, 32, 0, 0];
        event.extend_from_slice(&window.to_le_bytes());
        event.extend_from_slice(&protocols.to_le_bytes());
        event.extend_from_slice(&delete.to_le_bytes());
        event.resize(32, 0);
        // SendEvent with an empty event mask reaches the client that created the window.
        let mut req = vec![25u8, 0];
        req.extend_from_slice(&11u16.to_le_bytes());
        req.extend_from_slice(&window.to_le_bytes());
        req.extend_from_slice(&0u32.to_le_bytes());
        req.extend_from_slice(&event);
        x.write_all(&req)?;
    }
    // GetInputFocus as a round trip: once it is answered, the events above were sent, and
    // an error about them would have arrived first.
    request(&mut x, &[&[43, 0], &1u16.to_le_bytes()[..]])?;
    Ok(count)
}

fn intern(x: &mut UnixStream, name: &str) -> io::Result<u32> {
    let n = name.len();
    let words = u16::try_from(2 + pad4(n) / 4).map_err(io::Error::other)?;
    let len = u16::try_from(n).map_err(io::Error::other)?;
    let mut padded = name.as_bytes().to_vec();
    padded.resize(pad4(n), 0);
    let reply = request(
        x,
        &[
            &[16, 0],
            &words.to_le_bytes()[..],
            &len.to_le_bytes(),
            &[0, 0],
            &padded,
        ],
    )?;
    Ok(u32le(&reply, 8))
}

/// Send one request and read its reply (32 bytes plus the extra length it announces).
fn request(x: &mut UnixStream, parts: &[&[u8]]) -> io::Result<Vec<u8>> {
    x.write_all(&parts.concat())?;
    let mut reply = vec![0u8; 32];
    x.read_exact(&mut reply)?;
    if reply[0] != 1 {
        return Err(io::Error::other(format!(
            "X11 error or event instead of a reply: {:02x?}",
            &reply[..4]
        )));
    }
    let extra = usize::try_from(u32le(&reply, 4)).map_err(io::Error::other)? * 4;
    reply.resize(32 + extra, 0);
    x.read_exact(&mut reply[32..])?;
    Ok(reply)
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
