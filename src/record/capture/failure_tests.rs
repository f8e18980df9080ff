//! The capture writer cannot take the relay down: a panic in it switches capture off
//! and lets every waiting relay go; with --pcap-split a file that cannot be created
//! costs only its own connection's trace.

use super::*;
use crate::record::SinkMsg;
use crate::vocab::{Dir, Legs};

fn opts(dir: &std::path::Path, split: bool) -> CaptureOptions {
    CaptureOptions {
        path: dir.join("trace.pcapng"),
        split,
        keys: false,
        redact: true,
        redact_users: false,
        queue_bytes: 4096,
        overflow: Overflow::Lossless,
        write_delay: Some(Duration::from_millis(100)),
    }
}

fn temp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rdptap-capfail-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn failures(rx: &mut crate::record::SinkRx) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while let Some(SinkMsg::Event(e)) = rx.try_recv() {
        if let crate::session::event::Body::CaptureFailed { file, .. } = &e.event.body {
            out.push((e.conn, file.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_writer_switches_capture_off_and_releases_waiting_relays() {
    let dir = temp("panic");
    let (rec, mut rx) = crate::record::Recorder::channel(64);
    let (cap, thread) = Capture::start(opts(&dir, false), rec).unwrap();
    let gate = cap.gate().expect("lossless");
    let cc = cap.conn(1, "one".into());
    cc.client_leg(
        "127.0.0.1:50000".parse().unwrap(),
        "127.0.0.1:13389".parse().unwrap(),
    );
    // The slow writer falls behind: the queue fills and the relay would wait. The panic
    // comes while two more chunks are still queued, so the queue is full when it does.
    let chunk = Bytes::from(vec![7u8; 4096]);
    for i in 0..4 {
        if i == 2 {
            cap.shared.send(Msg::Panic);
        }
        cc.raw(Dir::C2S, Legs::Both, &chunk, Vec::new());
    }
    assert!(gate.is_full());
    let waited = tokio::time::timeout(Duration::from_secs(10), gate.wait_for_room()).await;
    assert!(waited.is_ok(), "a relay still waits on a dead writer");
    assert!(!gate.is_full());
    let why = cap.failure().expect("capture is off");
    assert!(why.contains("deliberate panic"), "{why}");
    // Everything after is dropped at once, and flushing and closing do not hang.
    cc.raw(
        Dir::C2S,
        Legs::Both,
        &Bytes::from(vec![7u8; 1 << 20]),
        Vec::new(),
    );
    let again = tokio::time::timeout(Duration::from_millis(100), gate.wait_for_room()).await;
    assert!(again.is_ok(), "a relay waits on capture that is off");
    tokio::time::timeout(Duration::from_secs(10), cap.flush())
        .await
        .expect("flush returns");
    tokio::time::timeout(Duration::from_secs(10), cap.close(thread))
        .await
        .expect("close returns");
    let f = failures(&mut rx);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn with_split_files_a_file_that_cannot_be_created_costs_only_its_connection() {
    let dir = temp("split");
    // A directory where connection 1's file should go: creating the file fails.
    std::fs::create_dir_all(dir.join("trace-conn1.pcapng")).unwrap();
    let mut o = opts(&dir, true);
    o.write_delay = None;
    o.queue_bytes = DEFAULT_QUEUE;
    let (rec, mut rx) = crate::record::Recorder::channel(64);
    let (cap, thread) = Capture::start(o, rec).unwrap();
    for conn in [1, 2] {
        let cc = cap.conn(conn, format!("conn {conn}"));
        cc.client_leg(
            format!("127.0.0.1:5000{conn}").parse().unwrap(),
            "127.0.0.1:13389".parse().unwrap(),
        );
        cc.raw(
            Dir::C2S,
            Legs::Both,
            &Bytes::from_static(b"hello"),
            Vec::new(),
        );
        cc.end(Dir::C2S, Close::Fin, Vec::new());
        cc.end(Dir::S2C, Close::Fin, Vec::new());
        let _ = cc.finish();
    }
    cap.close(thread).await;
    let f = failures(&mut rx);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, 1, "the failure is connection 1's");
    assert!(f[0].1.ends_with("trace-conn1.pcapng"), "{f:?}");
    let two = std::fs::read(dir.join("trace-conn2.pcapng")).unwrap();
    assert!(
        two.windows(5).any(|w| w == b"hello"),
        "connection 2 was not captured"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
