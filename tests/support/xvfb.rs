//! Xvfb, the private virtual X display the clients and the shadow server draw on.

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{bin, Guard};
use super::{read_lossy, TempDir, START_TIMEOUT, XVFB};

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
