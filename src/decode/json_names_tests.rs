//! Hand-made values of every named type, known and unknown codes alike, through JSON
//! and back; and the forms a writer never produces but a reader should still take
//! (a code written by name only, unknown names).

use super::http::{AuthScheme, Method};
use super::mcs::{ChannelName, EncryptionLevel, EncryptionMethods, McsResult};
use super::names::{NegFailureCode, Protocols};
use super::pdu::errinfo::ErrorInfo;
use super::pdu::licensing::{LicenseErrorCode, LicenseMsgType, StateTransition};
use super::pdu::names::{self as pn, Flags};
use super::tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
use super::tsgu::{Caps, ExtendedAuth, GwStage, PacketType, RedirFlags, Status, StatusKind};
use super::ws::CloseCode;
use super::x509::CertInfo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;

/// Checks that `v` reads back from its JSON as itself, writing the same JSON.
fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let written = serde_json::to_string(v).expect("serialises");
    let back: T = serde_json::from_str(&written).unwrap_or_else(|e| panic!("{e}: {written}"));
    assert_eq!(&back, v, "{written}");
    assert_eq!(serde_json::to_string(&back).ok(), Some(written));
}

/// Checks that `v` reads back as something that writes the same JSON (the JSON does
/// not hold all of `v`), and returns it.
fn same_json<T: Serialize + DeserializeOwned + Debug>(v: &T) -> T {
    let written = serde_json::to_string(v).expect("serialises");
    let back: T = serde_json::from_str(&written).unwrap_or_else(|e| panic!("{e}: {written}"));
    assert_eq!(serde_json::to_string(&back).ok(), Some(written));
    back
}

/// Reads `v` as a `T`.
fn read<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[test]
fn connection_setup_names() {
    for p in [0, 0x1, 0x3, 0xb, 0x1f, 0x41, 0x8000_0000] {
        same(&Protocols(p));
    }
    for code in 1..=7 {
        same(&NegFailureCode::from_u32(code));
    }
    // An Other holding a defined code is only hand-made; it reads back as written.
    same(&NegFailureCode::Other(5));
    same(&NegFailureCode::Other(u32::MAX));
    assert_eq!(
        read::<Protocols>(json!(["HYBRID", "SSL"])),
        Ok(Protocols(3))
    );
    assert!(read::<Protocols>(json!(["TLS"])).is_err());
    assert!(read::<NegFailureCode>(json!("unknown failure code +5")).is_err());
}

#[test]
fn mcs_names() {
    for r in [0, 3, 15, 16, 255] {
        same(&McsResult(r));
    }
    for l in [0, 1, 2, 3, 4, 9, u32::MAX] {
        same(&EncryptionLevel(l));
    }
    for m in [0, 0x1, 0x1b, 0x102, 0x8000_0000] {
        same(&EncryptionMethods(m));
    }
    for c in [
        ChannelName::Io,
        ChannelName::User,
        ChannelName::Message,
        ChannelName::Virtual("rdpdr".into()),
        ChannelName::Virtual(String::new()),
    ] {
        same(&c);
    }
    // A virtual channel named like a fixed one writes the same JSON as that one.
    assert_eq!(
        same_json(&ChannelName::Virtual("user".into())),
        ChannelName::User
    );
    assert!(read::<McsResult>(json!("rt-unknown-256")).is_err());
    assert!(read::<EncryptionLevel>(json!("MEDIUM")).is_err());
}

#[test]
fn tls_names() {
    for v in [0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x0305, 0x7f1c] {
        same(&TlsVersion(v));
    }
    for c in [
        0x0000, 0x1301, 0xc030, 0x00ff, 0x5600, 0xcca8, 0xbeef, 0xffff,
    ] {
        same(&CipherSuite(c));
    }
    for l in [1, 2, 0, 7] {
        same(&AlertLevel(l));
    }
    for d in [0, 48, 86, 120, 7, 255] {
        same(&AlertDescription(d));
    }
    // Every GREASE value is written "GREASE": its code point is not in the JSON.
    assert!(same_json(&TlsVersion(0x7a7a)).is_grease());
    assert!(same_json(&CipherSuite(0x3a3a)).is_grease());
    assert!(read::<CipherSuite>(json!("TLS_MADE_UP")).is_err());
    assert!(read::<TlsVersion>(json!("0x10000")).is_err());
    assert!(read::<AlertDescription>(json!("alert 256")).is_err());
}

