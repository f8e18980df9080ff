//! One MS-TSGU packet, decoded whole; a packet that decodes must encode back to one
//! that decodes the same, and read back from its JSON form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::tsgu::Packet;

fuzz_target!(|data: &[u8]| {
    let p = match Packet::decode(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = (
        p.packet_type().to_string(),
        p.status().map(|s| s.to_string()),
    );
    let mut again = Vec::new();
    p.encode(&mut again);
    if let Some(payload) = Packet::data_payload(data) {
        again.extend_from_slice(payload);
    }
    assert_eq!(
        Packet::decode(&again).as_ref(),
        Ok(&p),
        "encode, then decode"
    );
    let json = serde_json::to_string(&p).expect("a packet serialises");
    let back: Packet = serde_json::from_str(&json).expect("its JSON reads back");
    assert_eq!(back, p, "JSON round trip");
});
