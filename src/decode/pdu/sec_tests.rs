//! Tests of the security-header PDUs: Security Exchange, Client Info, licensing, and
//! how protection and flags decide where a security header is.

use super::test_pdus::*;
use super::*;
use crate::vocab::Dir::{C2S, S2C};

#[test]
fn security_exchange_reports_only_the_length() {
    let body = Bytes::new().u32(72).raw(&[0x5A; 72]).done();
    let ev = one(Protection::StandardEncrypted, C2S, sec(0x0001, &body));
    assert_eq!(ev, RdpEvent::SecurityExchange { random_len: 72 });
    let json = serde_json::to_string(&ev).unwrap_or_default();
    assert_eq!(json, r#"{"kind":"security_exchange","random_len":72}"#);
}

#[test]
fn client_info_fields() {
    let RdpEvent::ClientInfo(ci) = one(Protection::Enhanced, C2S, client_info_pdu()) else {
        panic!("not client info");
    };
    assert_eq!(ci.code_page, 0x0409);
    assert_eq!(ci.domain, "CONTOSO");
    assert_eq!(ci.user, "alice");
    assert_eq!(ci.account(), "CONTOSO\\alice");
    assert!(ci.password_present);
    assert_eq!(usize::from(ci.password_len), PASSWORD.len() * 2);
    assert!(ci.auto_logon);
    assert_eq!(
        ci.compression.and_then(|c| c.name()),
        Some("PACKET_COMPR_TYPE_64K")
    );
    let names = ci.flags.names();
    for n in [
        "INFO_MOUSE",
        "INFO_UNICODE",
        "INFO_AUTOLOGON",
        "INFO_LOGONERRORS",
        "INFO_MOUSE_HAS_WHEEL",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    // The compression type bits are reported as a type, not as unknown flags.
    assert!(!names.iter().any(|x| x.starts_with("0x")), "{names:?}");
    assert_eq!(
        ci.client_address_family.and_then(|a| a.name()),
        Some("AF_INET")
    );
    assert_eq!(ci.client_address.as_deref(), Some("192.0.2.10"));
    assert_eq!(
        ci.client_dir.as_deref(),
        Some("C:\\Windows\\System32\\mstscax.dll")
    );
    assert_eq!(ci.time_zone.as_deref(), Some("W. Europe Standard Time"));
    assert_eq!(ci.time_zone_bias, Some(-60));
    let perf = ci.performance_flags.map(|f| f.names()).unwrap_or_default();
    assert!(
        perf.iter().any(|x| x == "PERF_ENABLE_FONT_SMOOTHING"),
        "{perf:?}"
    );
    assert!(ci.arc_cookie_present);
    assert_eq!(ci.arc_cookie_len, 28);
    assert_eq!(
        ci.dynamic_time_zone.as_deref(),
        Some("W. Europe Standard Time")
    );
}

#[test]
fn secrets_never_reach_debug_json_or_summary() {
    let ev = one(Protection::Enhanced, C2S, client_info_pdu());
    let texts = [
        format!("{ev:?}"),
        serde_json::to_string(&ev).unwrap_or_default(),
        ev.summary(),
    ];
    let cookie = String::from_utf8_lossy(ARC_COOKIE).to_string();
    for t in &texts {
        assert!(!t.contains(PASSWORD), "password leaked: {t}");
        assert!(!t.contains("Hunter2"), "password leaked: {t}");
        assert!(!t.contains(&cookie[..10]), "cookie leaked: {t}");
    }
    // The cookie bytes as a number list (how a Vec<u8> would print) are absent too.
    let as_list = format!("{:?}", &ARC_COOKIE[..4]);
    assert!(!texts[0].contains(as_list.trim_matches(|c| c == '[' || c == ']')));
}

#[test]
fn ansi_client_info_and_rdp4_without_extended_info() {
    let body = Bytes::new()
        .u32(1252)
        .u32(0x0000_0003)
        .u16(3)
        .u16(3)
        .u16(0)
        .u16(7)
        .u16(0)
        .raw(b"LAB\0bob\0\0notepad\0\0")
        .done();
    let RdpEvent::ClientInfo(ci) = one(Protection::StandardClear, C2S, sec(0x0040, &body)) else {
        panic!("not client info");
    };
    assert_eq!((ci.domain.as_str(), ci.user.as_str()), ("LAB", "bob"));
    assert!(!ci.password_present);
    assert!(!ci.auto_logon);
    assert_eq!(ci.alternate_shell, "notepad");
    assert_eq!(ci.client_address, None);
    assert_eq!(ci.compression, None);
}

#[test]
fn redaction_replaces_user_and_domain() {
    let mut ev = one(Protection::Enhanced, C2S, client_info_pdu());
    ev.redact_users();
    let RdpEvent::ClientInfo(ci) = &ev else {
        panic!("not client info");
    };
    assert_eq!(
        (ci.domain.as_str(), ci.user.as_str()),
        ("<redacted>", "<redacted>")
    );
    assert!(!ev.summary().contains("alice"));
}

#[test]
fn licensing_success_and_failure() {
    let ok = one(Protection::Enhanced, S2C, license_error(0x07, 0x02));
    let RdpEvent::License(l) = &ok else {
        panic!("not license");
    };
    assert!(l.succeeded());
    assert_eq!(l.outcome(), LicenseOutcome::Succeeded);
    assert_eq!(l.version, 3);
    assert!(l.extended_errors);
    assert!(
        ok.summary().contains("STATUS_VALID_CLIENT"),
        "{}",
        ok.summary()
    );
    let json = serde_json::to_string(&ok).unwrap_or_default();
    assert!(
        json.starts_with(r#"{"kind":"license","msg_type":{"code":255,"name":"ERROR_ALERT"}"#),
        "{json}"
    );
    assert!(json.contains(r#""outcome":"succeeded""#), "{json}");

    let bad = one(Protection::Enhanced, S2C, license_error(0x02, 0x01));
    let RdpEvent::License(l) = &bad else {
        panic!("not license");
    };
    assert!(l.failed());
    assert_eq!(
        l.error.map(|e| e.code.name_or_unknown()),
        Some("ERR_NO_LICENSE")
    );
    assert_eq!(
        l.error.map(|e| e.transition.name_or_unknown()),
        Some("ST_TOTAL_ABORT")
    );

    // STATUS_VALID_CLIENT with another transition is not the success pattern.
    let odd = one(Protection::Enhanced, S2C, license_error(0x07, 0x03));
    assert!(matches!(odd, RdpEvent::License(l) if l.failed()));

    for (t, outcome) in [
        (0x03, LicenseOutcome::Succeeded),
        (0x04, LicenseOutcome::Succeeded),
        (0x01, LicenseOutcome::InProgress),
        (0x02, LicenseOutcome::InProgress),
        (0x13, LicenseOutcome::InProgress),
    ] {
        let ev = one(Protection::Enhanced, S2C, license_pdu(t, &[0; 8]));
        assert!(
            matches!(ev, RdpEvent::License(l) if l.outcome() == outcome),
            "type {t}"
        );
    }
}

#[test]
fn licensing_completion_switches_to_share_control() {
    let (_, d) = run(Protection::Enhanced, &[(C2S, client_info_pdu())]);
    assert!(!d.licensing_done());
    let (_, d) = run(
        Protection::Enhanced,
        &[(C2S, client_info_pdu()), (S2C, license_pdu(0x01, &[0; 4]))],
    );
    assert!(!d.licensing_done());
    let (_, d) = run(Protection::Enhanced, &[(S2C, license_error(7, 2))]);
    assert!(d.licensing_done());
}

#[test]
fn server_that_skips_licensing() {
    let (events, d) = run(
        Protection::Enhanced,
        &[(C2S, client_info_pdu()), (S2C, demand_active())],
    );
    assert!(matches!(
        events.as_slice(),
        [RdpEvent::ClientInfo(_), RdpEvent::DemandActive(_)]
    ));
    assert!(d.licensing_done());
}

#[test]
fn ambiguous_header_is_decided_by_state() {
    // Flags SEC_LICENSE_PKT with a garbage flagsHi that looks like a Data pduType.
    let mut pdu = license_error(7, 2);
    pdu[2] = 0x17;
    let ev = one(Protection::Enhanced, S2C, pdu.clone());
    assert!(matches!(ev, RdpEvent::License(_)), "{ev:?}");
    // After licensing, the same bytes are read as Share Control: here a Data PDU of
    // an unknown type, which is only counted.
    let (events, d) = run(
        Protection::Enhanced,
        &[(S2C, license_error(7, 2)), (S2C, pdu)],
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(d.stats().unknown_pdus, 1);
}

#[test]
fn standard_encryption_is_announced_once() {
    let exchange = sec(0x0001, &Bytes::new().u32(8).zeros(8).done());
    let encrypted_info = sec(0x0048, &[0xEE; 40]);
    let (events, d) = run(
        Protection::StandardEncrypted,
        &[
            (C2S, exchange),
            (C2S, encrypted_info.clone()),
            (S2C, license_error(7, 2)),
            (C2S, sec(0x0008, &[0xEE; 40])),
            (S2C, sec(0x0008, &[0xEE; 40])),
        ],
    );
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(
        events[0],
        RdpEvent::SecurityExchange { random_len: 8 }
    ));
    let RdpEvent::EncryptedFromHere { flags } = &events[1] else {
        panic!("{events:?}");
    };
    assert_eq!(flags.to_string(), "SEC_ENCRYPT|SEC_INFO_PKT");
    // A licensing PDU sent in the clear is still readable: its flags say so.
    assert!(matches!(events[2], RdpEvent::License(_)));
    assert_eq!(d.stats().encrypted_pdus, [2, 1]);
    // Under TLS, SEC_ENCRYPT is a contradiction, reported rather than believed.
    let ev = one(Protection::Enhanced, C2S, encrypted_info);
    assert!(matches!(ev, RdpEvent::MalformedPdu { .. }), "{ev:?}");
}

#[test]
fn low_encryption_level_server_pdus_behind_a_basic_header() {
    // At ENCRYPTION_LEVEL_LOW the server's PDUs carry flags 0 and are readable.
    let body = share_data(0x2F, &Bytes::new().u32(0x0000_0009).done());
    let ev = one(Protection::StandardEncrypted, S2C, sec(0, &body));
    assert_eq!(ev, RdpEvent::SetErrorInfo(ErrorInfo(9)));
    // At ENCRYPTION_LEVEL_NONE they may have no header at all.
    let ev = one(Protection::StandardClear, S2C, body);
    assert_eq!(ev, RdpEvent::SetErrorInfo(ErrorInfo(9)));
}

#[test]
fn other_security_pdus_are_counted() {
    let (events, d) = run(
        Protection::Enhanced,
        &[
            (S2C, sec(0x1000, &[0; 8])),
            (C2S, sec(0x2000, &[0; 8])),
            (S2C, sec(0x4000, &[0; 4])),
        ],
    );
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(d.stats().other_sec_pdus, 3);
}

#[test]
fn unknown_security_flags_are_malformed() {
    let ev = one(Protection::Enhanced, C2S, sec(0x0100, &[0; 8]));
    assert!(matches!(ev, RdpEvent::MalformedPdu { .. }), "{ev:?}");
    let ev = one(Protection::Enhanced, C2S, sec(0x0010, &[0; 8]));
    let RdpEvent::MalformedPdu { what, reason } = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(what, "security header");
    assert!(reason.contains("SEC_RESET_SEQNO"), "{reason}");
}
