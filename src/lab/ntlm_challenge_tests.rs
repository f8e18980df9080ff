use super::*;
use base64::Engine as _;

/// The NEGOTIATE xfreerdp 2.11 sends pre-emptively in its first gateway request.
const XFREERDP_NEGOTIATE: &str = "TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==";

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// (len, offset) of a security buffer field.
fn field(b: &[u8], at: usize) -> (usize, usize) {
    assert_eq!(u16_at(b, at), u16_at(b, at + 2), "Len == MaxLen");
    (usize::from(u16_at(b, at)), u32_at(b, at + 4) as usize)
}

fn from_utf16(b: &[u8]) -> String {
    let u: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&u).unwrap()
}

/// Every AV pair in order, EOL included.
fn av_pairs(info: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let id = u16_at(info, at);
        let len = usize::from(u16_at(info, at + 2));
        out.push((id, info[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
        if id == av::EOL {
            assert_eq!(at, info.len(), "nothing after MsvAvEOL");
            return out;
        }
    }
}

#[test]
fn xfreerdp_negotiate_flags_are_read() {
    let msg = b64(XFREERDP_NEGOTIATE);
    assert_eq!(message_type(&msg), Some(NEGOTIATE));
    assert_eq!(negotiate_flags(&msg), Some(0xE208_82B7));
}

#[test]
fn challenge_parses_back() {
    let client = negotiate_flags(&b64(XFREERDP_NEGOTIATE));
    let names = ServerNames::default();
    let ts = 0x01DA_0000_1234_5678u64;
    let msg = build_challenge(client, [1, 2, 3, 4, 5, 6, 7, 8], ts, &names);

    assert_eq!(&msg[..8], SIGNATURE);
    assert_eq!(message_type(&msg), Some(CHALLENGE));
    let f = u32_at(&msg, 20);
    assert_eq!(&msg[24..32], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&msg[32..40], &[0; 8], "reserved");
    // Version: 10.0, NTLM revision 15.
    assert_eq!(msg[48], 10);
    assert_eq!(msg[55], 0x0f);

    let (name_len, name_off) = field(&msg, 12);
    assert_eq!(name_off, 56);
    assert_eq!(
        from_utf16(&msg[name_off..name_off + name_len]),
        names.nb_domain
    );
    let (info_len, info_off) = field(&msg, 40);
    assert_eq!(info_off, name_off + name_len);
    assert_eq!(info_off + info_len, msg.len());

    let pairs = av_pairs(&msg[info_off..]);
    let ids: Vec<u16> = pairs.iter().map(|p| p.0).collect();
    assert_eq!(
        ids,
        vec![
            av::NB_DOMAIN_NAME,
            av::NB_COMPUTER_NAME,
            av::DNS_DOMAIN_NAME,
            av::DNS_COMPUTER_NAME,
            av::TIMESTAMP,
            av::EOL
        ]
    );
    assert_eq!(from_utf16(&pairs[0].1), "RDPTAP-LAB");
    assert_eq!(from_utf16(&pairs[1].1), "LABGW");
    assert_eq!(from_utf16(&pairs[2].1), "rdptap.lab");
    assert_eq!(from_utf16(&pairs[3].1), "labgw.rdptap.lab");
    assert_eq!(pairs[4].1, ts.to_le_bytes().to_vec());
    assert!(pairs[5].1.is_empty());
    assert!(f & flags::TARGET_INFO != 0);
}

#[test]
fn flags_mirror_the_sensible_client_ones() {
    let client = 0xE208_82B7;
    let f = challenge_flags(Some(client));
    for want in [
        flags::UNICODE,
        flags::REQUEST_TARGET,
        flags::SIGN,
        flags::SEAL,
        flags::NTLM,
        flags::ALWAYS_SIGN,
        flags::EXTENDED_SESSIONSECURITY,
        flags::TARGET_INFO,
        flags::TARGET_TYPE_DOMAIN,
        flags::VERSION,
        flags::K128,
        flags::KEY_EXCH,
        flags::K56,
    ] {
        assert!(f & want != 0, "flag {want:#x} missing from {f:#010x}");
    }
    // Never both character sets, never the LM key.
    assert_eq!(f & flags::OEM, 0);
    assert_eq!(f & flags::LM_KEY, 0);

    // A client without SEAL or KEY_EXCH does not get them.
    let plain = flags::UNICODE | flags::NTLM | flags::REQUEST_TARGET;
    let f = challenge_flags(Some(plain));
    assert_eq!(f & (flags::SEAL | flags::KEY_EXCH | flags::VERSION), 0);
    // An OEM-only client gets OEM and an 8-bit target name.
    let f = challenge_flags(Some(flags::OEM | flags::NTLM));
    assert!(f & flags::OEM != 0 && f & flags::UNICODE == 0);
    let msg = build_challenge(
        Some(flags::OEM | flags::NTLM),
        [0; 8],
        0,
        &ServerNames::default(),
    );
    let (len, off) = field(&msg, 12);
    assert_eq!(&msg[off..off + len], b"RDPTAP-LAB");
    // No NEGOTIATE seen: a full modern set.
    let f = challenge_flags(None);
    assert!(f & flags::UNICODE != 0 && f & flags::EXTENDED_SESSIONSECURITY != 0);
}

/// A minimal AUTHENTICATE_MESSAGE naming `domain\user` from `ws`.
fn authenticate(domain: &str, user: &str, ws: &str, unicode: bool) -> Vec<u8> {
    let enc = |s: &str| -> Vec<u8> {
        if unicode {
            s.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            s.as_bytes().to_vec()
        }
    };
    let (d, u, w) = (enc(domain), enc(user), enc(ws));
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&AUTHENTICATE.to_le_bytes());
    let mut off = 64u32;
    let mut fields = Vec::new();
    for part in [&[][..], &[0xAA; 24][..], &d, &u, &w, &[][..]] {
        fields.push((part.len() as u16, off));
        off += part.len() as u32;
    }
    for (len, o) in &fields {
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&o.to_le_bytes());
    }
    let f = if unicode { flags::UNICODE } else { flags::OEM };
    m.extend_from_slice(&f.to_le_bytes());
    m.extend_from_slice(&[0xAA; 24]);
    m.extend_from_slice(&d);
    m.extend_from_slice(&u);
    m.extend_from_slice(&w);
    m
}

#[test]
fn authenticate_names_are_read() {
    let msg = authenticate("LAB", "gwuser", "CLIENT1", true);
    let n = authenticate_names(&msg).unwrap();
    assert_eq!(n.user, "gwuser");
    assert_eq!(n.domain, "LAB");
    assert_eq!(n.workstation, "CLIENT1");
    let n = authenticate_names(&authenticate("", "bob", "", false)).unwrap();
    assert_eq!((n.user.as_str(), n.domain.as_str()), ("bob", ""));
}

#[test]
fn garbage_never_panics() {
    assert_eq!(message_type(b"NTLM"), None);
    assert_eq!(negotiate_flags(b"NTLMSSP\0\x01\x00\x00\x00"), None);
    let mut msg = authenticate("D", "U", "W", true);
    // Offsets past the end.
    msg[40] = 0xff;
    msg[41] = 0xff;
    assert_eq!(authenticate_names(&msg), None);
    for cut in 0..msg.len() {
        let _ = authenticate_names(&msg[..cut]);
    }
    assert_eq!(authenticate_names(&b64(XFREERDP_NEGOTIATE)), None);
}

#[test]
fn filetime_is_after_2020() {
    // 2020-01-01 as a FILETIME.
    assert!(filetime_now() > 132_223_104_000_000_000);
}
