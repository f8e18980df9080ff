//! The little BER (X.690) reader that T.125's Connect-Initial/Connect-Response need.
//!
//! Only definite lengths and one-byte high tag numbers occur in MCS connect PDUs, so
//! anything else is reported as malformed rather than guessed at. The bytes are read
//! through the shared [`wire::Reader`]; only the BER forms are here.

use crate::decode::wire;

/// Why a BER element could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BerError {
    /// The data ended inside the element's header (a truncated PDU).
    Truncated,
    /// The header itself is not valid BER, or is not the expected element.
    Malformed(String),
}

/// A BER element: its tag (high-tag form folded into one u16) and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    /// The tag: one byte, or `0x7F00 | number` style two-byte form, e.g. 0x7F65.
    pub tag: u16,
    /// The contents, cut short if the data ended before the declared length.
    pub value: &'a [u8],
    /// True when the declared length ran past the available data.
    pub truncated: bool,
}

/// Reads BER elements one after another from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Reads the next element, whatever its tag.
    pub fn next_element(&mut self) -> Result<Element<'a>, BerError> {
        let mut r = wire::Reader::new(self.data);
        let tag = read_tag(&mut r)?;
        let len = read_length(&mut r)?;
        let body = r.rest();
        // A declared length past the end means the PDU was cut short: hand back what
        // there is and let the caller read what it can (decoders here are lenient).
        let truncated = len > body.len();
        let take = len.min(body.len());
        let (value, rest) = body.split_at(take);
        self.data = rest;
        Ok(Element {
            tag,
            value,
            truncated,
        })
    }

    /// Reads the next element, which must carry `tag`.
    pub fn expect(&mut self, tag: u16, what: &str) -> Result<Element<'a>, BerError> {
        let e = self.next_element()?;
        if e.tag != tag {
            return Err(BerError::Malformed(format!(
                "expected {what} (BER tag 0x{tag:02x}), found tag 0x{:02x}",
                e.tag
            )));
        }
        Ok(e)
    }
}

/// Reads an identifier octet (or the two-octet high-tag form).
fn read_tag(r: &mut wire::Reader<'_>) -> Result<u16, BerError> {
    let first = r.u8().map_err(|_| BerError::Truncated)?;
    if first & 0x1f != 0x1f {
        return Ok(u16::from(first));
    }
    let second = r.u8().map_err(|_| BerError::Truncated)?;
    // A continuation bit would mean a tag number >= 128: not something MCS uses.
    if second & 0x80 != 0 {
        return Err(BerError::Malformed(format!(
            "BER tag 0x{first:02x} 0x{second:02x} uses a multi-byte tag number"
        )));
    }
    Ok((u16::from(first) << 8) | u16::from(second))
}

/// Reads a definite length.
fn read_length(r: &mut wire::Reader<'_>) -> Result<usize, BerError> {
    let first = r.u8().map_err(|_| BerError::Truncated)?;
    if first & 0x80 == 0 {
        return Ok(usize::from(first));
    }
    let count = usize::from(first & 0x7f);
    // 0x80 is the indefinite form (not allowed in DER/MCS); more than 4 length bytes
    // could not describe anything that fits in a TPKT.
    if count == 0 || count > 4 {
        return Err(BerError::Malformed(format!(
            "unsupported BER length form 0x{first:02x}"
        )));
    }
    let bytes = r.take(count).map_err(|_| BerError::Truncated)?;
    Ok(bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)))
}

/// The value of a BER INTEGER/ENUMERATED content of 1..=4 bytes, unsigned.
pub fn small_uint(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let mut r = Reader::new(&[
            0x04, 0x01, 0xaa, 0x04, 0x81, 0x02, 1, 2, 0x30, 0x82, 0, 1, 9,
        ]);
        assert_eq!(r.expect(0x04, "a").unwrap().value, &[0xaa]);
        assert_eq!(r.expect(0x04, "b").unwrap().value, &[1, 2]);
        assert_eq!(r.expect(0x30, "c").unwrap().value, &[9]);
        assert!(r.is_empty());
    }

    #[test]
    fn application_tags() {
        let mut r = Reader::new(&[0x7f, 0x65, 0x82, 0x01, 0x94, 0x04]);
        let e = r.next_element().unwrap();
        assert_eq!(e.tag, 0x7f65);
        assert!(e.truncated);
        assert_eq!(e.value, &[0x04]);
    }

    #[test]
    fn bad_headers() {
        assert_eq!(Reader::new(&[]).next_element(), Err(BerError::Truncated));
        assert_eq!(
            Reader::new(&[0x04]).next_element(),
            Err(BerError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x7f]).next_element(),
            Err(BerError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x04, 0x82, 0x01]).next_element(),
            Err(BerError::Truncated)
        );
        assert!(matches!(
            Reader::new(&[0x04, 0x80]).next_element(),
            Err(BerError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0x04, 0x85, 1, 1, 1, 1, 1]).next_element(),
            Err(BerError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0x7f, 0x81, 0x01]).next_element(),
            Err(BerError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0x02, 0x01, 0x00]).expect(0x0a, "x"),
            Err(BerError::Malformed(_))
        ));
        // Largest 4-byte length does not overflow.
        let e = Reader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff])
            .next_element()
            .unwrap();
        assert!(e.truncated);
    }

    #[test]
    fn small_uints() {
        assert_eq!(small_uint(&[0x0e]), Some(14));
        assert_eq!(small_uint(&[0x01, 0x00]), Some(256));
        assert_eq!(small_uint(&[]), None);
        assert_eq!(small_uint(&[1, 2, 3, 4, 5]), None);
    }
}