#[test]
fn rdp_codes_read_back_by_code_or_by_name() {
    for a in [1, 4, 9] {
        same(&pn::ControlAction(a));
    }
    same(&pn::CompressionType(2));
    same(&pn::CompressionType(15));
    same(&pn::AddressFamily(0x17));
    same(&pn::ShareControlType(0xA));
    same(&pn::DataPduType(0x2f));
    same(&pn::DataPduType(0xff));
    same(&pn::CapabilitySetType(30));
    same(&pn::OsMajorType(99));
    same(&pn::OsMinorType(9));
    same(&pn::StatusCode(0x505));
    same(&pn::SessionInfoType(3));
    same(&pn::LogonErrorType(0xC000_006D));
    same(&pn::LogonFailure(7));
    same(&LicenseMsgType(0xFF));
    same(&LicenseErrorCode(0x07));
    same(&StateTransition(9));
    for e in [0, 7, 0x10C9, 0x1116, 0xBEEF] {
        same(&ErrorInfo(e));
    }
    assert_eq!(
        read(json!({"name": "CTRLACTION_COOPERATE"})),
        Ok(pn::ControlAction(4))
    );
    assert_eq!(
        read(json!({"name": "ERRINFO_SERVER_DENIED_CONNECTION"})),
        Ok(ErrorInfo(7))
    );
    assert!(read::<pn::ControlAction>(json!({"name": "unknown"})).is_err());
    assert!(read::<ErrorInfo>(json!({"name": "ERRINFO_UNKNOWN"})).is_err());
    assert!(read::<pn::ControlAction>(json!({})).is_err());
    assert!(read::<pn::ControlAction>(json!({"code": 70000})).is_err());
}

#[test]
fn flags_read_back_with_their_table() {
    let tables = [
        pn::SEC_FLAGS,
        pn::INFO_FLAGS,
        pn::PERF_FLAGS,
        pn::LB_FLAGS,
        pn::GENERAL_EXTRA_FLAGS,
        pn::COMPRESSION_FLAGS,
        pn::PERSIST_FLAGS,
        pn::LOGON_EX_FLAGS,
    ];
    for table in tables {
        let all = table.iter().fold(0, |acc, (bit, _)| acc | bit);
        for value in [all, table[0].0, table[table.len() - 1].0 | 0x0100_0000] {
            let f = Flags::new(value, table);
            // Read alone, the table is found by the names of the bits.
            let back = same_json(&f);
            assert_eq!(back.names(), f.names());
        }
    }
    // With no bit the names can tell, any table renders the same.
    assert_eq!(same_json(&Flags::new(0, pn::LB_FLAGS)).to_string(), "none");
    let v = serde_json::to_value(Flags::new(0x48, pn::SEC_FLAGS)).unwrap_or_default();
    let exact = pn::read_flags::sec(&v).map_err(|e| e.to_string());
    assert_eq!(exact, Ok(Flags::new(0x48, pn::SEC_FLAGS)));
    assert!(read::<Flags>(json!({"names": []})).is_err());
}

