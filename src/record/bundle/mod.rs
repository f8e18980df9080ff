//! `rdptap bundle`: what a vendor needs to look at a failing session, in one archive:
//! the trace, the events, the report, a README saying how to open each file, and how
//! the trace was made.

pub mod archive;
mod readme;

use crate::record::pcapng::read;
use archive::Entry;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// What goes into a bundle.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The event file.
    pub events: PathBuf,
    /// Trace files; when empty, the one the event file says was written, if it exists.
    pub pcaps: Vec<PathBuf>,
    /// Only these connections (all when empty).
    pub conns: Vec<u64>,
    /// A key log to include (only when asked for: it decrypts the raw legs).
    pub keylog: Option<PathBuf>,
}

/// Why a bundle could not be made.
#[derive(Debug)]
pub struct BundleError(pub String);

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BundleError {}

/// What was put in, for the summary printed after writing.
#[derive(Debug, Default)]
pub struct Contents {
    /// The archive's files.
    pub entries: Vec<Entry>,
    /// The connections covered.
    pub conns: Vec<u64>,
    /// Trace files that were looked for but not found.
    pub missing: Vec<PathBuf>,
}

/// Gathers the bundle's files.
pub fn gather(input: &Input) -> Result<Contents, BundleError> {
    let text = std::fs::read_to_string(&input.events).map_err(|e| {
        BundleError(format!(
            "cannot read the event file {}: {e}",
            input.events.display()
        ))
    })?;
    let all: Vec<(u64, &str, Option<Value>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Option<Value> = serde_json::from_str(l).ok();
            let conn = v.as_ref().and_then(|v| v["conn"].as_u64()).unwrap_or(0);
            (conn, l, v)
        })
        .collect();
    let present: BTreeSet<u64> = all.iter().map(|(c, _, _)| *c).filter(|c| *c > 0).collect();
    let wanted: BTreeSet<u64> = if input.conns.is_empty() {
        present.clone()
    } else {
        let missing: Vec<String> = input
            .conns
            .iter()
            .filter(|c| !present.contains(c))
            .map(u64::to_string)
            .collect();
        if !missing.is_empty() {
            let have: Vec<String> = present.iter().map(u64::to_string).collect();
            return Err(BundleError(format!(
                "--conn {}: no such connection in {} (it has {}); pick from those",
                missing.join(","),
                input.events.display(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            )));
        }
        input.conns.iter().copied().collect()
    };
    let lines: Vec<&str> = all
        .iter()
        .filter(|(c, _, _)| *c == 0 || wanted.contains(c))
        .map(|(_, l, _)| *l)
        .collect();
    let started = all
        .iter()
        .filter_map(|(_, _, v)| v.as_ref())
        .find(|v| v["kind"] == "proxy_started")
        .cloned();

    let mut out = Contents {
        conns: wanted.iter().copied().collect(),
        ..Default::default()
    };
    let mut events = lines.join("\n");
    events.push('\n');
    out.entries.push(Entry {
        name: "events.jsonl".into(),
        data: events.into_bytes(),
    });

    let source = input.events.display().to_string();
    let report = crate::record::report::from_lines(&source, lines.iter().copied())
        .map_err(|e| BundleError(format!("cannot build the report: {e}")))?;
    out.entries.push(Entry {
        name: "report.html".into(),
        data: crate::record::report::render_html(&report).into_bytes(),
    });
    out.entries.push(Entry {
        name: "report.txt".into(),
        data: crate::record::report::render_text(&report).into_bytes(),
    });

    let mut traces = Vec::new();
    for p in trace_files(input, started.as_ref(), &wanted, &mut out.missing) {
        let data = std::fs::read(&p)
            .map_err(|e| BundleError(format!("cannot read the trace {}: {e}", p.display())))?;
        let kept = if input.conns.is_empty() {
            // The whole file, with its key blocks moved ahead of the packets.
            read::rewrite(&data, |_| true)
        } else {
            read::rewrite(&data, |name| {
                conn_of_iface(name).is_some_and(|c| wanted.contains(&c))
            })
        };
        let name = unique_name(&p, &out.entries);
        traces.push(name.clone());
        out.entries.push(Entry { name, data: kept });
    }

    let keys = match &input.keylog {
        Some(k) => {
            let data = std::fs::read(k).map_err(|e| {
                BundleError(format!("cannot read the key log {}: {e}", k.display()))
            })?;
            out.entries.push(Entry {
                name: "keys.log".into(),
                data,
            });
            true
        }
        None => false,
    };

    let config = started
        .as_ref()
        .map(|v| v["config"].clone())
        .unwrap_or(Value::Null);
    let recorded_with = started
        .as_ref()
        .and_then(|v| v["version"].as_str().map(str::to_string));
    out.entries.push(Entry {
        name: "config.json".into(),
        data: serde_json::to_vec_pretty(&serde_json::json!({
            "rdptap_version_recorded": recorded_with,
            "rdptap_version_bundled": env!("CARGO_PKG_VERSION"),
            "config": config,
        }))
        .unwrap_or_default(),
    });
    let embedded = config["capture"]["pcap_keys"] == true;
    let redacted = config["capture"]["redact"] != false;
    out.entries.insert(
        0,
        Entry {
            name: "README.txt".into(),
            data: readme::text(&readme::Facts {
                conns: &out.conns,
                traces: &traces,
                keys_file: keys,
                keys_embedded: embedded && !traces.is_empty(),
                redacted,
                recorded_with: recorded_with.as_deref(),
            })
            .into_bytes(),
        },
    );
    Ok(out)
}

/// The connection number in an interface name such as `rdptap-conn-7`.
fn conn_of_iface(name: &str) -> Option<u64> {
    name.strip_prefix("rdptap-conn-")?.parse().ok()
}

/// The trace files to include: those given, else the one the proxy recorded writing
/// (with --pcap-split, the files of the chosen connections).
fn trace_files(
    input: &Input,
    started: Option<&Value>,
    wanted: &BTreeSet<u64>,
    missing: &mut Vec<PathBuf>,
) -> Vec<PathBuf> {
    if !input.pcaps.is_empty() {
        return input.pcaps.clone();
    }
    let Some(cap) = started.map(|v| &v["config"]["capture"]) else {
        return Vec::new();
    };
    let Some(path) = cap["pcap"].as_str().map(PathBuf::from) else {
        return Vec::new();
    };
    let candidates: Vec<PathBuf> = if cap["pcap_split"] == true {
        wanted
            .iter()
            .map(|c| crate::record::capture::split_path(&path, *c))
            .collect()
    } else {
        vec![path]
    };
    candidates
        .into_iter()
        .filter(|p| {
            let ok = p.is_file();
            if !ok {
                missing.push(p.clone());
            }
            ok
        })
        .collect()
}

/// A file name not yet used in the archive.
fn unique_name(p: &Path, taken: &[Entry]) -> String {
    let base = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace.pcapng".into());
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|e| e.name == name) {
        name = format!("{n}-{base}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_give_their_connection() {
        assert_eq!(conn_of_iface("rdptap-conn-7"), Some(7));
        assert_eq!(conn_of_iface("eth0"), None);
    }

    #[test]
    fn unknown_connections_are_named() {
        let dir = std::env::temp_dir().join(format!("rdptap-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ev = dir.join("e.jsonl");
        std::fs::write(
            &ev,
            "{\"conn\":1,\"kind\":\"phase\"}\n{\"conn\":2,\"kind\":\"phase\"}\n",
        )
        .unwrap();
        let e = gather(&Input {
            events: ev,
            conns: vec![5],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("--conn 5") && e.0.contains("1, 2"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
