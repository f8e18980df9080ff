//! The key log decrypts a real capture: tshark, given `--keylog`'s file, shows the
//! decrypted RDP (TPKT/MCS) inside both of rdptap's TLS legs.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::proxy::{run_rdptap, Proxy};
use support::run::{Run, CLIENT_RUN};
use support::{
    auth_only_args, find_bin, in_ci, peers_available, xfreerdp, CertFiles, SecurityLayer, TempDir,
    Xrdp, XrdpOpts, Xvfb, PASS, TSHARK, XFREERDP, XRDP, XVFB,
};

/// dumpcap on the loopback interface for the given ports, until stopped.
struct Capture {
    child: Child,
}

impl Capture {
    fn start(file: &Path, ports: &[u16]) -> Option<Capture> {
        let filter = ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let child = Command::new(find_bin("dumpcap")?)
            .args(["-q", "-i", "lo", "-f", &filter, "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        // dumpcap writes the file's header once it captures.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) == 0 {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        Some(Capture { child })
    }

    fn stop(mut self) {
        std::thread::sleep(Duration::from_millis(300));
        sigint(self.child.id());
        let _ = self.child.wait();
    }
}

/// Stops dumpcap the way Ctrl-C does, so it finishes the file.
fn sigint(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new(find_bin(TSHARK).expect("tshark"))
        .args(args)
        .output()
        .expect("run tshark");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn keylog_lets_tshark_decrypt_both_legs() {
    if !peers_available(&[XVFB, XRDP, XFREERDP, TSHARK, "dumpcap"]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let cert = CertFiles::normal("keylog-host");
    let server = Xrdp::start(
        &XrdpOpts::default()
            .security_layer(SecurityLayer::Tls)
            .cert(&cert),
    )
    .expect("xrdp");
    let dir = TempDir::new("keylog").expect("temp dir");
    let ca = dir.path().join("ca");
    let cad = ca.display().to_string();
    let (code, out) = run_rdptap(&["ca", "init", "--ca-dir", &cad], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    let keys = dir.path().join("keys.log");
    let k = keys.display().to_string();
    let proxy = Proxy::start(
        &server.addr().to_string(),
        &["--intercept", "--ca-dir", &cad, "--keylog", &k],
    );
    let cap_file = dir.path().join("capture.pcapng");
    let Some(cap) = Capture::start(&cap_file, &[proxy.addr.port(), server.port()]) else {
        assert!(!in_ci(), "dumpcap could not capture on lo");
        eprintln!("skipping: dumpcap cannot capture on lo here");
        return;
    };
    let out = xfreerdp(
        &auth_only_args(proxy.addr, PASS, &["/sec:tls"]),
        &x.display(),
        CLIENT_RUN,
    );
    let run = Run::collect(&proxy, Some(out), || server.log());
    cap.stop();
    assert!(
        !run.of_kind("client_info").is_empty(),
        "not decrypted by rdptap\n{run}"
    );
    let c = cap_file.display().to_string();
    let keylog = format!("tls.keylog_file:{k}");
    // Both legs carry RDP on ports Wireshark does not know: read them as TLS, and the
    // decrypted payload as TPKT (the X.224 exchange before TLS shows as unknown data).
    let (p1, p2) = (proxy.addr.port(), server.port());
    let decode = [
        format!("tcp.port=={p1},tls"),
        format!("tcp.port=={p2},tls"),
        format!("tls.port=={p1},tpkt"),
        format!("tls.port=={p2},tpkt"),
    ];
    let mut args: Vec<&str> = vec!["-r", &c, "-o", &keylog];
    for d in &decode {
        args.extend(["-d", d.as_str()]);
    }
    let blind_args = args.clone();
    args.extend([
        "-Y",
        "t125",
        "-T",
        "fields",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.dstport",
    ]);
    let fields = tshark(&args);
    let legs: Vec<&str> = fields.lines().collect();
    let on = |port: u16| {
        legs.iter()
            .any(|l| l.split_whitespace().any(|p| p == port.to_string()))
    };
    assert!(
        on(proxy.addr.port()) && on(server.port()),
        "no decrypted MCS (T.125) on both legs:\n{fields}\n{run}"
    );
    // Without the key log the same capture shows no MCS at all.
    let mut blind_args: Vec<&str> = blind_args
        .into_iter()
        .filter(|a| *a != keylog.as_str())
        .collect();
    blind_args.retain(|a| *a != "-o");
    blind_args.extend(["-Y", "t125", "-T", "fields", "-e", "frame.number"]);
    let blind = tshark(&blind_args);
    assert!(
        !blind.lines().any(|l| l.trim().parse::<u32>().is_ok()),
        "MCS visible without keys?\n{blind}"
    );
}
