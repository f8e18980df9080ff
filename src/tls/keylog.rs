//! The TLS key log (`--keylog`): rdptap's TLS sessions in the NSS key log format that
//! Wireshark and `rdptap analyze` read (SSLKEYLOGFILE), so a raw capture of either leg
//! (or of a lab server's connections) can be decrypted.
//!
//! The file is a secret: anyone holding it and a capture can read the whole session.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// Writes key log lines to a private file, flushed line by line.
pub struct KeyLogFile {
    file: Mutex<Option<File>>,
}

impl KeyLogFile {
    /// Creates (or truncates) the key log, readable only by the current user.
    pub fn create(path: &Path) -> io::Result<KeyLogFile> {
        let f = crate::runtime::files::create_private(path, false)?;
        Ok(KeyLogFile {
            file: Mutex::new(Some(f)),
        })
    }
}

impl std::fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLogFile")
    }
}

/// One NSS key log line: `LABEL <client_random hex> <secret hex>`.
pub fn line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    let mut s = String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
    s.push_str(label);
    s.push(' ');
    for b in client_random {
        let _ = write!(s, "{b:02x}");
    }
    s.push(' ');
    for b in secret {
        let _ = write!(s, "{b:02x}");
    }
    s.push('\n');
    s
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        // A handful of short lines per handshake: writing them directly keeps them in
        // the file before any traffic they decrypt can be captured, at a cost far below
        // the handshake's own.
        let text = line(label, client_random, secret);
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_mut() {
            if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.flush()) {
                tracing::error!("key log: write failed ({e}); key logging is off from now on");
                *guard = None;
            }
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::KeyLog;

    #[test]
    fn lines_are_nss_format() {
        assert_eq!(
            line("CLIENT_RANDOM", &[0xab, 0x01], &[0x00, 0xff]),
            "CLIENT_RANDOM ab01 00ff\n"
        );
        let dir = std::env::temp_dir().join(format!("rdptap-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("keys.log");
        let k = KeyLogFile::create(&p).unwrap();
        k.log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &[1; 32], &[2; 48]);
        k.log("SERVER_HANDSHAKE_TRAFFIC_SECRET", &[1; 32], &[3; 48]);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with("CLIENT_HANDSHAKE_TRAFFIC_SECRET 0101"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
