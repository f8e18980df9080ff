//! The relay's notes through JSON and back, and hand-made events of the kinds the
//! captures do not produce (rare PDUs, error paths), so that every variant is read back
//! at least once.

use super::gateway::GwEvent;
use super::json_tests::{assert_round_trip, record};
use super::mcs::{ChannelName, McsEvent};
use super::names::{NegFailureCode, Protocols};
use super::note::{LeafSigner, LegTls, Mirrored, NotIntercepted, Note};
use super::pdu::data::{LogonError, SaveSessionInfo};
use super::pdu::names::{self as pn, Flags};
use super::pdu::{ErrorInfo, RdpEvent, Redirection};
use super::tls::{AlertDescription, CipherSuite, TlsVersion};
use super::tsgu::{GwStage, Packet};
use super::x224::X224Event;
use super::{DecodeError, DecodeEvent};
use crate::vocab::{Dir, Layer};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// One of every note, with unknown and absent values where a field allows them.
fn every_note() -> Vec<Note> {
    let tls = |sni: Option<&str>| LegTls {
        version: Some(TlsVersion::TLS13),
        cipher_suite: Some(CipherSuite(0x1302)),
        sni: sni.map(str::to_string),
        handshake_ms: 2.088,
    };
    let mut notes: Vec<Note> = [
        NotIntercepted::NlaPassthrough,
        NotIntercepted::RdpSecurity,
        NotIntercepted::OtherProtocol,
        NotIntercepted::NegotiationFailed,
        NotIntercepted::UnusualStart,
        NotIntercepted::ClientTlsIncompatible,
        NotIntercepted::UpstreamTlsIncompatible,
    ]
    .into_iter()
    .map(|reason| Note::NotIntercepted { reason })
    .collect();
    notes.extend([
        Note::NlaDowngraded {
            requested: Protocols(0xb),
            sent: Protocols::SSL,
        },
        Note::DowngradeHidden {
            from: Protocols::SSL,
            to: Protocols(0x103),
        },
        Note::UpstreamTls {
            tls: tls(Some("rdp-host.lab")),
            chain: Vec::new(),
            resumed: true,
            pin_matched: Some(false),
        },
        Note::UpstreamTls {
            tls: LegTls {
                version: None,
                cipher_suite: Some(CipherSuite(0xbeef)),
                sni: None,
                handshake_ms: 0.0,
            },
            chain: Vec::new(),
            resumed: false,
            pin_matched: None,
        },
        Note::UpstreamTlsFailed {
            alert: Some(AlertDescription(48)),
            error: "invalid peer certificate: UnknownIssuer".into(),
            fallback: true,
        },
        Note::FallbackReplayed {
            selected: Some(Protocols::HYBRID),
        },
        Note::FallbackReplayed { selected: None },
        Note::FallbackFailed {
            error: "connection refused".into(),
        },
        Note::ClientTls {
            tls: tls(None),
            leaf_for: "127.0.0.1".into(),
        },
        Note::LeafPresented {
            leaf_for: "127.0.0.1".into(),
            signed_by: LeafSigner::UntrustedCa,
            mirrors: vec![Mirrored::Expired, Mirrored::Untrusted],
            names: vec!["localhost".into(), "127.0.0.1".into()],
            not_before: "2020-01-01T00:00:00Z".into(),
            not_after: "2021-01-01T00:00:00Z".into(),
        },
        Note::LeafPresented {
            leaf_for: "rdp-host.lab".into(),
            signed_by: LeafSigner::LocalCa,
            mirrors: vec![],
            names: vec![],
            not_before: "2026-11-21T09:13:22Z".into(),
            not_after: "2026-12-21T10:13:22Z".into(),
        },
        Note::ClientTlsFailed {
            alert: Some(AlertDescription(7)),
            error: "peer sent alert".into(),
        },
        Note::ClientTlsFailed {
            alert: None,
            error: "eof".into(),
        },
        Note::StrictRefused {
            findings: vec!["expired".into(), "self-signed".into()],
        },
        Note::MintFailed {
            error: "no CA".into(),
        },
        Note::CaptureGap {
            direction: Dir::S2C,
            offset: 2896,
            missing: 1448,
        },
        Note::CaptureStartMissed { skipped: [0, 517] },
        Note::CaptureConflict {
            direction: Dir::C2S,
            offset: 10,
            len: 3,
        },
        Note::Decrypted {
            version: Some(TlsVersion(0x0304)),
            cipher_suite: Some(CipherSuite(0x1302)),
        },
        Note::Decrypted {
            version: None,
            cipher_suite: None,
        },
        Note::DecryptStopped {
            direction: Dir::C2S,
            reason: "no keys for this connection in the key log".into(),
        },
        Note::GatewayIdReused {
            connection_id: "{6c1f2a4e-0000-4000-8000-000000000001}".into(),
            first_client: "127.0.0.1".into(),
            own_key: "{6c1f2a4e-0000-4000-8000-000000000001}@127.0.0.2".into(),
        },
    ]);
    notes
}

