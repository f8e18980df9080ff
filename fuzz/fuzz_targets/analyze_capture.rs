//! `rdptap analyze` end to end on a capture held in memory: the pcap and pcapng
//! readers, link layers, IP and TCP reassembly, the classification of conversations,
//! offline TLS decryption with any key log lines in the file, and every tracker.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::analyze::run(data);
});
