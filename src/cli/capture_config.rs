//! The capture options (`--pcap` and friends), checked.

use super::config::ConfigError;
use super::{duration, ProxyArgs};
use crate::record::capture::{CaptureOptions, Overflow, DEFAULT_QUEUE};
use std::path::PathBuf;

/// The capture keys of the config file.
#[derive(Debug, Default)]
pub struct FromFile {
    /// `pcap`
    pub pcap: Option<PathBuf>,
    /// `pcap_split`
    pub pcap_split: Option<bool>,
    /// `pcap_keys`
    pub pcap_keys: Option<bool>,
    /// `no_redact`
    pub no_redact: Option<bool>,
    /// `capture_queue`
    pub capture_queue: Option<String>,
    /// `capture_overflow`
    pub capture_overflow: Option<String>,
}

/// Merges the capture options of the file under the command line. `src` names where a
/// value came from; `intercept_on` says whether rdptap holds any TLS keys.
pub fn resolve(
    args: &ProxyArgs,
    file: FromFile,
    src: &dyn Fn(&str, bool) -> String,
    intercept_on: bool,
) -> Result<Option<CaptureOptions>, ConfigError> {
    let flag = |cli: bool, f: Option<bool>| cli || f.unwrap_or(false);
    let split = flag(args.pcap_split, file.pcap_split);
    let keys = flag(args.pcap_keys, file.pcap_keys);
    let no_redact = flag(args.no_redact, file.no_redact);
    let queue_s = args.capture_queue.clone().or(file.capture_queue);
    let overflow_s = args.capture_overflow.clone().or(file.capture_overflow);
    let Some(path) = args.pcap.clone().or(file.pcap) else {
        let needs_pcap = [
            ("pcap_split", split, args.pcap_split),
            ("pcap_keys", keys, args.pcap_keys),
            ("no_redact", no_redact, args.no_redact),
            (
                "capture_queue",
                queue_s.is_some(),
                args.capture_queue.is_some(),
            ),
            (
                "capture_overflow",
                overflow_s.is_some(),
                args.capture_overflow.is_some(),
            ),
        ];
        if let Some((key, _, cli)) = needs_pcap.iter().find(|(_, on, _)| *on) {
            return Err(ConfigError(format!(
                "{} only applies to a packet capture; add --pcap FILE.pcapng or remove it",
                src(key, *cli)
            )));
        }
        return Ok(None);
    };
    if keys && !intercept_on {
        return Err(ConfigError(format!(
            "{}: rdptap holds TLS keys only where it terminates TLS; add --intercept (or use --gateway without --gateway-passthrough), or remove it",
            src("pcap_keys", args.pcap_keys)
        )));
    }
    let queue_bytes = match &queue_s {
        None => DEFAULT_QUEUE,
        Some(q) => parse_size(q).map_err(|e| {
            ConfigError(format!(
                "{}: {e}",
                src("capture_queue", args.capture_queue.is_some())
            ))
        })?,
    };
    let overflow = match overflow_s.as_deref() {
        None | Some("lossless") => Overflow::Lossless,
        Some("drop") => Overflow::Drop,
        Some(other) => {
            return Err(ConfigError(format!(
                "{}: '{other}' is not an overflow policy; use \"lossless\" (the default: the relay waits for the trace) or \"drop\" (packets are dropped and counted)",
                src("capture_overflow", args.capture_overflow.is_some())
            )))
        }
    };
    let write_delay = match &args.capture_write_delay {
        None => None,
        Some(d) => Some(
            duration::parse(d).map_err(|e| ConfigError(format!("--capture-write-delay: {e}")))?,
        ),
    };
    Ok(Some(CaptureOptions {
        path,
        split,
        keys,
        redact: !no_redact,
        // Set by the caller from --redact-users.
        redact_users: false,
        queue_bytes,
        overflow,
        write_delay,
    }))
}

/// Parses a size such as `65536`, `512KiB`, `64MiB`, `1GiB` (or K, M, G, KB, MB, GB,
/// all taken as powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size; use e.g. 64MiB, 512KiB or 1048576"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "'{other}' is not a size unit in '{s}'; use KiB, MiB or GiB"
            ))
        }
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if v == 0 {
        return Err("the capture queue must hold at least one byte".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_size("0").is_err());
    }

    fn src(key: &str, cli: bool) -> String {
        if cli {
            format!("--{}", key.replace('_', "-"))
        } else {
            format!("f.toml: key '{key}'")
        }
    }

    #[test]
    fn capture_flags_need_a_pcap() {
        let a = ProxyArgs {
            pcap_split: true,
            ..Default::default()
        };
        let e = resolve(&a, FromFile::default(), &src, true).unwrap_err();
        assert!(
            e.0.contains("--pcap-split") && e.0.contains("--pcap FILE"),
            "{e}"
        );
    }

    #[test]
    fn keys_need_interception() {
        let a = ProxyArgs {
            pcap: Some("t.pcapng".into()),
            pcap_keys: true,
            ..Default::default()
        };
        let e = resolve(&a, FromFile::default(), &src, false).unwrap_err();
        assert!(
            e.0.contains("--pcap-keys") && e.0.contains("--intercept"),
            "{e}"
        );
        let o = resolve(&a, FromFile::default(), &src, true)
            .unwrap()
            .unwrap();
        assert!(o.keys && o.redact);
        assert_eq!(o.overflow, Overflow::Lossless);
        assert_eq!(o.queue_bytes, DEFAULT_QUEUE);
    }

    #[test]
    fn file_values_are_checked_with_their_key() {
        let a = ProxyArgs {
            pcap: Some("t.pcapng".into()),
            ..Default::default()
        };
        let f = FromFile {
            capture_overflow: Some("sometimes".into()),
            ..Default::default()
        };
        let e = resolve(&a, f, &src, false).unwrap_err();
        assert!(e.0.contains("f.toml: key 'capture_overflow'"), "{e}");
        let f = FromFile {
            capture_overflow: Some("drop".into()),
            capture_queue: Some("1MiB".into()),
            no_redact: Some(true),
            ..Default::default()
        };
        let o = resolve(&a, f, &src, false).unwrap().unwrap();
        assert_eq!(
            (o.overflow, o.queue_bytes, o.redact),
            (Overflow::Drop, 1 << 20, false)
        );
    }
}
