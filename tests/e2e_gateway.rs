//! End to end in RD Gateway mode with the real client: xfreerdp → rdptap proxy
//! --gateway → rdptap lab gateway → xrdp, all on loopback, through both gateway
//! transports, and with the lab gateway failing on purpose at chosen steps.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::gw_client::GwClient;
use support::lab_gateway::LabGateway;
use support::proxy::Proxy;
use support::{
    auth_only_args, peers_available, xfreerdp, ClientOutput, SecurityLayer, Xrdp, XrdpOpts, Xvfb,
    CLIENT_TIMEOUT, PASS, XFREERDP, XRDP, XVFB,
};

/// How long rdptap gets to write the gateway session's verdict after the client exits.
const VERDICT_WAIT: Duration = Duration::from_secs(15);

struct Chain {
    x: Xvfb,
    xrdp: Xrdp,
    gw: LabGateway,
    proxy: Proxy,
}

/// Peers plus the lab gateway (with `fail` knobs) and rdptap in gateway mode, which
/// trusts the lab gateway's CA unless `trust` is false.
fn chain(fail: &[&str], trust: bool) -> Option<Chain> {
    chain_with(fail, trust, &[])
}

/// [`chain`], with more options for rdptap.
fn chain_with(fail: &[&str], trust: bool, more: &[&str]) -> Option<Chain> {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return None;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let gw = LabGateway::start(&xrdp.addr().to_string(), fail);
    let ca = gw.ca_dir();
    let ca_s = ca.display().to_string();
    let pem = ca.join("rdptap-ca.pem").display().to_string();
    let mut extra = vec!["--ca-dir", ca_s.as_str()];
    if trust {
        extra.extend(["--trust", pem.as_str()]);
    }
    extra.extend_from_slice(more);
    let proxy = Proxy::start_gateway(&gw.addr.to_string(), &extra);
    Some(Chain { x, xrdp, gw, proxy })
}

impl Chain {
    /// xfreerdp +auth-only to xrdp, with rdptap as its gateway, over transport `gt`.
    fn client(&self, gt: &str) -> ClientOutput {
        let extra = [
            "/sec:tls".to_string(),
            format!("/g:{}", self.proxy.addr),
            "/gu:gwuser".to_string(),
            "/gp:gwpass".to_string(),
            format!("/gt:{gt}"),
        ];
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = xfreerdp(
            &auth_only_args(self.xrdp.addr(), PASS, &extra),
            &self.x.display(),
            CLIENT_TIMEOUT,
        );
        assert!(!out.timed_out, "xfreerdp timed out\n{}", self.context(&out));
        out
    }

    /// The same client straight to the lab gateway, without rdptap, for comparison.
    fn direct(&self, gt: &str) -> ClientOutput {
        let mut extra = vec!["/sec:tls".to_string()];
        extra.extend(self.gw.client_args(gt));
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = xfreerdp(
            &auth_only_args(self.xrdp.addr(), PASS, &extra),
            &self.x.display(),
            CLIENT_TIMEOUT,
        );
        assert!(!out.timed_out, "xfreerdp (direct) timed out\n{}", out.log);
        out
    }

    fn context(&self, out: &ClientOutput) -> String {
        format!(
            "xfreerdp exit {:?}:\n{}\n--- rdptap:\n{}\n--- lab gateway:\n{}",
            out.code,
            out.log,
            self.proxy.stderr_text(),
            self.gw.stderr_text()
        )
    }

    /// The gateway session's verdict, once written.
    fn session_verdict(&self, out: &ClientOutput) -> Value {
        self.verdict_where(out, "a gateway_session verdict", |v| {
            v["scope"] == "gateway_session"
        })
    }

