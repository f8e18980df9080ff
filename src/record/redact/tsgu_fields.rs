//! What is secret in the client's MS-TSGU packets (MS-TSGU 2.2.10): the PAA cookie of
//! TUNNEL_CREATE, and the blob of EXTENDED_AUTH_MSG (smart card or PAA data, or an
//! NTLM message, of which only the AUTHENTICATE's responses are secret).

use super::ntlm;
use super::packets::{Judged, PacketFormat};
use crate::decode::tsgu::framer::max_packet;
use crate::decode::tsgu::packet::fields::TUNNEL_CREATE_PAA_COOKIE;
use crate::decode::tsgu::packet::parse_header;
use crate::decode::tsgu::{PacketType, HEADER_LEN};
use crate::decode::wire::{le_u16, le_u32};
use std::ops::Range;

/// MS-TSGU packets as [`PacketScrub`](super::packets::PacketScrub) reads them.
#[derive(Debug, Default)]
pub(super) struct Tsgu {
    /// A DATA packet went by: under `--redact-users` only the first one is held, for
    /// the mstshash cookie of the inner Connection Request.
    data_seen: bool,
}

impl PacketFormat for Tsgu {
    const HEADER: usize = HEADER_LEN;

    fn judge(&mut self, header: &[u8], names: bool) -> Judged {
        let Some((ty, reserved, len)) = parse_header(header) else {
            return Judged::Invalid;
        };
        let ty = PacketType::from_u16(ty);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if reserved != 0 || !(HEADER_LEN..=max_packet(ty)).contains(&len) {
            return Judged::Invalid;
        }
        let first_data = ty == PacketType::Data && !std::mem::replace(&mut self.data_seen, true);
        if may_hold_secret(ty) || (names && first_data) {
            Judged::Hold(len)
        } else {
            Judged::Pass(len)
        }
    }

    fn secrets(&self, packet: &[u8], names: bool) -> Vec<(Range<usize>, u8)> {
        let mut out: Vec<_> = client_secrets(packet, names)
            .into_iter()
            .map(|r| (r, 0))
            .collect();
        if names {
            out.extend(data_cookie(packet).map(|r| (r, super::cookie::FILL)));
        }
        out
    }
}

/// True for the packet types a client sends that may hold a secret.
fn may_hold_secret(ty: PacketType) -> bool {
    matches!(ty, PacketType::TunnelCreate | PacketType::ExtendedAuthMsg)
}

/// The ranges of a client packet (header included; possibly cut short) to zero. With
/// `names` (`--redact-users`), NTLM user and domain names too.
pub(super) fn client_secrets(packet: &[u8], names: bool) -> Vec<Range<usize>> {
    let Some(ty) = le_u16(packet, 0).map(PacketType::from_u16) else {
        return Vec::new();
    };
    // Only the packet's own bytes count, however many were collected.
    let len = le_u32(packet, 4)
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(packet.len())
        .min(packet.len());
    let packet = packet.get(..len).unwrap_or(packet);
    match ty {
        PacketType::TunnelCreate => tunnel_create(packet),
        PacketType::ExtendedAuthMsg => extended_auth(packet, names),
        _ => Vec::new(),
    }
}

/// TUNNEL_CREATE: capsFlags, fieldsPresent, reserved, then the PAA cookie (cbLen, bytes).
fn tunnel_create(p: &[u8]) -> Vec<Range<usize>> {
    let fields = le_u16(p, HEADER_LEN + 4).unwrap_or(0);
    if fields & TUNNEL_CREATE_PAA_COOKIE == 0 {
        return Vec::new();
    }
    counted(p, HEADER_LEN + 8).into_iter().collect()
}

/// EXTENDED_AUTH_MSG: errorCode, then the blob (cbBlob, bytes).
fn extended_auth(p: &[u8], names: bool) -> Vec<Range<usize>> {
    let Some(blob) = counted(p, HEADER_LEN + 4) else {
        return Vec::new();
    };
    let bytes = p.get(blob.clone()).unwrap_or(&[]);
    match ntlm::message_type(bytes) {
        Some(1) => Vec::new(),
        Some(3) => ntlm::authenticate_secrets(bytes, names)
            .into_iter()
            .map(|r| r.start + blob.start..r.end + blob.start)
            .collect(),
        _ => vec![blob],
    }
}

/// The mstshash cookie (the user name) in the X.224 Connection Request a client's DATA
/// packet (header included; possibly cut short) carries: the range to overwrite.
pub(super) fn data_cookie(packet: &[u8]) -> Option<Range<usize>> {
    if le_u16(packet, 0).map(PacketType::from_u16) != Some(PacketType::Data) {
        return None;
    }
    // cbDataLen, then the data: the inner connection's first bytes.
    let data = counted(packet, HEADER_LEN)?;
    let r = super::cookie::value(packet.get(data.clone())?)?;
    Some(r.start + data.start..r.end + data.start)
}

/// The bytes of a u16-counted field whose count sits at `at`, clamped to `p`; None
/// when the count is absent or zero.
fn counted(p: &[u8], at: usize) -> Option<Range<usize>> {
    let n = usize::from(le_u16(p, at)?);
    let start = at + 2;
    (n > 0 && start <= p.len()).then(|| start..(start + n).min(p.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tsgu::packet::build;
    use crate::decode::tsgu::{Caps, Packet, Status};
    use crate::record::redact::test_support::ntlm_type3;

    fn zeroed(mut p: Vec<u8>) -> Vec<u8> {
        for r in client_secrets(&p, false) {
            p[r].fill(0);
        }
        p
    }

    #[test]
    fn paa_cookie_is_zeroed_and_the_packet_still_decodes() {
        let p = build::tunnel_create(Caps(0x1f), Some("paa-cookie-secret"));
        let z = zeroed(p.clone());
        assert_eq!(z.len(), p.len());
        assert!(!String::from_utf16_lossy(
            &z.chunks(2)
                .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect::<Vec<_>>()
        )
        .contains("paa"));
        assert_eq!(Packet::decode(&z), Packet::decode(&p));
        let plain = build::tunnel_create(Caps(0x1f), None);
        assert_eq!(zeroed(plain.clone()), plain);
    }

    #[test]
    fn extended_auth_blobs() {
        let t1 = build::extended_auth_msg(Status(0), b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2");
        assert_eq!(zeroed(t1.clone()), t1);
        let t3 = build::extended_auth_msg(Status(0), &ntlm_type3("u", "D", "W", true));
        let z = zeroed(t3.clone());
        assert!(!z.windows(4).any(|w| w == [0xA5; 4]));
        assert_eq!(Packet::decode(&z), Packet::decode(&t3));
        let sc = build::extended_auth_msg(Status(0), b"smart card blob");
        let z = zeroed(sc.clone());
        assert_eq!(&z[..HEADER_LEN + 6], &sc[..HEADER_LEN + 6]);
        assert!(z[HEADER_LEN + 6..].iter().all(|&b| b == 0));
        // Cut short: whatever of the blob is there goes.
        let cut = &sc[..sc.len() - 4];
        let blob = HEADER_LEN + 6..cut.len();
        assert_eq!(client_secrets(cut, false), vec![blob]);
    }
}