#[test]
fn gateway_http_and_websocket_names() {
    for m in [
        "RDG_OUT_DATA",
        "RDG_IN_DATA",
        "RPC_IN_DATA",
        "RPC_OUT_DATA",
        "GET",
        "POST",
        "PROPFIND",
    ] {
        same(&Method::from_token(m));
    }
    for s in [
        "Negotiate",
        "NTLM",
        "Kerberos",
        "Basic",
        "Bearer",
        "Digest",
        "PAA",
        "X-Custom",
    ] {
        same(&AuthScheme::from_name(s));
    }
    // Schemes are case-insensitive, so a hand-written lower-case name is the known one.
    assert_eq!(read(json!("negotiate")), Ok(AuthScheme::Negotiate));
    for c in [
        1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 4321, 0,
    ] {
        same(&CloseCode::from_u16(c));
    }
    same(&CloseCode::Other(1000));
    assert!(read::<CloseCode>(json!("close code 70000")).is_err());
}

#[test]
fn tsgu_names() {
    for a in [0, 0x1, 0x2, 0x4, 0x8, 0x1e, 0x8000] {
        same(&ExtendedAuth(a));
    }
    for c in [0, 0x3f, 0x105, u32::MAX] {
        same(&Caps(c));
    }
    for r in [0, 0x8000_0000, 0x4000_0000, 0x1f, 0x8000_0009, 0x100] {
        same(&RedirFlags(r));
    }
    for s in [
        0,
        0x8007_59DA,
        0x59DA,
        0x0000_04CA,
        0x8009_030C,
        0x1234_5678,
        u32::MAX,
    ] {
        same(&Status(s));
        same(&Status(s).kind());
    }
    for t in 0..0x20 {
        same(&PacketType::from_u16(t));
    }
    same(&GwStage::ChannelCreate);
    assert_eq!(
        read(json!({"names": ["PAA", "0x10"]})),
        Ok(ExtendedAuth(0x12))
    );
    assert_eq!(read(json!({"names": ["NONE"]})), Ok(Caps(0)));
    assert_eq!(
        read(json!({"name": "E_PROXY_RAP_ACCESSDENIED"})),
        Ok(Status(0x8007_59DA))
    );
    assert!(read::<ExtendedAuth>(json!({"raw": "0x10000"})).is_err());
    assert!(read::<Caps>(json!({"raw": "12"})).is_err());
    assert!(read::<RedirFlags>(json!({"names": ["DISABLE_EVERYTHING"]})).is_err());
    assert!(read::<Status>(json!({"code": "0x-1"})).is_err());
    assert!(read::<Status>(json!({"name": "unknown"})).is_err());
    assert!(read::<StatusKind>(json!("E_PROXY_NOTHING")).is_err());
}

/// A certificate as the TLS decoder reads it, from a freshly minted one.
fn minted_cert() -> CertInfo {
    let mut p = rcgen::CertificateParams::new(vec!["lab-host".to_string(), "10.0.0.5".into()])
        .expect("params");
    p.not_before = time::macros::datetime!(2026-11-21 09:13:22 UTC);
    p.not_after = time::macros::datetime!(2126-12-21 10:13:22 UTC);
    let key = rcgen::KeyPair::generate().expect("key");
    let der = p.self_signed(&key).expect("cert").der().to_vec();
    super::x509::parse(&der).expect("parses")
}

#[test]
fn certificates_come_back_with_their_times_and_without_der() {
    let cert = minted_cert();
    let back = same_json(&cert);
    assert_eq!(back.not_before_unix, cert.not_before_unix);
    assert_eq!(back.not_after_unix, cert.not_after_unix);
    assert!(back.der.is_empty());
    assert_eq!(
        CertInfo {
            der: Vec::new(),
            ..cert.clone()
        },
        back
    );
    // Years RFC 3339 cannot hold are written as Unix seconds.
    let mut v = serde_json::to_value(&cert).unwrap_or_default();
    v["not_after"] = json!("@-62198755200");
    let far: Result<CertInfo, _> = read(v.clone());
    assert_eq!(far.map(|c| c.not_after_unix), Ok(-62_198_755_200));
    v["not_after"] = json!("the day after tomorrow");
    assert!(read::<CertInfo>(v.clone()).is_err());
    v["not_after"] = json!(20261221);
    assert!(read::<CertInfo>(v).is_err());
}
