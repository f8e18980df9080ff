//! The layers of the crate, and which may import which. This test reads every file
//! under `src/` and fails on the first `crate::` path that reaches a layer its own layer
//! must not use. Data flows one way (sockets → relay → decoders → session → sinks), and
//! these rules keep the code shaped the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each layer, what it may import, and why. A layer may always use itself.
const LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "vocab",
        &[],
        "the words every layer shares (direction, layer, stream ends, connect errors, legs); it must stay importable by all, so it imports nothing",
    ),
    (
        "decode",
        &["vocab"],
        "sans-IO decoders: bytes in, typed events out; they know nothing of sockets, sessions or sinks (X.509 parsing lives here, as decode::x509, because decoders read certificates)",
    ),
    (
        "cert",
        &["decode", "vocab"],
        "judging a parsed certificate (dates, names, usage, chain); pure, so the session can use it",
    ),
    (
        "capfile",
        &["vocab"],
        "reading capture files and reassembling TCP: sans-IO below the file reader, usable by any composition",
    ),
    (
        "decrypt",
        &["decode", "vocab"],
        "offline TLS decryption with a key log: sans-IO, like the decoders; names of versions, suites and alerts are decode's tables, written once",
    ),
    (
        "session",
        &["decode", "cert", "vocab"],
        "the sans-IO tracker, phases, timeline and diagnose: the same core for the live proxy and analyze, so it may not reach the relay, the sinks or the CA",
    ),
    (
        "tls",
        &["cert", "decode", "runtime", "vocab"],
        "the local CA, leaf minting and rustls configurations",
    ),
    (
        "runtime",
        &[],
        "the worker threads, signals, process limits and private files: neutral, shared by every command",
    ),
    (
        "relay",
        &["decode", "cert", "tls", "vocab"],
        "the byte pump and TLS interception; it reports to an Observer and waits on a Backpressure it defines itself, so it never imports the session or the sinks",
    ),
    (
        "record",
        &["session", "decode", "cert", "runtime", "vocab"],
        "the sinks and the report; they read what the session produced and never reach into the relay",
    ),
    (
        "lab",
        &["decode", "tls", "runtime", "vocab"],
        "the lab servers play the far end; they share decoders and the worker pool, not the proxy's relay or session",
    ),
    (
        "proxy",
        &["vocab", "decode", "cert", "session", "tls", "runtime", "relay", "record"],
        "composition root of the live proxy: wires sockets, relay, trackers and sinks",
    ),
    (
        "analyze",
        &[
            "vocab", "decode", "cert", "session", "tls", "runtime", "record", "capfile", "decrypt",
            "proxy",
        ],
        "composition root of analyze: capture files into the same trackers the proxy uses (it shares the proxy's gateway-session registry)",
    ),
    (
        "cli",
        &[
            "vocab", "decode", "cert", "session", "tls", "runtime", "relay", "record", "lab",
            "proxy", "analyze", "capfile", "decrypt",
        ],
        "argument parsing only; it starts the composition roots and nothing imports it",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate-level modules a line names through `crate::`.
fn imports(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let preceded_by_ident = rest[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !preceded_by_ident {
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
        rest = after;
    }
    out
}

#[test]
fn every_layer_imports_only_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules: BTreeMap<&str, (&[&str], &str)> = LAYERS
        .iter()
        .map(|(l, ok, why)| (*l, (*ok, *why)))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let layer = first.trim_end_matches(".rs").to_string();
        if layer == "lib" || layer == "main" {
            continue;
        }
        let Some((allowed, why)) = rules.get(layer.as_str()) else {
            broken.push(format!(
                "{}: module '{layer}' has no place in the layer table of tests/architecture.rs; add it with the layers it may import and why",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for m in imports(line) {
                if m == layer || allowed.contains(&m.as_str()) {
                    continue;
                }
                broken.push(format!(
                    "{}:{}: '{layer}' imports crate::{m}, which it may not ({layer} may import: {}; {why})",
                    rel.display(),
                    n + 1,
                    if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") },
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_table_names_every_module_of_the_crate() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(m) = line.trim().strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(
                LAYERS.iter().any(|(l, _, _)| *l == m),
                "src/lib.rs declares '{m}', which tests/architecture.rs does not place in a layer"
            );
        }
    }
}

#[test]
fn the_vocabulary_stays_small() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vocab"),
        &mut files,
    );
    let lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert!(
        lines < 600,
        "src/vocab has {lines} lines: only words every layer shares belong there"
    );
}

#[test]
fn the_checker_sees_grouped_and_inline_paths() {
    assert_eq!(
        imports("use crate::{decode::Dir, session::X};"),
        ["decode", "session"]
    );
    assert_eq!(imports("let x = crate::relay::dial(a);"), ["relay"]);
    assert_eq!(imports("use rdptap_crate::x;"), Vec::<String>::new());
}
