//! Tests of the Share Control and Share Data PDUs and of Server Redirection.

use super::names::{ControlAction, StatusCode};
use super::test_pdus::*;
use super::*;
use crate::vocab::Dir::{C2S, S2C};

fn enhanced(dir: Dir, payload: Vec<u8>) -> RdpEvent {
    one(Protection::Enhanced, dir, payload)
}

#[test]
fn demand_active_capabilities() {
    let ev = enhanced(S2C, demand_active());
    let RdpEvent::DemandActive(p) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(p.share_id, 0x0001_03ea);
    assert_eq!(p.source, "RDP");
    assert_eq!(p.capability_count, 3);
    let names: Vec<_> = p.capabilities.iter().map(|c| c.name_or_unknown()).collect();
    assert_eq!(
        names,
        ["CAPSTYPE_GENERAL", "CAPSTYPE_BITMAP", "CAPSTYPE_ORDER"]
    );
    assert_eq!(
        p.os_major.and_then(|o| o.name()),
        Some("OSMAJORTYPE_WINDOWS")
    );
    assert_eq!(
        p.os_minor.and_then(|o| o.name()),
        Some("OSMINORTYPE_WINDOWS_NT")
    );
    let extra = p.extra_flags.map(|f| f.names()).unwrap_or_default();
    assert!(
        extra.iter().any(|f| f == "FASTPATH_OUTPUT_SUPPORTED"),
        "{extra:?}"
    );
    assert_eq!(
        (p.desktop_width, p.desktop_height, p.color_depth),
        (Some(1920), Some(1080), Some(32))
    );
    assert_eq!(p.session_id, Some(7));
    assert_eq!(p.originator_id, None);
    assert_eq!(
        ev.summary(),
        "server Demand Active: share 0x000103ea, 1920x1080 at 32 bpp, Windows, 3 capability sets"
    );
    let json = serde_json::to_string(&ev).unwrap_or_default();
    assert!(
        json.starts_with(r#"{"kind":"demand_active","share_id":66538,"#),
        "{json}"
    );
    assert!(
        json.contains(r#"{"code":2,"name":"CAPSTYPE_BITMAP"}"#),
        "{json}"
    );
}

#[test]
fn confirm_active_has_an_originator() {
    let caps = Bytes::new().u16(1).u16(0).u16(29).u16(4).done();
    let body = Bytes::new()
        .u32(0x0001_03ea)
        .u16(0x03ea)
        .u16(6)
        .u16(caps.len() as u16)
        .raw(b"MSTSC\0")
        .raw(&caps)
        .done();
    let ev = enhanced(C2S, share_control(3, &body));
    let RdpEvent::ConfirmActive(p) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(p.originator_id, Some(0x03ea));
    assert_eq!(p.source, "MSTSC");
    assert_eq!(
        p.capabilities.first().and_then(|c| c.name()),
        Some("CAPSETTYPE_BITMAP_CODECS")
    );
    assert_eq!(p.session_id, None);
}

#[test]
fn bad_capability_length_is_malformed() {
    let caps = Bytes::new().u16(1).u16(0).u16(1).u16(2).done();
    let body = Bytes::new()
        .u32(1)
        .u16(0)
        .u16(caps.len() as u16)
        .raw(&caps)
        .done();
    let ev = enhanced(S2C, share_control(1, &body));
    let RdpEvent::MalformedPdu { what, .. } = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(what, "Demand Active");
}

#[test]
fn deactivate_all_both_forms() {
    let body = Bytes::new().u32(0x0001_03ea).u16(1).u8(0).done();
    assert_eq!(
        enhanced(S2C, share_control(6, &body)),
        RdpEvent::DeactivateAll {
            share_id: Some(0x0001_03ea)
        }
    );
    let short = Bytes::new().u16(4).u16(0x16).done();
    assert_eq!(
        enhanced(S2C, short),
        RdpEvent::DeactivateAll { share_id: None }
    );
}

#[test]
fn finalization_pdus() {
    let sync = share_data(0x1F, &Bytes::new().u16(1).u16(0x03ea).done());
    assert_eq!(
        enhanced(C2S, sync),
        RdpEvent::Synchronize {
            target_user: 0x03ea
        }
    );
    let control = share_data(0x14, &Bytes::new().u16(4).u16(0).u32(0).done());
    let ev = enhanced(C2S, control);
    assert_eq!(
        ev,
        RdpEvent::Control {
            action: ControlAction(4),
            grant_id: 0,
            control_id: 0
        }
    );
    assert_eq!(ev.summary(), "Control: CTRLACTION_COOPERATE (cooperate)");
    let fonts = Bytes::new().u16(0).u16(0).u16(3).u16(50).done();
    assert_eq!(
        enhanced(C2S, share_data(0x27, &fonts)),
        RdpEvent::FontList { entries: 0 }
    );
    assert_eq!(
        enhanced(S2C, share_data(0x28, &fonts)),
        RdpEvent::FontMap { entries: 0 }
    );
    let keys = Bytes::new()
        .u16(10)
        .u16(20)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(10)
        .u16(20)
        .u16(5)
        .u16(0)
        .u16(0)
        .u8(0x03)
        .u8(0)
        .u16(0)
        .zeros(30 * 8)
        .done();
    let ev = enhanced(C2S, share_data(0x2B, &keys));
    let RdpEvent::PersistentKeyList {
        entries,
        total,
        flags,
    } = &ev
    else {
        panic!("{ev:?}");
    };
    assert_eq!((*entries, *total), (30, 35));
    assert_eq!(flags.to_string(), "PERSIST_FIRST_PDU|PERSIST_LAST_PDU");
    assert_eq!(
        enhanced(C2S, share_data(0x24, &[])),
        RdpEvent::ShutdownRequest
    );
    assert_eq!(
        enhanced(S2C, share_data(0x25, &[])),
        RdpEvent::ShutdownDenied
    );
    let layout = Bytes::new().u32(2).zeros(40).done();
    assert_eq!(
        enhanced(S2C, share_data(0x37, &layout)),
        RdpEvent::MonitorLayout { monitors: 2 }
    );
    let status = share_data(0x36, &Bytes::new().u32(0x0401).done());
    let ev = enhanced(S2C, status);
    assert_eq!(
        ev,
        RdpEvent::StatusInfo {
            status: StatusCode(0x401)
        }
    );
    assert!(ev.summary().contains("TS_STATUS_FINDING_DESTINATION"));
}

#[test]
fn set_error_info_names_and_json() {
    for (code, name) in [
        (0x7, "ERRINFO_SERVER_DENIED_CONNECTION"),
        (0x101, "ERRINFO_LICENSE_NO_LICENSE_SERVER"),
        (0x10C9, "ERRINFO_UNKNOWNPDUTYPE2"),
        (0x400, "ERRINFO_CB_DESTINATION_NOT_FOUND"),
        (0xABCD_0123, "ERRINFO_UNKNOWN"),
    ] {
        let ev = enhanced(S2C, share_data(0x2F, &Bytes::new().u32(code).done()));
        let RdpEvent::SetErrorInfo(e) = &ev else {
            panic!("{ev:?}");
        };
        assert_eq!((e.0, e.name()), (code, name));
        assert!(ev.summary().contains(name), "{}", ev.summary());
    }
    let ev = enhanced(S2C, share_data(0x2F, &Bytes::new().u32(7).done()));
    let json = serde_json::to_string(&ev).unwrap_or_default();
    assert_eq!(
        json,
        r#"{"kind":"set_error_info","code":7,"name":"ERRINFO_SERVER_DENIED_CONNECTION","meaning":"the server denied the connection"}"#
    );
    let none = enhanced(S2C, share_data(0x2F, &Bytes::new().u32(0).done()));
    assert!(none.summary().contains("no error"));
}

fn save_session(info_type: u32, body: &[u8]) -> RdpEvent {
    enhanced(
        S2C,
        share_data(0x26, &Bytes::new().u32(info_type).raw(body).done()),
    )
}

#[test]
fn save_session_info_logon_versions() {
    let mut domain = utf16z("CONTOSO");
    let cb_domain = domain.len() as u32;
    domain.resize(52, 0);
    let mut user = utf16z("alice");
    let cb_user = user.len() as u32;
    user.resize(512, 0);
    let v1 = Bytes::new()
        .u32(cb_domain)
        .raw(&domain)
        .u32(cb_user)
        .raw(&user)
        .u32(3)
        .done();
    let ev = save_session(0, &v1);
    let RdpEvent::SaveSessionInfo(s) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(
        (s.domain.as_deref(), s.user.as_deref(), s.session_id),
        (Some("CONTOSO"), Some("alice"), Some(3))
    );
    assert!(s.is_logon());
    assert_eq!(
        ev.summary(),
        "logon succeeded as CONTOSO\\alice (Save Session Info INFOTYPE_LOGON)"
    );

    let v2 = Bytes::new()
        .u16(1)
        .u32(18)
        .u32(4)
        .u32(utf16z("LAB").len() as u32)
        .u32(utf16z("bob").len() as u32)
        .zeros(558)
        .raw(&utf16z("LAB"))
        .raw(&utf16z("bob"))
        .done();
    let mut ev = save_session(1, &v2);
    let RdpEvent::SaveSessionInfo(s) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(
        (s.domain.as_deref(), s.user.as_deref(), s.session_id),
        (Some("LAB"), Some("bob"), Some(4))
    );
    ev.redact_users();
    assert!(!format!("{ev:?}").contains("bob"));
    assert!(ev.summary().contains("<redacted>"));

    let ev = save_session(2, &[0; 576]);
    assert!(matches!(&ev, RdpEvent::SaveSessionInfo(s) if s.is_logon() && s.user.is_none()));
    assert!(save_session(9, &[]).summary().starts_with("malformed"));
}

#[test]
fn save_session_info_extended() {
    let arc = Bytes::new()
        .u32(28)
        .u32(1)
        .u32(3)
        .raw(&ARC_COOKIE[..16])
        .done();
    let body = Bytes::new()
        .u16(0)
        .u32(0x03)
        .u32(arc.len() as u32)
        .raw(&arc)
        .u32(8)
        .u32(0xFFFF_FFF8)
        .u32(5)
        .zeros(570)
        .done();
    let ev = save_session(3, &body);
    let RdpEvent::SaveSessionInfo(s) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(s.arc_cookie_len, Some(28));
    let e = s.logon_error.unwrap_or_else(|| panic!("no logon error"));
    assert_eq!(e.error_type.name(), Some("LOGON_MSG_SESSION_BUSY_OPTIONS"));
    assert_eq!((e.session_id, e.failure), (Some(5), None));
    assert!(!format!("{ev:?}").contains("ARC-COOKIE"));
    assert!(!serde_json::to_string(&ev)
        .unwrap_or_default()
        .contains("ARC-COOKIE"));

    let body = Bytes::new()
        .u16(0)
        .u32(0x02)
        .u32(8)
        .u32(0xC000_006D)
        .u32(0)
        .done();
    let ev = save_session(3, &body);
    let RdpEvent::SaveSessionInfo(s) = &ev else {
        panic!("{ev:?}");
    };
    let e = s.logon_error.unwrap_or_else(|| panic!("no logon error"));
    assert_eq!(e.error_type.name(), Some("STATUS_LOGON_FAILURE"));
    assert_eq!(
        e.failure.and_then(|f| f.name()),
        Some("LOGON_FAILED_BAD_PASSWORD")
    );
    assert!(
        ev.summary().contains("LOGON_FAILED_BAD_PASSWORD"),
        "{}",
        ev.summary()
    );
}

#[test]
fn high_volume_pdus_are_counted_not_reported() {
    let (events, d) = run(
        Protection::Enhanced,
        &[
            (S2C, share_data(0x02, &[0; 8])),
            (S2C, share_data(0x02, &[0; 8])),
            (C2S, share_data(0x1C, &[0; 8])),
            (S2C, share_data(0x1B, &[0; 8])),
            (C2S, share_data(0x21, &[0; 8])),
            (C2S, share_data(0x23, &[0; 8])),
            (S2C, share_data(0x29, &[0; 4])),
            (S2C, share_data(0x22, &[0; 8])),
            (S2C, share_data(0x99, &[0; 8])),
            (
                S2C,
                Bytes::new()
                    .u16(0x8000)
                    .u8(0)
                    .u8(0x41)
                    .u8(1)
                    .u8(1)
                    .u16(0x3ea)
                    .done(),
            ),
            (S2C, share_control(0xC, &[0; 4])),
        ],
    );
    assert!(events.is_empty(), "{events:?}");
    let s = d.stats();
    assert_eq!(s.data_pdus, [3, 6]);
    assert_eq!((s.updates, s.inputs, s.pointers), (2, 1, 1));
    assert_eq!(
        (s.refresh_rects, s.suppress_outputs, s.keyboard_status),
        (1, 1, 1)
    );
    assert_eq!((s.other_data_pdus, s.unknown_pdus, s.flow_pdus), (1, 2, 1));
    assert_eq!(s.payloads, [3, 8]);
}

#[test]
fn compressed_pdus_are_not_misread() {
    let pdu = share_data_compressed(0x2F, 0x21, &[0x07, 0, 0, 0]);
    let ev = enhanced(S2C, pdu);
    let RdpEvent::CompressedPdu {
        pdu_type2,
        compression,
        flags,
    } = &ev
    else {
        panic!("{ev:?}");
    };
    assert_eq!(pdu_type2.name(), Some("PDUTYPE2_SET_ERROR_INFO_PDU"));
    assert_eq!(compression.name(), Some("PACKET_COMPR_TYPE_64K"));
    assert_eq!(flags.to_string(), "PACKET_COMPRESSED");
    // A compressed update is only counted.
    let (events, d) = run(
        Protection::Enhanced,
        &[(S2C, share_data_compressed(0x02, 0x21, &[1]))],
    );
    assert!(events.is_empty());
    assert_eq!(d.stats().compressed_pdus, 1);
}

fn redirection_packet(flags: u32, fields: &[u8]) -> Vec<u8> {
    Bytes::new()
        .u16(0x0400)
        .u16(u16::try_from(12 + fields.len()).unwrap_or(0))
        .u32(42)
        .u32(flags)
        .raw(fields)
        .done()
}

fn field(b: Bytes, data: &[u8]) -> Bytes {
    b.u32(data.len() as u32).raw(data)
}

#[test]
fn enhanced_server_redirection() {
    let password = utf16z("RedirectPass#1");
    let addresses = Bytes::new()
        .u32(2)
        .u32(utf16z("10.0.0.5").len() as u32)
        .raw(&utf16z("10.0.0.5"))
        .u32(utf16z("10.0.0.6").len() as u32)
        .raw(&utf16z("10.0.0.6"))
        .done();
    let mut b = Bytes::new();
    b = field(b, &utf16z("10.0.0.5"));
    b = field(b, b"Cookie: msts=3640205228.15629.0000\r\n");
    b = field(b, &utf16z("alice"));
    b = field(b, &utf16z("CONTOSO"));
    b = field(b, &password);
    b = field(b, &utf16z("rdsh01.contoso.com"));
    b = field(b, &utf16z("RDSH01"));
    b = field(b, &[0x11; 16]);
    b = field(b, &addresses);
    // LB_TARGET_NET_ADDRESS|LOAD_BALANCE_INFO|USERNAME|DOMAIN|PASSWORD|TARGET_FQDN
    // |TARGET_NETBIOS_NAME|TARGET_NET_ADDRESSES|REDIRECTION_GUID
    let flags = 0x1F | 0x100 | 0x200 | 0x800 | 0x8000;
    let mut body = vec![0, 0];
    body.extend(redirection_packet(flags, &b.done()));
    let ev = enhanced(S2C, share_control(0xA, &body));
    let RdpEvent::ServerRedirection(r) = &ev else {
        panic!("{ev:?}");
    };
    assert_eq!(r.session_id, 42);
    assert_eq!(r.target_net_address.as_deref(), Some("10.0.0.5"));
    assert_eq!(
        r.load_balance_info.as_deref(),
        Some("Cookie: msts=3640205228.15629.0000\\r\\n")
    );
    assert_eq!(
        (r.user.as_deref(), r.domain.as_deref()),
        (Some("alice"), Some("CONTOSO"))
    );
    assert_eq!(r.password_len, Some(password.len() as u32));
    assert_eq!(r.target_fqdn.as_deref(), Some("rdsh01.contoso.com"));
    assert_eq!(r.target_netbios_name.as_deref(), Some("RDSH01"));
    assert_eq!(r.target_net_addresses, ["10.0.0.5", "10.0.0.6"]);
    assert_eq!(r.target(), Some("rdsh01.contoso.com"));
    assert!(!r.no_redirect());
    let names = r.flags.names();
    assert!(
        names.iter().any(|n| n == "LB_REDIRECTION_GUID"),
        "{names:?}"
    );
    for t in [
        format!("{ev:?}"),
        serde_json::to_string(&ev).unwrap_or_default(),
        ev.summary(),
    ] {
        assert!(!t.contains("RedirectPass"), "password leaked: {t}");
    }
    let mut red = ev.clone();
    red.redact_users();
    assert!(!format!("{red:?}").contains("alice"));
    assert!(!format!("{red:?}").contains("CONTOSO"));
}

#[test]
fn standard_security_redirection_packet() {
    // The packet's Flags field doubles as the security header's flags.
    let pdu = redirection_packet(
        0x80 | 0x100,
        &field(Bytes::new(), &utf16z("host.example")).done(),
    );
    let ev = one(Protection::StandardClear, S2C, pdu);
    let RdpEvent::ServerRedirection(r) = &ev else {
        panic!("{ev:?}");
    };
    assert!(r.no_redirect());
    assert_eq!(r.target_fqdn.as_deref(), Some("host.example"));
    assert!(ev.summary().contains("LB_NOREDIRECT"), "{}", ev.summary());
}

#[test]
fn every_kind_has_a_stable_snake_case_name() {
    let (events, _) = run(
        Protection::Enhanced,
        &[
            (C2S, client_info_pdu()),
            (S2C, license_error(7, 2)),
            (S2C, demand_active()),
            (S2C, share_data(0x2F, &[9, 0, 0, 0])),
            (S2C, Bytes::new().u16(4).u16(0x16).done()),
            (S2C, vec![1, 2, 3]),
        ],
    );
    let kinds: Vec<String> = events
        .iter()
        .map(|e| crate::decode::DecodeEvent::Rdp(e.clone()).kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "client_info",
            "license",
            "demand_active",
            "set_error_info",
            "deactivate_all",
            "malformed_pdu"
        ]
    );
}
