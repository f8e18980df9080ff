//! Writes each fuzz target's seed corpus from the real traffic in `tests/data`:
//! `cargo run --example fuzz_seeds -- tests/data fuzz/seeds` (what `fuzz/run.sh` does).
//!
//! Raw streams are cut into their frames and the two directions interleaved frame by
//! frame, as a request and its answer alternate on the wire; the decrypted gateway
//! streams keep the order tshark saw them in.

use rdptap::decode::tsgu::TsguFramer;
use rdptap::decode::ws::WsDecoder;
use rdptap::lab::http_io::ChunkDecoder;
use rdptap::vocab::Dir;
use script::encode;
use std::fs;
use std::path::{Path, PathBuf};

// The fuzz crate's script format, read from its one source.
#[path = "../fuzz/src/script.rs"]
#[allow(dead_code)]
mod script;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, out) = match args.as_slice() {
        [_, d, o] => (PathBuf::from(d), PathBuf::from(o)),
        _ => {
            eprintln!("usage: seeds TESTS_DATA_DIR OUT_DIR");
            std::process::exit(2);
        }
    };
    let mut seeds = Seeds { out, count: 0 };
    direct(&data, &mut seeds);
    gateway(&data.join("gateway-plain"), &mut seeds);
    files(&data, &mut seeds);
    println!("{} seeds in {}", seeds.count, seeds.out.display());
}

/// The seed directory being written.
struct Seeds {
    out: PathBuf,
    count: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.out.join(target);
        fs::create_dir_all(&dir).expect("the seed directory can be made");
        fs::write(dir.join(name), bytes).expect("a seed can be written");
        self.count += 1;
    }
}

/// The direct connections' streams (`NAME.c2s.bin` and `NAME.s2c.bin`).
fn direct(data: &Path, seeds: &mut Seeds) {
    for (name, c2s, s2c) in pairs(data) {
        let (a, b) = (frames(&c2s), frames(&s2c));
        let script = interleave(&a, &b, 0);
        if name.contains(".plain") {
            seeds.put("mcs_intercepted", &name, &script);
            seeds.put("redact_rdp", &name, &script);
            continue;
        }
        seeds.put("x224", &name, &script);
        seeds.put("session_direct", &name, &script);
        seeds.put("redact_cr", &name, &script);
        if name.contains("tls") || name.contains("nla") {
            // From the first TLS record on: the TLS decoder's own stream.
            let tls = interleave(&a, &b, 1);
            seeds.put("tls", &name, &tls);
        } else {
            // Standard RDP security: MCS in the clear after the X.224 exchange.
            seeds.put("mcs_plain", &name, &interleave(&a, &b, 1));
        }
    }
}

/// `(name, c2s, s2c)` for each pair of raw stream files.
fn pairs(data: &Path) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut names: Vec<String> = fs::read_dir(data)
        .expect("tests/data can be read")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".c2s.bin").map(str::to_string))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let c2s = fs::read(data.join(format!("{n}.c2s.bin"))).ok()?;
            let s2c = fs::read(data.join(format!("{n}.s2c.bin"))).ok()?;
            Some((n, c2s, s2c))
        })
        .collect()
}

/// Cuts a stream at TPKT, TLS record and fast-path boundaries; what cannot be framed
/// stays one piece.
fn frames(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let len = frame_len(rest).filter(|&l| l > 0 && l <= rest.len());
        let len = len.unwrap_or(rest.len());
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

fn frame_len(b: &[u8]) -> Option<usize> {
    let u16_at = |i: usize| {
        Some(usize::from(u16::from_be_bytes([
            *b.get(i)?,
            *b.get(i + 1)?,
        ])))
    };
    match *b.first()? {
        0x03 => u16_at(2),
        0x14..=0x17 => Some(5 + u16_at(3)?),
        // CredSSP's TSRequest: a DER SEQUENCE with a short or two-byte length.
        0x30 => match *b.get(1)? {
            n if n < 0x80 => Some(2 + usize::from(n)),
            0x81 => Some(3 + usize::from(*b.get(2)?)),
            0x82 => Some(4 + u16_at(2)?),
            _ => None,
        },
        // Fast-path: the length's top bit says whether it takes two bytes.
        h if h & 0x03 == 0 => {
            let l1 = *b.get(1)?;
            if l1 & 0x80 != 0 {
                Some((usize::from(l1 & 0x7f) << 8) | usize::from(*b.get(2)?))
            } else {
                Some(usize::from(l1))
            }
        }
        _ => None,
    }
}

/// A script that alternates one frame of each direction, skipping the first `skip`
/// frames of both.
fn interleave(c2s: &[&[u8]], s2c: &[&[u8]], skip: usize) -> Vec<u8> {
    let mut steps = Vec::new();
    let n = c2s.len().max(s2c.len());
    for i in skip..n {
        if let Some(f) = c2s.get(i) {
            steps.push((Dir::C2S, *f, i + 1 == c2s.len()));
        }
        if let Some(f) = s2c.get(i) {
            steps.push((Dir::S2C, *f, i + 1 == s2c.len()));
        }
    }
    encode(&steps)
}

/// The decrypted gateway streams (`NAME.N.follow`).
fn gateway(dir: &Path, seeds: &mut Seeds) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "follow"))
        .collect();
    names.sort();
    for path in names {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = fs::read_to_string(&path).expect("a follow file reads");
        let steps = follow(&text);
        let script: Vec<(Dir, &[u8], bool)> = steps
            .iter()
            .map(|(d, b)| (*d, b.as_slice(), false))
            .collect();
        let enc = encode(&script);
        for target in ["gateway", "http", "redact_http"] {
            seeds.put(target, &name, &enc);
        }
        for (i, (dir, bytes)) in steps.iter().enumerate() {
            if *dir == Dir::C2S && bytes.starts_with(b"RDG_") {
                seeds.put(
                    "lab_parsers",
                    &format!("{name}-head{i}"),
                    &[&[0u8][..], bytes].concat(),
                );
            }
        }
        packets(&name, &steps, seeds);
    }
}

