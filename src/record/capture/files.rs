//! The trace files: one for everything, or one per connection (`--pcap-split`). Blocks
//! are assembled whole in memory and handed to the OS whole, so a file cut short by a
//! crash ends at most in one torn block.

use super::CaptureOptions;
use crate::record::pcapng::block;
use crate::runtime::files::create_private;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Buffered blocks are handed to the OS once they reach this size (and at least once a
/// second, and at the end of every connection).
const WRITE_AT: usize = 1 << 20;

/// One open pcapng file.
pub(super) struct Out {
    pub path: PathBuf,
    file: File,
    /// Whole blocks not yet written.
    pub buf: Vec<u8>,
    /// Interface number of each connection in this file.
    ifaces: HashMap<u64, u32>,
}

impl Out {
    fn create(path: PathBuf) -> io::Result<Out> {
        let file = create_private(&path, false)?;
        let mut buf = Vec::with_capacity(WRITE_AT + (1 << 17));
        // The section header waits in the buffer like any block: a device that refuses
        // writes (a full disk) then fails in the writer, which switches capture off,
        // rather than at start-up.
        block::section_header(&mut buf, concat!("rdptap ", env!("CARGO_PKG_VERSION")));
        Ok(Out {
            path,
            file,
            buf,
            ifaces: HashMap::new(),
        })
    }

    /// The interface of `conn`, if it has one here.
    pub fn iface(&self, conn: u64) -> Option<u32> {
        self.ifaces.get(&conn).copied()
    }

    fn add_iface(&mut self, conn: u64, desc: &str) {
        let id = self.ifaces.len() as u32;
        block::interface(&mut self.buf, &iface_name(conn), desc);
        self.ifaces.insert(conn, id);
    }

    /// Writes the buffered blocks out when there are enough of them.
    pub fn maybe_write(&mut self) -> io::Result<()> {
        if self.buf.len() >= WRITE_AT {
            self.write_out()?;
        }
        Ok(())
    }

    /// Hands every buffered block to the OS.
    pub fn write_out(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let r = self.file.write_all(&self.buf);
            self.buf.clear();
            r?;
        }
        Ok(())
    }
}

/// The interface name of a connection, as Wireshark's `frame.interface_name` shows it.
pub fn iface_name(conn: u64) -> String {
    format!("rdptap-conn-{conn}")
}

/// The file of connection `conn` under --pcap-split: `trace.pcapng` → `trace-conn7.pcapng`.
pub fn split_path(pattern: &Path, conn: u64) -> PathBuf {
    let stem = pattern
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rdptap".into());
    let ext = pattern
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pcapng".into());
    pattern.with_file_name(format!("{stem}-conn{conn}.{ext}"))
}

/// Every file the writer has open.
pub(super) enum Files {
    /// One file for all connections.
    One(Out),
    /// A file per connection, opened at its first flow and closed at its end.
    Split {
        pattern: PathBuf,
        open: HashMap<u64, Out>,
    },
}

impl Files {
    /// Opens the trace now, so a bad path fails at start-up with its name.
    pub fn open(opts: &CaptureOptions) -> io::Result<Files> {
        if opts.split {
            let dir = match opts.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("the directory {} does not exist", dir.display()),
                ));
            }
            Ok(Files::Split {
                pattern: opts.path.clone(),
                open: HashMap::new(),
            })
        } else {
            Ok(Files::One(Out::create(opts.path.clone())?))
        }
    }

    /// Adds connection `conn`'s interface (opening its file under --pcap-split).
    pub fn add_conn(&mut self, conn: u64, desc: &str) -> io::Result<()> {
        match self {
            Files::One(o) => o.add_iface(conn, desc),
            Files::Split { pattern, open } => {
                let mut o = Out::create(split_path(pattern, conn))?;
                o.add_iface(conn, desc);
                open.insert(conn, o);
            }
        }
        Ok(())
    }

    /// The file holding connection `conn`, if it is open.
    pub fn out(&mut self, conn: u64) -> Option<&mut Out> {
        match self {
            Files::One(o) => Some(o),
            Files::Split { open, .. } => open.get_mut(&conn),
        }
    }

    /// Connection `conn` ended: its blocks go out now; under --pcap-split its file closes.
    pub fn conn_done(&mut self, conn: u64) -> io::Result<()> {
        match self {
            Files::One(o) => o.write_out(),
            Files::Split { open, .. } => match open.remove(&conn) {
                Some(mut o) => o.write_out(),
                None => Ok(()),
            },
        }
    }

    /// Writes out every file's buffered blocks.
    pub fn write_out_all(&mut self) -> io::Result<()> {
        match self {
            Files::One(o) => o.write_out(),
            Files::Split { open, .. } => {
                for o in open.values_mut() {
                    o.write_out()?;
                }
                Ok(())
            }
        }
    }

    /// The file's path, or with --pcap-split the pattern of the files' paths.
    pub fn pattern(&self) -> &Path {
        match self {
            Files::One(o) => &o.path,
            Files::Split { pattern, .. } => pattern,
        }
    }

    /// The path to name in an error message.
    pub fn describe(&self) -> String {
        match self {
            Files::One(o) => o.path.display().to_string(),
            Files::Split { pattern, .. } => split_path(pattern, 0)
                .display()
                .to_string()
                .replace("-conn0", "-conn*"),
        }
    }

    /// Every open file.
    pub fn all(&mut self) -> Vec<&mut Out> {
        match self {
            Files::One(o) => vec![o],
            Files::Split { open, .. } => open.values_mut().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names_keep_the_extension() {
        assert_eq!(
            split_path(Path::new("/tmp/trace.pcapng"), 7),
            PathBuf::from("/tmp/trace-conn7.pcapng")
        );
        assert_eq!(
            split_path(Path::new("trace"), 2),
            PathBuf::from("trace-conn2.pcapng")
        );
    }
}
