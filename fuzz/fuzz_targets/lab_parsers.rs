//! What the lab gateway parses from a client: request heads and their Authorization
//! (Basic or NTLM), the chunked IN channel, NTLM messages, and the packet streams of
//! both transports. The first byte picks the parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::lab::run(data);
});
