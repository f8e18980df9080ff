//! Runs a redactor over a script and checks what redaction promises: every byte
//! comes out, once, in order, with secrets overwritten in place (so each direction's
//! length is unchanged), and no more than the hold limit is ever held back.

use bytes::Bytes;
use rdptap::record::redact::{FlowProto, StreamRedactor, MAX_HOLD};
use rdptap::vocab::Dir;

/// Feeds the script in `data` to a redactor for `proto`.
pub fn run(proto: FlowProto, data: &[u8]) {
    let chunks = crate::script(data);
    let names = chunks.first().is_some_and(|c| c.spare & 1 != 0);
    let mut r = StreamRedactor::new(proto).hiding_names(names);
    let mut fed = [0usize; 2];
    let mut came = [0usize; 2];
    let mut out = Vec::new();
    let mut finished = [false; 2];
    for c in &chunks {
        let i = c.dir.idx();
        r.feed(c.dir, Bytes::copy_from_slice(c.data), &mut out);
        fed[i] += c.data.len();
        came[i] += out.drain(..).map(|b| b.len()).sum::<usize>();
        assert!(r.held(c.dir) <= MAX_HOLD, "held {} bytes", r.held(c.dir));
        if c.end && !finished[i] {
            finished[i] = true;
            r.finish(c.dir, &mut out);
            came[i] += out.drain(..).map(|b| b.len()).sum::<usize>();
        }
    }
    for d in [Dir::C2S, Dir::S2C] {
        r.finish(d, &mut out);
        came[d.idx()] += out.drain(..).map(|b| b.len()).sum::<usize>();
        assert_eq!(r.held(d), 0);
    }
    assert_eq!(fed, came, "redaction must keep every direction's length");
}
