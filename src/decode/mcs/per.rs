//! The T.124 GCC wrapper (aligned PER) around RDP's user data blocks.
//!
//! MCS userData holds a GCC ConnectData: the T.124 object identifier, then a
//! length-prefixed ConnectGCCPDU (Conference Create Request or Response). RDP puts its
//! data blocks in that PDU's single UserData set, labelled with an H.221 key ("Duca"
//! from the client, "McDn" from the server).

/// The T.124 object identifier 0.0.20.124.0.1, as its BER content bytes.
const T124_OID: [u8; 5] = [0x00, 0x14, 0x7c, 0x00, 0x01];

/// H.221 non-standard key of client-to-server user data.
pub const CLIENT_KEY: &[u8; 4] = b"Duca";

/// H.221 non-standard key of server-to-client user data.
pub const SERVER_KEY: &[u8; 4] = b"McDn";

/// How far into the ConnectGCCPDU the key may sit.
///
/// The fields before it (choice, optional-field bitmap, conference name, node id, tag,
/// result, set count) are bit-packed PER whose layout shifts with optional fields;
/// every implementation keeps them well under this bound, and bounding the scan means
/// arbitrary bytes can never be mistaken for a key far inside the data blocks.
const KEY_SEARCH_LIMIT: usize = 32;

/// A PER length determinant (X.691 10.9) at the start of `data`: its value and size.
///
/// Returns None when the data ends inside it, or when it is the fragmented form
/// (11xxxxxx), which no RDP peer uses for connect data.
pub fn length(data: &[u8]) -> Option<(usize, usize)> {
    let &first = data.first()?;
    match first >> 6 {
        0 | 1 => Some((usize::from(first), 1)),
        2 => {
            let &second = data.get(1)?;
            Some(((usize::from(first & 0x3f) << 8) | usize::from(second), 2))
        }
        _ => None,
    }
}

/// The RDP data blocks inside a GCC ConnectData carrying `key`, if it is one.
///
/// Lenient: when a length runs past the end, the available bytes are returned, so a
/// truncated PDU still yields the blocks it holds.
pub fn user_data<'a>(connect_data: &'a [u8], key: &[u8; 4]) -> Option<&'a [u8]> {
    // Key ::= CHOICE { object OBJECT IDENTIFIER, h221NonStandard ... }: choice 0, then
    // the OID's length and content bytes.
    let (&choice, &oid_len) = (connect_data.first()?, connect_data.get(1)?);
    if choice != 0 || connect_data.get(2..2 + usize::from(oid_len))? != T124_OID {
        return None;
    }
    let after_oid = connect_data.get(2 + T124_OID.len()..)?;
    // The connectPDU length is not trusted: Windows and xrdp servers send 0x2a there
    // whatever the real size, and FreeRDP ignores it too. The user data length after
    // the key is the one that is right in practice.
    let (_pdu_len, n) = length(after_oid)?;
    let pdu = after_oid.get(n..)?;
    let window = pdu.get(..KEY_SEARCH_LIMIT).unwrap_or(pdu);
    let at = window.windows(key.len()).position(|w| w == key)?;
    let after_key = pdu.get(at + key.len()..)?;
    let (data_len, n) = length(after_key)?;
    Some(clamp(after_key.get(n..)?, data_len))
}

/// At most `len` bytes of `data`.
fn clamp(data: &[u8], len: usize) -> &[u8] {
    data.get(..len).unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ConnectData prefix every RDP client sends before its data blocks, as in
    /// MS-RDPBCGR 4.1.3 (with the two length determinants filled in).
    fn request(blocks: &[u8]) -> Vec<u8> {
        let mut pdu = vec![0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00];
        pdu.extend_from_slice(CLIENT_KEY);
        push_len(&mut pdu, blocks.len());
        pdu.extend_from_slice(blocks);
        let mut v = vec![0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01];
        push_len(&mut v, pdu.len());
        v.extend_from_slice(&pdu);
        v
    }

    fn push_len(v: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            v.push(len as u8);
        } else {
            v.push(0x80 | (len >> 8) as u8);
            v.push(len as u8);
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(length(&[0x05]), Some((5, 1)));
        assert_eq!(length(&[0x7f]), Some((127, 1)));
        assert_eq!(length(&[0x81, 0x2a]), Some((0x12a, 2)));
        assert_eq!(length(&[0xbf, 0xff]), Some((0x3fff, 2)));
        assert_eq!(length(&[0x81]), None);
        assert_eq!(length(&[0xc1, 0x00]), None);
        assert_eq!(length(&[]), None);
    }

    #[test]
    fn finds_blocks_short_and_long() {
        let small = [1u8, 2, 3, 4];
        assert_eq!(user_data(&request(&small), CLIENT_KEY), Some(&small[..]));
        let big = vec![7u8; 300];
        assert_eq!(user_data(&request(&big), CLIENT_KEY), Some(&big[..]));
        assert_eq!(user_data(&request(&small), SERVER_KEY), None);
    }

    #[test]
    fn truncated_data_gives_what_is_there() {
        let big = vec![7u8; 300];
        let full = request(&big);
        let cut = &full[..full.len() - 100];
        assert_eq!(user_data(cut, CLIENT_KEY).map(<[u8]>::len), Some(200));
        for n in 0..full.len() {
            let _ = user_data(&full[..n], CLIENT_KEY);
        }
    }

    #[test]
    fn bogus_connect_pdu_length_is_ignored() {
        // As servers send it: connectPDU length 0x2a, far less than the real size.
        let blocks = vec![9u8; 200];
        let mut v = request(&blocks);
        v[7..9].copy_from_slice(&[0x00, 0x2a]);
        let v: Vec<u8> = v[..7].iter().chain(&v[8..]).copied().collect();
        assert_eq!(user_data(&v, CLIENT_KEY), Some(&blocks[..]));
    }

    #[test]
    fn wrong_object_identifier_is_refused() {
        let mut v = request(&[1, 2, 3, 4]);
        v[4] = 0x7d;
        assert_eq!(user_data(&v, CLIENT_KEY), None);
        v[0] = 1;
        assert_eq!(user_data(&v, CLIENT_KEY), None);
    }
}
