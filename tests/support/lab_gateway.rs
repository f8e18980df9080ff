//! Runs `rdptap lab gateway` (with its own fresh CA) for end-to-end tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// Gateway user and password the tests give xfreerdp; the lab gateway accepts any.
pub const GW_USER: &str = "gwuser";
pub const GW_PASS: &str = "gwpass";

/// A running lab gateway on loopback, killed on Drop.
pub struct LabGateway {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    stderr: PathBuf,
    _dir: TempDir,
}

impl LabGateway {
    /// `rdptap -v lab gateway --listen 127.0.0.1:FREE --target TARGET --ca-dir FRESH`
    /// plus `extra`, once it listens. Retries with another port if the first is taken.
    pub fn start(target: &str, extra: &[&str]) -> LabGateway {
        let dir = TempDir::new("labgw").expect("temp dir");
        let ca = dir.path().join("ca");
        let ca_s = ca.display().to_string();
        let (code, out) =
            super::proxy::run_rdptap(&["ca", "init", "--ca-dir", &ca_s], Duration::from_secs(30));
        assert_eq!(code, Some(0), "rdptap ca init failed: {out}");
        let mut last = String::new();
        for attempt in 0..3 {
            let addr = super::loopback(super::free_port());
            let stderr = dir.path().join(format!("gateway-{attempt}.txt"));
            let mut args: Vec<String> = [
                "-v",
                "lab",
                "gateway",
                "--listen",
                &addr.to_string(),
                "--target",
                target,
                "--ca-dir",
                &ca_s,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().map(|s| s.to_string()));
            let mut child = Command::new(env!("CARGO_BIN_EXE_rdptap"))
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("stderr file"))
                .env("NO_COLOR", "1")
                .env_remove("RUST_LOG")
                .spawn()
                .expect("start rdptap lab gateway");
            // Readiness from the banner: a probe connection would show up as a client.
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                last = super::read_lossy(&stderr);
                if last.contains("rdptap lab gateway listening on") {
                    return LabGateway {
                        child: Some(child),
                        addr,
                        stderr,
                        _dir: dir,
                    };
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            // Another process took the free port: try another; anything else is fatal.
            if !last.contains("cannot listen") {
                break;
            }
        }
        panic!("rdptap lab gateway did not start:\n{last}");
    }

    /// The CA the gateway's certificates come from (to share it with the proxy).
    pub fn ca_dir(&self) -> PathBuf {
        self._dir.path().join("ca")
    }

    /// What the gateway printed.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits (bounded) until the console has a line containing every one of `parts`;
    /// returns that line, or `None` with the time up.
    pub fn wait_line(&self, parts: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stderr_text();
            if let Some(l) = text.lines().find(|l| parts.iter().all(|p| l.contains(p))) {
                return Some(l.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// xfreerdp's gateway arguments for this gateway and transport (`http`,
    /// `http,no-websockets` or `rpc`).
    pub fn client_args(&self, transport: &str) -> Vec<String> {
        vec![
            format!("/g:{}", self.addr),
            format!("/gu:{GW_USER}"),
            format!("/gp:{GW_PASS}"),
            format!("/gt:{transport}"),
        ]
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for LabGateway {
    fn drop(&mut self) {
        self.kill();
    }
}