/// Reads tshark's `follow,tls,raw` output: hex lines, one side indented. The first
/// line is the client's first request, so its indentation names the client.
fn follow(text: &str) -> Vec<(Dir, Vec<u8>)> {
    let mut client_tab = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let tab = line.starts_with('\t');
        let hex = line.trim();
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) || hex.len() % 2 != 0 {
            continue;
        }
        let client = *client_tab.get_or_insert(tab);
        let dir = if tab == client { Dir::C2S } else { Dir::S2C };
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        out.push((dir, bytes));
    }
    out
}

/// The MS-TSGU packet streams inside a gateway connection, unwrapped from WebSocket
/// frames or from the chunked IN and raw OUT bodies, for the one-way targets.
fn packets(name: &str, steps: &[(Dir, Vec<u8>)], seeds: &mut Seeds) {
    for dir in [Dir::C2S, Dir::S2C] {
        // Everything after the last HTTP head in this direction is body.
        let body_from = steps
            .iter()
            .rposition(|(d, b)| *d == dir && (b.starts_with(b"RDG_") || b.starts_with(b"HTTP/")))
            .map_or(0, |i| i + 1);
        let body: Vec<u8> = steps[body_from..]
            .iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        if body.is_empty() {
            continue;
        }
        let tag = format!("{name}-{}", if dir == Dir::C2S { "c2s" } else { "s2c" });
        let ws = steps.iter().any(|(_, b)| b.starts_with(b"HTTP/1.1 101"));
        let stream = if ws {
            let top = if dir == Dir::S2C { 0x80 } else { 0 };
            seeds.put("websocket", &tag, &[&[top | 0x3f][..], &body].concat());
            seeds.put(
                "lab_parsers",
                &format!("{tag}-ws"),
                &[&[4u8][..], &body].concat(),
            );
            let mut dec = WsDecoder::new(dir);
            let (mut events, mut payload) = (Vec::new(), Vec::new());
            dec.feed(&body, &mut events, &mut |p: &[u8]| {
                payload.extend_from_slice(p)
            });
            payload
        } else if dir == Dir::C2S {
            seeds.put(
                "lab_parsers",
                &format!("{tag}-chunks"),
                &[&[1u8 | 0xf8][..], &body].concat(),
            );
            seeds.put(
                "lab_parsers",
                &format!("{tag}-in"),
                &[&[3u8][..], &body].concat(),
            );
            let mut dec = ChunkDecoder::new();
            let mut payload = Vec::new();
            let _ = dec.feed(&body, &mut |p: &[u8]| payload.extend_from_slice(p));
            payload
        } else {
            // The OUT channel's body opens with a 10-byte random seed.
            body.get(10..).unwrap_or_default().to_vec()
        };
        seeds.put("tsgu_framer", &tag, &[&[0xffu8][..], &stream].concat());
        let mut framer = TsguFramer::new();
        let mut n = 0;
        framer.push(&stream, &mut |frame: &[u8]| {
            seeds.put("tsgu_packet", &format!("{tag}-{n}"), frame);
            n += 1;
        });
    }
}

/// Files read whole: captures, event files.
fn files(data: &Path, seeds: &mut Seeds) {
    for sub in ["captures", "capfile"] {
        for path in listing(&data.join(sub)) {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "pcap" | "pcapng") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = fs::read(&path).expect("a capture reads");
            seeds.put("analyze_capture", &name, &bytes);
            if ext == "pcapng" {
                seeds.put("pcapng_read", &name, &bytes);
            }
        }
    }
    for path in listing(&data.join("events")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        seeds.put(
            "report_load",
            &name,
            &fs::read(&path).expect("an event file reads"),
        );
    }
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}
