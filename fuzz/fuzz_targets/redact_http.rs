//! The redactor of a decrypted gateway flow (HTTP, WebSocket, chunked, MS-TSGU, NTLM). The first chunk's spare bits turn on `--redact-users`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::redact::FlowProto;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::redact::run(FlowProto::Http, data);
});
