use super::super::test_msgs::*;
use super::*;

#[test]
fn ntlm_negotiate_from_the_sample() {
    let a = analyse_authorization(&format!("NTLM {TYPE1_B64}"));
    assert_eq!(a.scheme, AuthScheme::Ntlm);
    assert_eq!(a.token_len, TYPE1_B64.len());
    assert!(!a.kerberos);
    let ntlm = a.ntlm.expect("an NTLM message");
    assert_eq!(ntlm.message_type, 1);
    assert_eq!(ntlm.type_name(), "NEGOTIATE");
    assert_eq!(
        (ntlm.user, ntlm.domain, ntlm.workstation),
        (None, None, None)
    );
}

#[test]
fn ntlm_negotiate_with_supplied_oem_names() {
    // Flags with OEM_DOMAIN_SUPPLIED and OEM_WORKSTATION_SUPPLIED, then the two fields.
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&0x0000_3207u32.to_le_bytes());
    m.extend_from_slice(&[3, 0, 3, 0, 32, 0, 0, 0]);
    m.extend_from_slice(&[4, 0, 4, 0, 35, 0, 0, 0]);
    m.extend_from_slice(b"LABWS01");
    let info = ntlm_message(&m).expect("parsed");
    assert_eq!(info.domain.as_deref(), Some("LAB"));
    assert_eq!(info.workstation.as_deref(), Some("WS01"));
}

#[test]
fn ntlm_challenge_names_the_target() {
    let mut out = Vec::new();
    analyse_challenges(&format!("NTLM {}", b64(&ntlm_type2("LAB"))), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].scheme, AuthScheme::Ntlm);
    let ntlm = out[0].ntlm.clone().expect("a challenge");
    assert_eq!(ntlm.message_type, 2);
    assert_eq!(ntlm.domain.as_deref(), Some("LAB"));
    assert_eq!(ntlm.user, None);
}

#[test]
fn ntlm_authenticate_gives_the_account_unicode_and_oem() {
    for unicode in [true, false] {
        let token = b64(&ntlm_type3("labuser", "LAB", "WS01", unicode));
        let a = analyse_authorization(&format!("NTLM {token}"));
        let ntlm = a.ntlm.expect("an AUTHENTICATE");
        assert_eq!(ntlm.message_type, 3);
        assert_eq!(ntlm.user.as_deref(), Some("labuser"), "unicode={unicode}");
        assert_eq!(ntlm.domain.as_deref(), Some("LAB"));
        assert_eq!(ntlm.workstation.as_deref(), Some("WS01"));
        let json = serde_json::to_string(&ntlm).unwrap_or_default();
        assert!(!json.contains(&b64(&NT_RESPONSE)));
    }
}

#[test]
fn every_prefix_of_an_authenticate_is_safe() {
    let m = ntlm_type3("labuser", "LAB", "WS01", true);
    for n in 0..=m.len() {
        let _ = ntlm_message(&m[..n]);
    }
    // Offsets pointing past the end give no names rather than garbage.
    let mut bad = m.clone();
    bad[40] = 0xFF;
    bad[41] = 0xFF;
    assert_eq!(ntlm_message(&bad).and_then(|i| i.user), None);
}

#[test]
fn negotiate_wrapping_ntlm_is_ntlm() {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(TYPE1_B64)
        .unwrap_or_default();
    for token in [raw.clone(), spnego_ntlm(&raw)] {
        let a = analyse_authorization(&format!("Negotiate {}", b64(&token)));
        assert_eq!(a.scheme, AuthScheme::Negotiate);
        assert_eq!(a.ntlm.map(|n| n.message_type), Some(1));
        assert!(!a.kerberos);
    }
    let t3 = spnego_ntlm(&ntlm_type3("labuser", "LAB", "WS01", true));
    let a = analyse_authorization(&format!("Negotiate {}", b64(&t3)));
    assert_eq!(a.ntlm.and_then(|n| n.user).as_deref(), Some("labuser"));
}

#[test]
fn negotiate_with_kerberos_is_detected() {
    let a = analyse_authorization(&format!("Negotiate {}", b64(&spnego_kerberos())));
    assert_eq!(a.scheme, AuthScheme::Negotiate);
    assert!(a.kerberos);
    assert_eq!(a.ntlm, None);
}

#[test]
fn basic_is_never_decoded_and_realm_is_shown() {
    // "labuser:Hunter2"
    let a = analyse_authorization("Basic bGFidXNlcjpIdW50ZXIy");
    assert_eq!(a.scheme, AuthScheme::Basic);
    assert_eq!(a.token_len, 20);
    assert_eq!(a.ntlm, None);
    let json = serde_json::to_string(&a).unwrap_or_default();
    assert!(
        !json.contains("Hunter2") && !json.contains("bGFi"),
        "{json}"
    );

    let mut out = Vec::new();
    analyse_challenges(r#"Basic realm="RD Gateway", charset="UTF-8""#, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].scheme, AuthScheme::Basic);
    assert_eq!(out[0].realm.as_deref(), Some("RD Gateway"));
    assert_eq!(out[0].token_len, 0);
}

#[test]
fn several_challenges_in_one_header() {
    let mut out = Vec::new();
    analyse_challenges(
        r#"Negotiate, NTLM, Basic realm="a, b", Bearer realm="x", error="invalid_token""#,
        &mut out,
    );
    let schemes: Vec<String> = out.iter().map(|c| c.scheme.to_string()).collect();
    assert_eq!(schemes, ["Negotiate", "NTLM", "Basic", "Bearer"]);
    assert_eq!(out[2].realm.as_deref(), Some("a, b"));
    assert_eq!(out[3].realm.as_deref(), Some("x"));
}

#[test]
fn scheme_names_and_serde() {
    for (name, scheme) in [
        ("negotiate", AuthScheme::Negotiate),
        ("NTLM", AuthScheme::Ntlm),
        ("Kerberos", AuthScheme::Kerberos),
        ("BASIC", AuthScheme::Basic),
        ("Bearer", AuthScheme::Bearer),
        ("Digest", AuthScheme::Digest),
        ("PAA", AuthScheme::Paa),
        ("SMARTCARD", AuthScheme::Other("SMARTCARD".into())),
    ] {
        assert_eq!(AuthScheme::from_name(name), scheme);
    }
    assert_eq!(
        serde_json::to_string(&AuthScheme::Ntlm).unwrap_or_default(),
        "\"NTLM\""
    );
}

#[test]
fn junk_tokens_are_safe() {
    for v in [
        "",
        "NTLM",
        "NTLM !!!",
        "Negotiate TlRMTVNTUAADAAAA",
        "Negotiate YII=",
        "NTLM TlRMTVNTUAAEAAAA",
    ] {
        let a = analyse_authorization(v);
        assert!(a.ntlm.is_none() || a.ntlm.is_some_and(|n| n.user.is_none()));
        let mut out = Vec::new();
        analyse_challenges(v, &mut out);
    }
}