    /// The first verdict `pick` accepts, waiting (bounded) until one is written.
    fn verdict_where(
        &self,
        out: &ClientOutput,
        what: &str,
        pick: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + VERDICT_WAIT;
        loop {
            if let Some(v) = self.proxy.verdicts().into_iter().find(|v| pick(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}\n{}",
                self.context(out)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn packets(&self) -> Vec<String> {
        self.proxy
            .events()
            .into_iter()
            .filter(|e| e["kind"] == "tsgu_packet")
            .filter_map(|e| e["packet"].as_str().map(str::to_string))
            .collect()
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// Every MS-TSGU step appears, in order, and the inner RDP connection is decoded.
fn assert_full_tunnel(c: &Chain) {
    let p = c.packets();
    let want = [
        "HANDSHAKE_REQUEST",
        "HANDSHAKE_RESPONSE",
        "TUNNEL_CREATE",
        "TUNNEL_RESPONSE",
        "TUNNEL_AUTH",
        "TUNNEL_AUTH_RESPONSE",
        "CHANNEL_CREATE",
        "CHANNEL_RESPONSE",
        "DATA",
    ];
    let mut i = 0;
    for name in &p {
        if i < want.len() && name == want[i] {
            i += 1;
        }
    }
    assert_eq!(i, want.len(), "packets in order: {p:?}");
    let events = c.proxy.events();
    let inner: Vec<&Value> = events.iter().filter(|e| e["inner"] == true).collect();
    assert!(
        inner.iter().any(|e| e["kind"] == "connection_request"),
        "inner X.224 request"
    );
    assert!(
        inner.iter().any(|e| e["kind"] == "connection_confirm"),
        "inner X.224 confirm"
    );
    assert!(
        inner.iter().any(|e| e["kind"] == "server_hello"),
        "inner TLS"
    );
    let phases: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "phase")
        .map(|e| s(e, "phase"))
        .collect();
    for ph in [
        "gw_tls",
        "gw_http_auth",
        "gw_handshake",
        "gw_tunnel_create",
        "gw_tunnel_auth",
        "gw_channel_create",
        "gw_data",
        "x224",
        "tls_handshake",
    ] {
        assert!(phases.iter().any(|p| p == ph), "phase {ph} in {phases:?}");
    }
    // No secret from the gateway round reaches the events.
    let text = std::fs::read_to_string(&c.proxy.events).unwrap();
    assert!(!text.contains("gwpass"));
    assert!(
        !text.contains("TlRMTVNTUAAD"),
        "an NTLM AUTHENTICATE token leaked"
    );
}

#[test]
fn websocket_transport_reaches_the_inner_rdp_ok() {
    let Some(c) = chain(&[], true) else { return };
    let out = c.client("http");
    assert!(out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    assert_eq!(s(&v, "cause"), "ok", "{v:#}\n{}", c.context(&out));
    assert!(s(&v, "summary").contains("WebSocket"), "{v:#}");
    assert_full_tunnel(&c);
    let events = c.proxy.events();
    assert!(events
        .iter()
        .any(|e| e["kind"] == "http_request" && e["auth"]["ntlm"]["user"] == "gwuser"));
}

#[test]
fn http_transport_pairs_both_channels_into_one_session() {
    let Some(c) = chain(&[], true) else { return };
    let out = c.client("http,no-websockets");
    assert!(out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    assert_eq!(s(&v, "cause"), "ok", "{v:#}\n{}", c.context(&out));
    assert!(s(&v, "summary").contains("HTTP transport"), "{v:#}");
    assert_full_tunnel(&c);
    // Each channel's own verdict is ok too, and says which channel it was.
    let per_conn: Vec<Value> = c
        .proxy
        .verdicts()
        .into_iter()
        .filter(|v| v["scope"] == "connection")
        .collect();
    assert_eq!(per_conn.len(), 2, "{per_conn:#?}");
    for v in &per_conn {
        assert_eq!(s(v, "cause"), "ok", "{v:#}");
    }
    let transports: Vec<String> = c
        .proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "http_request")
        .map(|e| s(&e, "transport"))
        .collect();
    assert!(transports.iter().any(|t| t == "http_out"), "{transports:?}");
    assert!(transports.iter().any(|t| t == "http_in"), "{transports:?}");
}

#[test]
fn rap_denial_is_named() {
    let Some(c) = chain(&["--fail", "tunnel=E_PROXY_RAP_ACCESSDENIED"], true) else {
        return;
    };
    let out = c.client("http");
    assert!(!out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    assert_eq!(s(&v, "cause"), "gw_hresult", "{v:#}\n{}", c.context(&out));
    let summary = s(&v, "summary");
    assert!(summary.contains("TUNNEL_RESPONSE"), "{summary}");
    assert!(summary.contains("E_PROXY_RAP_ACCESSDENIED"), "{summary}");
    assert!(s(&v, "hint").contains("FQDN"), "{v:#}");
}

/// The summary of the gw_http_incomplete verdict when the lab gateway cuts its OUT
/// response with `knob` (two-channel transport); None when peers are missing.
fn cut_summary(knob: &str) -> Option<String> {
    let c = chain(&["--fail", knob], true)?;
    let out = c.client("http,no-websockets");
    assert!(!out.success(), "{}", c.context(&out));
    let v = c.verdict_where(&out, "gw_http_incomplete", |v| {
        v["cause"] == "gw_http_incomplete"
    });
    Some(s(&v, "summary"))
}

#[test]
fn out_response_cut_in_its_headers_is_incomplete_with_counts() {
    let Some(summary) = cut_summary("close=out-headers") else {
        return;
    };
    assert!(summary.contains("headers after"), "{summary}");
    assert!(summary.contains("bytes"), "{summary}");
}

#[test]
fn out_channel_cut_in_its_seed_is_incomplete_with_counts() {
    let Some(summary) = cut_summary("close=out-preamble") else {
        return;
    };
    assert!(summary.contains("after 4 of 10 bytes"), "{summary}");
    assert!(summary.contains("seed"), "{summary}");
}

#[test]
fn final_401_is_auth_rejected() {
    let Some(c) = chain(&["--fail", "auth=final-401"], true) else {
        return;
    };
    let out = c.client("http");
    assert!(!out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    assert_eq!(
        s(&v, "cause"),
        "gw_auth_rejected",
        "{v:#}\n{}",
        c.context(&out)
    );
    assert!(s(&v, "summary").contains("gwuser"), "{v:#}");
    // Every verdict says what to check next, on the console too.
    assert!(s(&v, "hint").contains("RD CAP"), "{v:#}");
    let console = c.proxy.stderr_text();
    assert!(
        console.contains("[gateway session {") && console.contains("    hint: check the user name"),
        "{console}"
    );
    // rdptap's own TLS leg goes to the gateway, and the console says so.
    assert!(
        console.contains("rdptap's TLS to the gateway: TLS"),
        "{console}"
    );
    assert!(!console.contains("to the host"), "{console}");
}

#[test]
fn a_hostile_service_message_reaches_the_console_inert() {
    // The gateway's administrative message is a peer's text: escape sequences, a line
    // break and a right-to-left override must not reach the terminal as they are.
    let msg = "Maint\u{1b}]0;pwned\u{7} at 18:00\n[conn 9] ok at active\u{202E}gpj.exe";
    let knob = format!("service-message={msg}");
    let Some(c) = chain(&["--fail", &knob], true) else {
        return;
    };
    let out = c.client("http");
    let v = c.session_verdict(&out);
    assert!(
        s(&v, "summary").contains("gpj.exe"),
        "{v:#}\n{}",
        c.context(&out)
    );
    let console = c.proxy.stderr_text();
    assert!(console.contains("Maint"), "{console}");
    for line in console.lines() {
        assert!(
            !line.chars().any(|ch| ch.is_control()
                || matches!(ch, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "a hostile character reached the console: {line:?}"
        );
        assert!(!line.starts_with("[conn 9]"), "a forged line: {line:?}");
    }
    assert!(console.contains("\\u{202e}gpj.exe"), "{console}");
    // The event file keeps the text exactly (JSON escapes it).
    let events = std::fs::read_to_string(&c.proxy.events).unwrap_or_default();
    assert!(
        events.contains("\\u202e") || events.contains('\u{202E}'),
        "{events}"
    );
}

#[test]
fn a_reused_connection_id_from_another_address_is_a_session_of_its_own() {
    // Two scripted clients name one RDG-Connection-Id: one from 127.0.0.1 (twice, as
    // the two channels would) and one from 127.0.0.2. Only the same address joins.
    let gw = LabGateway::start("127.0.0.1:9", &[]);
    let ca = gw.ca_dir();
    let pem = ca.join("rdptap-ca.pem");
    let (ca_s, pem_s) = (ca.display().to_string(), pem.display().to_string());
    let proxy = Proxy::start_gateway(
        &gw.addr.to_string(),
        &["--ca-dir", &ca_s, "--trust", &pem_s],
    );
    const ID: &str = "{0d5e7a2c-4f61-4b8e-9a3d-2c7b1e6f0a99}";
    let request = format!(
        "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nHost: localhost\r\nRDG-Connection-Id: {ID}\r\nContent-Length: 0\r\n\r\n"
    );
    let open = |from: &str| {
        let from: std::net::IpAddr = from.parse().unwrap();
        let mut c = GwClient::connect(from, proxy.addr, &pem).expect("TLS through rdptap");
        c.send(request.as_bytes()).expect("request");
        let head = c.response_head().expect("response");
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        c
    };
    // Opened in turn, so the connection numbers are 1, 2, 3.
    let a = open("127.0.0.1");
    let a2 = open("127.0.0.1");
    let b = open("127.0.0.2");
    for c in [a, a2, b] {
        c.close();
    }
    let v = proxy.wait_verdicts(5, VERDICT_WAIT);
    let key_of = |conn: u64| {
        v.iter()
            .find(|x| x["conn"] == conn && x["scope"] == "connection")
            .map(|x| s(x, "gw_connection_id"))
    };
    let own = format!("{ID}@127.0.0.2");
    assert_eq!(key_of(1).as_deref(), Some(ID), "{v:#?}");
    assert_eq!(key_of(2).as_deref(), Some(ID), "{v:#?}");
    assert_eq!(key_of(3).as_deref(), Some(own.as_str()), "{v:#?}");
    let sessions: Vec<String> = v
        .iter()
        .filter(|x| x["scope"] == "gateway_session")
        .map(|x| s(x, "gw_connection_id"))
        .collect();
    assert_eq!(sessions.len(), 2, "{v:#?}");
    assert!(
        sessions.contains(&ID.to_string()) && sessions.contains(&own),
        "{sessions:?}"
    );
    // The event says so, on the connection that did not join, and only there.
    let reused: Vec<Value> = proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "gateway_id_reused")
        .collect();
    assert_eq!(reused.len(), 1, "{reused:#?}");
    let e = &reused[0];
    assert_eq!(e["conn"], 3);
    assert_eq!(e["layer"], "session");
    assert_eq!(s(e, "connection_id"), ID);
    assert_eq!(s(e, "first_client"), "127.0.0.1");
    assert_eq!(s(e, "own_key"), own);
    assert!(
        proxy.stderr_text().contains("another client address"),
        "{}",
        proxy.stderr_text()
    );
}

/// The warnings' causes of a verdict.
fn warning_causes(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|w| w.iter().map(|x| s(x, "cause")).collect())
        .unwrap_or_default()
}

#[test]
fn expired_gateway_certificate_accepted_by_the_client_is_a_warning() {
    let Some(c) = chain(&["--fail", "cert=expired"], true) else {
        return;
    };
    let out = c.client("http");
    assert!(out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    // /cert:ignore accepted rdptap's certificate, which mirrored the expiry: the
    // session worked, so it is ok.
    assert_eq!(s(&v, "cause"), "ok", "{v:#}\n{}", c.context(&out));
    assert!(
        warning_causes(&v).contains(&"cert_expired".to_string()),
        "{v:#}"
    );
    assert_full_tunnel(&c);
}

#[test]
fn wrong_name_gateway_certificate_accepted_by_the_client_is_a_warning() {
    let Some(c) = chain(&["--fail", "cert=wrong-name"], true) else {
        return;
    };
    let out = c.client("http,no-websockets");
    assert!(out.success(), "{}", c.context(&out));
    let v = c.session_verdict(&out);
    assert_eq!(s(&v, "cause"), "ok", "{v:#}\n{}", c.context(&out));
    assert!(
        warning_causes(&v).contains(&"cert_name_mismatch".to_string()),
        "{v:#}"
    );
}

#[test]
fn a_working_session_through_a_self_signed_gateway_exits_0_with_once() {
    // Most lab gateways present a self-signed certificate. The client accepts it (as it
    // would directly) and the session works, so `--once` reports success. The HTTP
    // transport's two channels are two connections of one session: --once waits for the
    // session, not the first connection.
    let Some(mut c) = chain_with(&["--fail", "cert=self-signed"], true, &["--once"]) else {
        return;
    };
    let out = c.client("http,no-websockets");
    assert!(out.success(), "{}", c.context(&out));
    let status = c.proxy.wait_exit(VERDICT_WAIT);
    let v = c.session_verdict(&out);
    assert_eq!(s(&v, "cause"), "ok", "{v:#}\n{}", c.context(&out));
    assert!(
        warning_causes(&v).contains(&"cert_self_signed".to_string()),
        "{v:#}"
    );
    assert_eq!(
        status.and_then(|st| st.code()),
        Some(0),
        "--once exit status\n{}",
        c.context(&out)
    );
}

#[test]
fn rpc_transport_is_reported_as_legacy() {
    let Some(c) = chain(&[], true) else { return };
    let out = c.client("rpc");
    assert!(!out.success(), "{}", c.context(&out));
    let v = c.proxy.wait_verdicts(1, VERDICT_WAIT);
    let all: Vec<String> = v.iter().map(|v| s(v, "summary")).collect();
    assert!(
        all.iter().any(|x| x.contains("legacy RPC-over-HTTP")),
        "{all:?}\n{}",
        c.context(&out)
    );
    let transports: Vec<String> = c
        .proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "http_request")
        .map(|e| s(&e, "transport"))
        .collect();
    assert!(
        transports.iter().any(|t| t.starts_with("rpc_")),
        "{transports:?}"
    );
}

#[test]
fn gateway_passthrough_relays_the_outer_tls_untouched() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let x = Xvfb::start().expect("Xvfb");
    let xrdp = Xrdp::start(&XrdpOpts::default().security_layer(SecurityLayer::Tls)).expect("xrdp");
    let gw = LabGateway::start(&xrdp.addr().to_string(), &[]);
    let proxy = Proxy::start_gateway(&gw.addr.to_string(), &["--gateway-passthrough"]);
    let extra = [
        "/sec:tls".to_string(),
        format!("/g:{}", proxy.addr),
        "/gu:gwuser".to_string(),
        "/gp:gwpass".to_string(),
        "/gt:http".to_string(),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = xfreerdp(
        &auth_only_args(xrdp.addr(), PASS, &extra),
        &x.display(),
        CLIENT_TIMEOUT,
    );
    assert!(out.success(), "{}\n{}", out.log, proxy.stderr_text());
    let v = proxy.wait_verdicts(1, VERDICT_WAIT);
    assert_eq!(s(&v[0], "cause"), "ok", "{:#}", v[0]);
    let events = proxy.events();
    assert!(events.iter().any(|e| e["kind"] == "client_hello"));
    assert!(
        events.iter().any(|e| e["kind"] == "server_hello"),
        "the gateway's TLS version is reported"
    );
    // Nothing inside the outer TLS is decoded, and nothing is intercepted.
    assert!(!events.iter().any(|e| e["kind"] == "http_request"));
    assert!(!events.iter().any(|e| e["kind"] == "client_tls"));
}

/// The OUT channel framings a gateway or a reverse proxy in front of it may use, beyond
/// the lab's default (no Content-Length, read until the close).
const OUT_FRAMINGS: [&str; 4] = ["length:0", "length:1073741824", "chunked", "chunked:7"];

#[test]
fn every_out_framing_carries_the_tunnel_through_rdptap() {
    for framing in OUT_FRAMINGS {
        let Some(c) = chain(&["--out-framing", framing], true) else {
            return;
        };
        // The client reads this framing without rdptap, and so it must through it.
        let direct = c.direct("http,no-websockets");
        assert!(direct.success(), "{framing}, direct: {}", direct.log);
        let out = c.client("http,no-websockets");
        assert!(out.success(), "{framing}: {}", c.context(&out));
        let v = c.session_verdict(&out);
        assert_eq!(
            s(&v, "cause"),
            "ok",
            "{framing}: {v:#}\n{}",
            c.context(&out)
        );
        assert_full_tunnel(&c);
        let head = c
            .proxy
            .events()
            .into_iter()
            .find(|e| e["kind"] == "http_response" && e["status"] == 200)
            .expect("the OUT channel's 200");
        let declared = if framing.starts_with("chunked") {
            head["chunked"] == true
        } else {
            head["content_length"]
                .as_u64()
                .map(|n| format!("length:{n}"))
                .as_deref()
                == Some(framing)
        };
        assert!(declared, "{framing}: {head:#}");
    }
}

#[test]
fn a_packet_cut_short_by_the_gateway_is_named_in_every_out_framing() {
    // 40 tunnel bytes: the 10-byte seed, HANDSHAKE_RESPONSE (18), then 12 bytes of
    // TUNNEL_RESPONSE, cut inside a chunk when chunked.
    for framing in ["none", "length:10", "chunked", "chunked:7"] {
        let knobs = ["--out-framing", framing, "--fail", "close=out-body:40"];
        let Some(c) = chain(&knobs, true) else {
            return;
        };
        let direct = c.direct("http,no-websockets");
        let out = c.client("http,no-websockets");
        assert!(!out.success(), "{framing}: {}", c.context(&out));
        assert_eq!(
            out.code, direct.code,
            "{framing}: rdptap changed the failure\n{}",
            direct.log
        );
        let v = c.verdict_where(&out, "gw_http_incomplete", |v| {
            v["cause"] == "gw_http_incomplete"
        });
        let summary = s(&v, "summary");
        // TUNNEL_RESPONSE with its tunnel id and capabilities is 26 bytes.
        assert!(
            summary.contains("the gateway closed after 12 of 26 bytes of an MS-TSGU packet"),
            "{framing}: {summary}\n{}",
            c.context(&out)
        );
        let cut = c
            .proxy
            .events()
            .into_iter()
            .find(|e| e["kind"] == "tsgu_cut")
            .expect("a tsgu_cut event");
        assert_eq!(cut["got"], 12, "{framing}: {cut:#}");
        // The packets before the cut were decoded.
        assert!(
            c.packets().iter().any(|p| p == "HANDSHAKE_RESPONSE"),
            "{framing}"
        );
    }
}