/// `n` as the event file writes it.
fn note_record(n: &Note) -> Value {
    let mut m = Map::new();
    m.insert("ts".into(), json!("2026-11-21T10:13:22.771985Z"));
    m.insert("conn".into(), json!(1));
    m.insert("dir".into(), Value::Null);
    m.insert("layer".into(), json!(n.layer()));
    if let Ok(Value::Object(body)) = serde_json::to_value(n) {
        m.extend(body);
    }
    m.insert("seq".into(), json!(5));
    Value::Object(m)
}

#[test]
fn every_note_reads_back_the_same() {
    let mut kinds = BTreeSet::new();
    for n in every_note() {
        let written = serde_json::to_string(&n).unwrap_or_default();
        for v in [
            serde_json::to_value(&n).unwrap_or_default(),
            note_record(&n),
        ] {
            let back = Note::from_json(n.layer(), &v);
            assert_eq!(back, Ok(Some(n.clone())), "{v}");
            let again = back.ok().flatten().map(|b| serde_json::to_string(&b).ok());
            assert_eq!(again, Some(Some(written.clone())));
        }
        let kind = v_kind(&note_record(&n));
        assert!(Note::is_note_kind(&kind), "{kind}");
        // No decoder event has a note's kind, at the note's layer or any other.
        for layer in Layer::ALL {
            assert!(DecodeEvent::from_json(*layer, &note_record(&n)).is_err());
        }
        kinds.insert(kind);
    }
    let all: BTreeSet<String> = Note::KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(kinds, all);
}

fn v_kind(v: &Value) -> String {
    v["kind"].as_str().unwrap_or_default().to_string()
}

#[test]
fn notes_tell_what_is_not_theirs() {
    let cr = DecodeEvent::X224(X224Event::DisconnectRequest);
    assert_eq!(Note::from_json(Layer::X224, &record(None, &cr)), Ok(None));
    assert_eq!(
        Note::from_json(Layer::Tls, &json!({"kind": "verdict"})),
        Ok(None)
    );
    assert_eq!(Note::from_json(Layer::Tls, &json!([1, 2])), Ok(None));
    assert_eq!(Note::from_json(Layer::Tls, &json!({"kind": 3})), Ok(None));
    let n = Note::MintFailed { error: "x".into() };
    // A note's kind at another layer than the note's, or with bad fields, is an error.
    assert!(Note::from_json(Layer::Session, &note_record(&n)).is_err());
    assert!(Note::from_json(Layer::Tls, &json!({"kind": "mint_failed"})).is_err());
    assert!(Note::from_json(Layer::Tls, &json!({"kind": "mint_failed", "error": 5})).is_err());
    let bad_reason = json!({"kind": "not_intercepted", "reason": "bored"});
    assert!(Note::from_json(Layer::Session, &bad_reason).is_err());
}

