//! Throughput on a large capture, ignored by default. Run with
//! `RDPTAP_CAPFILE_BENCH=/path/to/capture cargo test --release --lib capfile::bench_tests -- --ignored --nocapture`.

use crate::capfile::tcp::{FlowEventKind, Reassembler};
use crate::capfile::{open, Record};
use std::time::Instant;

#[test]
#[ignore = "needs a large capture named by RDPTAP_CAPFILE_BENCH"]
fn read_and_reassemble_throughput() {
    let Ok(path) = std::env::var("RDPTAP_CAPFILE_BENCH") else {
        return;
    };
    let started = Instant::now();
    let mut reader = open(&path).expect("the capture opens");
    let mut segments = 0u64;
    while let Some(record) = reader.next_record() {
        if let Record::Tcp(_) = record.expect("the capture reads") {
            segments += 1;
        }
    }
    let read_only = started.elapsed();
    let started = Instant::now();
    let mut reader = open(&path).expect("the capture opens");
    let mut reassembler = Reassembler::default();
    let (mut delivered, mut events) = (0u64, 0u64);
    let mut count = |e: crate::capfile::tcp::FlowEvent<'_>| {
        events += 1;
        if let FlowEventKind::Data { bytes, .. } = e.kind {
            delivered += bytes.len() as u64;
        }
    };
    while let Some(record) = reader.next_record() {
        if let Record::Tcp(segment) = record.expect("the capture reads") {
            reassembler.segment(&segment, &mut count);
        }
    }
    reassembler.finish(&mut count);
    let both = started.elapsed();
    let stats = reader.stats();
    println!(
        "{} bytes, {segments} segments: read {read_only:?}, read and reassemble {both:?} ({:.0} MB/s); {delivered} bytes delivered in {events} events; {:?}",
        stats.bytes,
        stats.bytes as f64 / both.as_secs_f64() / 1e6,
        reassembler.stats()
    );
}
