//! Reads rdptap's pcapng traces back with Wireshark's tshark, the way a vendor would.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Whether a file whose last block was torn by a crash may be read: tshark then reads
/// every whole block and says the file was cut short.
static ALLOW_CUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `tshark -r FILE` plus `args`; returns stdout, panicking with stderr on failure.
pub fn run(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let cut_ok = ALLOW_CUT.load(std::sync::atomic::Ordering::Relaxed)
        && stderr.contains("cut short in the middle of a packet")
        && stderr.lines().filter(|l| !l.trim().is_empty()).count() <= 2;
    assert!(
        out.status.success() || cut_ok,
        "tshark {args:?} on {} failed: {stderr}",
        file.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// From now on in this test binary, a file cut short in its last block is acceptable.
pub fn allow_cut_short() {
    ALLOW_CUT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Dissects every packet in full (`-V`, checksums verified) and fails on any malformed
/// packet or error-level expert info. `decode_as` adds `-d` rules (e.g.
/// `tcp.port==13389,tpkt`). Returns the dissection text.
pub fn check_clean(file: &Path, decode_as: &[String]) -> String {
    let mut args = vec![
        "-V".to_string(),
        "-o".into(),
        "tcp.check_checksum:TRUE".into(),
        "-o".into(),
        "ip.check_checksum:TRUE".into(),
    ];
    for d in decode_as {
        args.push("-d".into());
        args.push(d.clone());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = run(file, &a);
    for bad in ["Malformed", "Expert Info (Error", "[Checksum Status: Bad]"] {
        let mut from = 0;
        while let Some(rel) = text[from..].find(bad) {
            let at = from + rel;
            from = at + bad.len();
            if known_wireshark_limit(&text[..at]) {
                continue;
            }
            if std::env::var_os("KEEP_WORK").is_some() {
                let keep = std::env::temp_dir().join("rdptap-failed.pcapng");
                let _ = std::fs::copy(file, &keep);
                eprintln!("kept the trace as {}", keep.display());
            }
            let start = text[..at].rfind("\nFrame ").unwrap_or(0);
            panic!(
                "tshark reports '{bad}' in {}:\n{}",
                file.display(),
                &text[start..(at + 400).min(text.len())]
            );
        }
    }
    text
}

/// Wireshark 4.0's RDP dissector reads every optional field of the Client Info's
/// extended part unconditionally, so a Client Info that ends after
/// `cbAutoReconnectLen` (as FreeRDP sends it; MS-RDPBCGR 2.2.1.11.1.1.1 makes the
/// later fields optional) is flagged as malformed. That is the dissector's limit, not
/// the trace's: the same bytes show it in a capture made on the client itself.
fn known_wireshark_limit(before: &str) -> bool {
    let frame = &before[before.rfind("\nFrame ").unwrap_or(0)..];
    let marker = "cbAutoReconnectLen: 0\n";
    match frame.rfind(marker) {
        // Only the expert-info lines of that one exception may follow the marker.
        Some(i) if frame.contains("clientInfoPDU") => frame[i + marker.len()..]
            .lines()
            .all(|l| l.trim_start().starts_with('[')),
        _ => false,
    }
}

/// Values of `fields` for packets matching `filter`, one row per packet.
pub fn fields(file: &Path, filter: &str, fields: &[&str], extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["-Y", filter, "-T", "fields", "-E", "separator=\t"];
    for f in fields {
        args.push("-e");
        args.push(f);
    }
    args.extend_from_slice(extra);
    run(file, &args)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// TCP payload bytes per flow and direction: `"src:port>dst:port"` → bytes.
pub fn payload_by_flow(file: &Path) -> BTreeMap<String, u64> {
    let rows = fields(
        file,
        "tcp",
        &[
            "ip.src",
            "ipv6.src",
            "tcp.srcport",
            "ip.dst",
            "ipv6.dst",
            "tcp.dstport",
            "tcp.len",
        ],
        &[],
    );
    let mut m = BTreeMap::new();
    for r in rows {
        if r.len() < 7 {
            continue;
        }
        let src = if r[0].is_empty() { &r[1] } else { &r[0] };
        let dst = if r[3].is_empty() { &r[4] } else { &r[3] };
        let key = format!("{src}:{}>{dst}:{}", r[2], r[5]);
        *m.entry(key).or_insert(0) += r[6].parse::<u64>().unwrap_or(0);
    }
    m
}

/// The packet comments of the file, one string per commented packet.
pub fn comments(file: &Path) -> Vec<String> {
    fields(file, "frame.comment", &["frame.comment"], &[])
        .into_iter()
        .flatten()
        .collect()
}

/// Keeps a copy of `file` in the temp directory when KEEP_WORK is set, for a look by hand.
pub fn keep(file: &Path, name: &str) {
    if std::env::var_os("KEEP_WORK").is_some() {
        let to = std::env::temp_dir().join(name);
        let _ = std::fs::copy(file, &to);
        eprintln!("kept {} as {}", file.display(), to.display());
    }
}