/// Events of kinds no capture has, one of each, with their rarer field values.
fn rare_events() -> Vec<(Dir, DecodeEvent)> {
    let x224 = |e| (Dir::C2S, DecodeEvent::X224(e));
    let rdp = |e| (Dir::S2C, DecodeEvent::Rdp(e));
    vec![
        x224(X224Event::PreconnectionPdu {
            version: 2,
            id: 7,
            blob: Some("0f1e2d3c-vm".into()),
        }),
        x224(X224Event::DisconnectRequest),
        x224(X224Event::NotRdp {
            first_bytes: "47 45 54 20".into(),
        }),
        (
            Dir::S2C,
            DecodeEvent::X224(X224Event::NegotiationFailure {
                code: NegFailureCode::Other(77),
            }),
        ),
        (
            Dir::C2S,
            DecodeEvent::Mcs(McsEvent::ChannelJoinRequest {
                user_id: 1007,
                channel_id: 1004,
                channel: Some(ChannelName::Virtual("cliprdr".into())),
            }),
        ),
        rdp(RdpEvent::ServerRedirection(Box::new(Redirection {
            session_id: 3,
            flags: Flags::new(0x0001_0d8f | 0x0200_0000, pn::LB_FLAGS),
            target_net_address: Some("10.0.0.9".into()),
            load_balance_info: Some("tsv://MS Terminal Services Plugin.1.Lab".into()),
            user: Some("labuser".into()),
            domain: Some("LAB".into()),
            password_len: Some(512),
            target_fqdn: Some("host9.lab".into()),
            target_netbios_name: None,
            tsv_url: None,
            certificate_len: Some(900),
            target_net_addresses: vec!["10.0.0.9".into(), "fe80::9".into()],
        }))),
        rdp(RdpEvent::SaveSessionInfo(Box::new(SaveSessionInfo {
            info_type: pn::SessionInfoType(3),
            domain: None,
            user: None,
            session_id: None,
            fields_present: Some(Flags::new(0x3, pn::LOGON_EX_FLAGS)),
            arc_cookie_len: Some(28),
            logon_error: Some(LogonError {
                error_type: pn::LogonErrorType(0xFFFF_FFFB),
                data: 4,
                failure: None,
                session_id: Some(4),
            }),
        }))),
        rdp(RdpEvent::SetErrorInfo(ErrorInfo(0x10C9))),
        rdp(RdpEvent::DeactivateAll { share_id: None }),
        rdp(RdpEvent::PersistentKeyList {
            entries: 20,
            total: 40,
            flags: Flags::new(0x1, pn::PERSIST_FLAGS),
        }),
        rdp(RdpEvent::ShutdownRequest),
        rdp(RdpEvent::ShutdownDenied),
        rdp(RdpEvent::MonitorLayout { monitors: 2 }),
        rdp(RdpEvent::StatusInfo {
            status: pn::StatusCode(0x402),
        }),
        rdp(RdpEvent::EncryptedFromHere {
            flags: Flags::new(0, pn::SEC_FLAGS),
        }),
        rdp(RdpEvent::CompressedPdu {
            pdu_type2: pn::DataPduType(0x26),
            compression: pn::CompressionType(1),
            flags: Flags::new(0xA0, pn::COMPRESSION_FLAGS),
        }),
        rdp(RdpEvent::MalformedPdu {
            what: "Demand Active".into(),
            reason: "capability set 3 overruns the PDU".into(),
        }),
        (
            Dir::S2C,
            DecodeEvent::Gw(GwEvent::TsguViolation {
                stage: GwStage::Closed,
                reason: "DATA after the close".into(),
            }),
        ),
        (
            Dir::S2C,
            DecodeEvent::Gw(GwEvent::TsguPacket {
                packet: Packet::Unknown {
                    packet_type: 0x99,
                    len: 12,
                },
                len: 12,
            }),
        ),
        (
            Dir::C2S,
            DecodeEvent::Error(DecodeError {
                layer: Layer::Http,
                offset: u64::MAX,
                reason: "bad chunk size line".into(),
            }),
        ),
    ]
}

#[test]
fn rare_events_read_back_the_same() {
    for (dir, e) in rare_events() {
        assert_round_trip(Some(dir), &e);
        assert_round_trip(None, &e);
    }
}

#[test]
fn an_unknown_packets_length_is_the_events() {
    let e = rare_events()
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| matches!(e, DecodeEvent::Gw(GwEvent::TsguPacket { .. })));
    let v = serde_json::to_value(&e).unwrap_or_default();
    assert_eq!(v["len"], json!(12));
    assert_eq!(v.as_object().map(|m| m.len()), Some(4), "{v}");
}

#[test]
fn a_decode_error_belongs_to_its_own_layer() {
    let e = DecodeEvent::Error(DecodeError {
        layer: Layer::Tls,
        offset: 12,
        reason: "record version 0x9999".into(),
    });
    assert_round_trip(Some(Dir::S2C), &e);
    let mut v = record(Some(Dir::S2C), &e);
    assert!(DecodeEvent::from_json(Layer::X224, &v).is_err());
    v["kind"] = json!("decode_failure");
    assert!(DecodeEvent::from_json(Layer::Tls, &v).is_err());
}
