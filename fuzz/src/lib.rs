//! Input shapes shared by the fuzz targets.
//!
//! Most of rdptap's decoders read two directions of one connection, fed in chunks of
//! any size. A fuzz input is therefore a *script*: a list of chunks, each tagged with
//! its direction, cut wherever the fuzzer likes, so that mutations reach both the
//! content and the chunking (a frame split across chunks takes another path than a
//! whole one). The seeds (rdptap's `examples/fuzz_seeds.rs`) encode real streams from `tests/data` this way.

pub mod analyze;
pub mod drive;
pub mod lab;
pub mod redact;
pub mod script;

pub use script::{encode, pieces, script, Chunk, END, HEADER, S2C};
