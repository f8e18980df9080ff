//! Where an HTTP message body ends, and where its payload bytes sit in the stream, for
//! the redactor: a thin adapter over the decoder's [`http::BodyFramer`], so the trace
//! and the events frame bodies (Content-Length, chunked, read-until-close) alike.
//! Nothing is buffered but a chunk-size line: payload runs are reported as offsets into
//! the bytes fed, and everything else (chunk-size lines, trailers) passes as it is.

use crate::decode::http;

pub(super) use crate::decode::http::Framing;

/// Frames one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BodyFramer(http::BodyFramer);

impl BodyFramer {
    /// A framer for `framing`; None when there is no body.
    pub(super) fn new(framing: Framing) -> Option<Self> {
        http::BodyFramer::new(framing).map(BodyFramer)
    }

    /// Consumes a prefix of `input`, calling `data(offset, len)` for each payload run.
    ///
    /// Returns how many bytes were used and whether the body ended there; Err when the
    /// chunked framing is broken, after which the stream cannot be followed.
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        data: &mut impl FnMut(usize, usize),
    ) -> Result<(usize, bool), ()> {
        self.0
            .feed_spans(input, &mut |span| data(span.start, span.len()))
            .map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step`, returning the payload and whether it ended.
    fn run(framing: Framing, input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ()> {
        let mut f = BodyFramer::new(framing).ok_or(())?;
        let mut payload = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let (n, done) = f.feed(piece, &mut |at, len| {
                payload.extend_from_slice(&piece[at..at + len])
            })?;
            used += n;
            if done {
                return Ok((payload, used, true));
            }
        }
        Ok((payload, used, false))
    }

    #[test]
    fn chunked_bodies_at_every_piece_size() {
        let body = b"5;ext=1\r\nhello\r\n 3 \r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (p, used, done) = run(Framing::Chunked, body, step).expect("frames");
            assert_eq!(p, b"helloabc");
            assert!(done);
            assert!(used <= body.len());
        }
        let (_, used, _) = run(Framing::Chunked, body, body.len()).expect("frames");
        assert_eq!(&body[used..], b"NEXT");
    }

    #[test]
    fn length_and_close_bodies() {
        assert_eq!(
            run(Framing::Length(3), b"abcdef", 2).map(|r| (r.0, r.2)),
            Ok((b"abc".to_vec(), true))
        );
        assert_eq!(
            run(Framing::UntilClose, b"abcdef", 4).map(|r| (r.0, r.2)),
            Ok((b"abcdef".to_vec(), false))
        );
        assert!(BodyFramer::new(Framing::Empty).is_none());
    }

    #[test]
    fn broken_chunking_is_an_error() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"1 2\r\n",
            b"3\r\nabcX",
            b"fffffffffffffffff\r\n",
        ] {
            assert!(run(Framing::Chunked, bad, 1).is_err(), "{bad:?}");
        }
        let long = vec![b'1'; 2000];
        assert!(run(Framing::Chunked, &long, 7).is_err());
    }
}
