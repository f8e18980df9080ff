//! End to end with the real client: xfreerdp → `rdptap lab gateway` → xrdp, on loopback,
//! through both RD Gateway transports, the refused RPC transport and a deliberate
//! MS-TSGU failure.

mod support;

use std::time::Duration;
use support::lab_gateway::LabGateway;
use support::{
    auth_only_args, peers_available, xfreerdp, ClientOutput, SecurityLayer, Xrdp, XrdpOpts, Xvfb,
    CLIENT_TIMEOUT, PASS, XFREERDP, XRDP, XVFB,
};

/// How long the gateway gets to log a tunnel's line after the client exits.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// The peers every test here needs, running: X display, xrdp with TLS, the gateway.
struct Lab {
    x: Xvfb,
    xrdp: Xrdp,
    gw: LabGateway,
}

fn lab(extra: &[&str]) -> Option<Lab> {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return None;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let gw = LabGateway::start(&xrdp.addr().to_string(), extra);
    Some(Lab { x, xrdp, gw })
}

impl Lab {
    /// xfreerdp +auth-only to xrdp through the gateway with transport `gt`.
    /// `/cert:ignore` covers the gateway's certificate too in FreeRDP 2.
    fn client(&self, gt: &str) -> ClientOutput {
        let mut extra = vec!["/sec:tls".to_string()];
        extra.extend(self.gw.client_args(gt));
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = xfreerdp(
            &auth_only_args(self.xrdp.addr(), PASS, &extra),
            &self.x.display(),
            CLIENT_TIMEOUT,
        );
        assert!(!out.timed_out, "xfreerdp timed out\n{}", self.context(&out));
        out
    }

    fn context(&self, out: &ClientOutput) -> String {
        format!(
            "xfreerdp exit {:?}:\n{}\n--- gateway:\n{}\n--- xrdp:\n{}",
            out.code,
            out.log,
            self.gw.stderr_text(),
            self.xrdp.log()
        )
    }
}

#[test]
fn websocket_transport_auth_only_succeeds() {
    let Some(lab) = lab(&[]) else { return };
    let out = lab.client("http");
    assert!(out.success(), "{}", lab.context(&out));
    let line = lab
        .gw
        .wait_line(&["tunnel 1:", "via WebSocket", "ok:"], LOG_WAIT)
        .unwrap_or_else(|| panic!("no tunnel line\n{}", lab.context(&out)));
    assert!(line.contains("user gwuser"), "{line}");
    assert!(
        line.contains(&format!("dialled {}", lab.xrdp.addr())),
        "{line}"
    );
    // The NTLM round really happened, and no secret was printed.
    let log = lab.gw.stderr_text();
    assert!(log.contains("NTLM AUTHENTICATE"), "{log}");
    assert!(log.contains("101 Switching Protocols"), "{log}");
    assert!(!log.contains("gwpass"), "{log}");
}

#[test]
fn dual_channel_http_transport_auth_only_succeeds() {
    let Some(lab) = lab(&[]) else { return };
    let out = lab.client("http,no-websockets");
    assert!(out.success(), "{}", lab.context(&out));
    let line = lab
        .gw
        .wait_line(&["tunnel 1:", "via HTTP", "ok:"], LOG_WAIT)
        .unwrap_or_else(|| panic!("no tunnel line\n{}", lab.context(&out)));
    assert!(line.contains("user gwuser"), "{line}");
    let log = lab.gw.stderr_text();
    assert!(log.contains("paired with its IN channel"), "{log}");
    assert!(!log.contains("Upgrade: websocket"), "{log}");
}

#[test]
fn rpc_transport_gets_503_and_the_client_fails_cleanly() {
    let Some(lab) = lab(&[]) else { return };
    let out = lab.client("rpc");
    // FreeRDP 2.11 gives up with its negotiation-failure status (133) whichever of its
    // two RPC channels notices first; it prints the 503 only when the OUT channel does.
    assert!(!out.success(), "{}", lab.context(&out));
    assert!(out.code.is_some(), "{}", lab.context(&out));
    assert!(
        lab.gw
            .wait_line(&["RPC_IN_DATA", "answered 503"], LOG_WAIT)
            .is_some(),
        "{}",
        lab.context(&out)
    );
    assert!(
        !lab.gw.stderr_text().contains("tunnel 1:"),
        "{}",
        lab.context(&out)
    );
}

#[test]
fn refused_tunnel_makes_the_client_fail() {
    let Some(lab) = lab(&["--fail", "tunnel=E_PROXY_RAP_ACCESSDENIED"]) else {
        return;
    };
    for gt in ["http", "http,no-websockets"] {
        let out = lab.client(gt);
        assert!(!out.success(), "{gt}: {}", lab.context(&out));
        assert!(
            out.log.contains("E_PROXY_RAP_ACCESSDENIED"),
            "{gt}: {}",
            lab.context(&out)
        );
    }
    for transport in ["via WebSocket", "via HTTP"] {
        let line = lab.gw.wait_line(
            &[
                transport,
                "failed on purpose: TUNNEL_CREATE answered with E_PROXY_RAP_ACCESSDENIED",
            ],
            LOG_WAIT,
        );
        assert!(line.is_some(), "{}", lab.gw.stderr_text());
    }
}

#[test]
fn bad_fail_knob_is_a_clear_error() {
    let (code, out) = support::proxy::run_rdptap(
        &[
            "lab",
            "gateway",
            "--target",
            "127.0.0.1:1",
            "--fail",
            "cert=revoked",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("cert=revoked"), "{out}");
    assert!(out.contains("expired, wrong-name, self-signed"), "{out}");
}
