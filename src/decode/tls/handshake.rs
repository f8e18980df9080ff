//! Handshake message reassembly across record boundaries, with a hard size cap.
//!
//! A handshake message (type u8, length u24, body) may span several records, and one
//! record may carry several messages. Messages that sit wholly inside one record body
//! are handed out in place; only a message cut by a record boundary is buffered, and
//! never beyond [`MAX_HANDSHAKE_MSG`] bytes, however large its length field claims.

/// Largest handshake message body we reassemble (a certificate chain fits easily).
pub const MAX_HANDSHAKE_MSG: usize = 64 * 1024;

/// Length of a handshake message header: msg_type u8, length u24.
const MSG_HEADER_LEN: usize = 4;

/// ClientHello message type.
pub const HT_CLIENT_HELLO: u8 = 1;
/// ServerHello (and HelloRetryRequest) message type.
pub const HT_SERVER_HELLO: u8 = 2;
/// Certificate message type.
pub const HT_CERTIFICATE: u8 = 11;

/// Joins handshake record bodies into whole messages.
#[derive(Debug, Default)]
pub struct HandshakeReassembler {
    /// The start of a message whose end has not arrived yet (at most one message).
    partial: Vec<u8>,
}

/// The declared body length in a message header, if the header is complete.
fn declared_len(b: &[u8]) -> Option<usize> {
    match b {
        [_, a, b, c, ..] => Some(u32::from_be_bytes([0, *a, *b, *c]) as usize),
        _ => None,
    }
}

/// Refuses a message whose length field is over the cap, before anything is buffered.
fn check_len(len: usize) -> Result<(), String> {
    if len > MAX_HANDSHAKE_MSG {
        Err(format!(
            "handshake message of {len} bytes exceeds the {MAX_HANDSHAKE_MSG} byte limit"
        ))
    } else {
        Ok(())
    }
}

impl HandshakeReassembler {
    /// Bytes held while waiting for the rest of a message.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Forgets any partial message and releases its memory.
    pub fn clear(&mut self) {
        self.partial = Vec::new();
    }

    /// Adds the next piece of handshake bytes; `on_msg(type, body)` gets each whole
    /// message. Stops at the first error from the cap or from `on_msg`.
    pub fn push<E>(
        &mut self,
        mut piece: &[u8],
        mut on_msg: impl FnMut(u8, &[u8]) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<String>,
    {
        if !self.partial.is_empty() {
            // Finish the message started earlier, taking only the bytes that belong to
            // it, so the buffer never exceeds one capped message.
            if self.partial.len() < MSG_HEADER_LEN {
                let n = (MSG_HEADER_LEN - self.partial.len()).min(piece.len());
                self.partial.extend_from_slice(&piece[..n]);
                piece = &piece[n..];
            }
            let Some(len) = declared_len(&self.partial) else {
                return Ok(());
            };
            check_len(len).map_err(E::from)?;
            let total = MSG_HEADER_LEN + len;
            let n = (total - self.partial.len()).min(piece.len());
            self.partial.extend_from_slice(&piece[..n]);
            piece = &piece[n..];
            if self.partial.len() < total {
                return Ok(());
            }
            let msg = std::mem::take(&mut self.partial);
            on_msg(msg[0], &msg[MSG_HEADER_LEN..])?;
        }
        // Whole messages straight from the piece; buffer only an incomplete tail.
        while !piece.is_empty() {
            match declared_len(piece) {
                Some(len) => {
                    check_len(len).map_err(E::from)?;
                    let total = MSG_HEADER_LEN + len;
                    if piece.len() < total {
                        self.partial.extend_from_slice(piece);
                        return Ok(());
                    }
                    let (msg, rest) = piece.split_at(total);
                    piece = rest;
                    on_msg(msg[0], &msg[MSG_HEADER_LEN..])?;
                }
                None => {
                    self.partial.extend_from_slice(piece);
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(pieces: &[&[u8]]) -> Result<Vec<(u8, Vec<u8>)>, String> {
        let mut r = HandshakeReassembler::default();
        let mut out = Vec::new();
        for p in pieces {
            r.push(p, |t, b| {
                out.push((t, b.to_vec()));
                Ok::<(), String>(())
            })?;
        }
        Ok(out)
    }

    #[test]
    fn messages_across_and_within_pieces() {
        let stream = [1u8, 0, 0, 2, 7, 7, 2, 0, 0, 0, 14, 0, 0, 1, 5];
        let want = vec![(1, vec![7, 7]), (2, vec![]), (14, vec![5])];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let got = msgs(&[&stream[..a], &stream[a..b], &stream[b..]]).unwrap();
                assert_eq!(got, want, "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn oversized_message_is_refused_before_buffering() {
        let err = msgs(&[&[11, 0x01, 0x00, 0x01, 0]]).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
        // Split header: refused as soon as the length is known.
        let err = msgs(&[&[11, 0x10], &[0, 0]]).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
        // Exactly at the cap is fine (and buffered only as it arrives).
        let mut r = HandshakeReassembler::default();
        r.push(&[11, 0x01, 0x00, 0x00, 1, 2], |_, _| Ok::<(), String>(()))
            .unwrap();
        assert_eq!(r.buffered(), 6);
    }
}
