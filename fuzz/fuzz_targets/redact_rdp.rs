//! The redactor of a decrypted RDP flow (TPKT, fast-path, CredSSP, Client Info). The first chunk's spare bits turn on `--redact-users`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::redact::FlowProto;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::redact::run(FlowProto::Rdp, data);
});
