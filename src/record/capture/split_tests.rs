//! One file per connection: what a file holds when connections end in either order.

use super::*;
use crate::record::pcapng::read;
use crate::vocab::Dir;

fn opts(dir: &std::path::Path) -> CaptureOptions {
    CaptureOptions {
        path: dir.join("trace.pcapng"),
        split: true,
        keys: false,
        redact: true,
        redact_users: false,
        queue_bytes: DEFAULT_QUEUE,
        overflow: Overflow::Lossless,
        write_delay: None,
    }
}

/// Every TCP payload in a file, in order, with the packets' flags.
fn payloads(file: &std::path::Path) -> (Vec<u8>, usize) {
    let data = std::fs::read(file).unwrap();
    let mut bytes = Vec::new();
    let mut fins = 0;
    for b in read::blocks(&data) {
        let b = b.unwrap();
        if let Some(seg) = read::packet(&b).and_then(|p| read::segment(p.data)) {
            if seg.dst.port() == 3389 || seg.src.port() == 3389 {
                bytes.extend_from_slice(seg.payload);
                fins += usize::from(seg.flags & 0x01 != 0);
            }
        }
    }
    (bytes, fins)
}

#[tokio::test]
async fn the_tunnel_flow_outlives_the_channel_that_opened_it() {
    let dir = std::env::temp_dir().join(format!("rdptap-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cap, thread) = Capture::start(opts(&dir), Recorder::none()).unwrap();
    let a: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let l: SocketAddr = "127.0.0.1:8443".parse().unwrap();
    // The IN channel carries the client's half of the tunnel, the OUT channel the
    // host's; the IN channel ends first.
    let inc = cap.conn(1, "in".into());
    let out = cap.conn(2, "out".into());
    inc.client_leg(a, l);
    out.client_leg("127.0.0.1:50001".parse().unwrap(), l);
    let inner = inc.inner_flow();
    inner.data(Dir::C2S, b"from the client");
    inc.end(Dir::C2S, Close::Fin, Vec::new());
    inc.end(Dir::S2C, Close::Fin, Vec::new());
    let _ = inc.finish();
    inner.data(Dir::S2C, b"from the host");
    drop(inner);
    let _ = out.finish();
    cap.close(thread).await;

    let (bytes, fins) = payloads(&dir.join("trace-conn1.pcapng"));
    assert_eq!(bytes, b"from the clientfrom the host");
    assert_eq!(fins, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
