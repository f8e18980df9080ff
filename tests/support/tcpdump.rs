//! Captures loopback traffic with tcpdump (Debian's package), as an admin's own capture
//! of a session would be made, with no rdptap in the path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary.
pub const TCPDUMP: &str = "tcpdump";

/// A running capture of one TCP port on `lo`, stopped on Drop.
pub struct Tcpdump {
    child: Option<Child>,
    /// The pcap file being written.
    pub path: PathBuf,
    stderr: PathBuf,
}

impl Tcpdump {
    /// `tcpdump -i lo --immediate-mode -U -w DIR/NAME.pcap 'tcp port P1 or …'`, once it
    /// is capturing. Immediate mode takes each packet from the kernel as it comes (not in
    /// blocks that a stop would lose) and `-U` writes it at once.
    pub fn start(dir: &Path, name: &str, ports: &[u16]) -> Tcpdump {
        let path = dir.join(format!("{name}.pcap"));
        let stderr = dir.join(format!("{name}.tcpdump.txt"));
        let filter = ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let bin = super::find_bin(TCPDUMP).expect("tcpdump installed");
        let child = Command::new(bin)
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-n",
                "-s",
                "0",
                "-Z",
                "root",
                "-w",
            ])
            .arg(&path)
            .arg(&filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tcpdump");
        let t = Tcpdump {
            child: Some(child),
            path,
            stderr,
        };
        // tcpdump says "listening on lo" once the capture is open.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !super::read_lossy(&t.stderr).contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "tcpdump did not start: {}",
                super::read_lossy(&t.stderr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        t
    }

    /// Stops the capture (SIGINT, so the file is whole) and returns its path.
    pub fn stop(mut self) -> PathBuf {
        // Packets the kernel has handed over but tcpdump has not written yet get a moment.
        std::thread::sleep(Duration::from_millis(300));
        self.end();
        self.path.clone()
    }

    fn end(&mut self) {
        if let Some(mut c) = self.child.take() {
            super::signal(c.id(), libc::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        self.end();
    }
}
