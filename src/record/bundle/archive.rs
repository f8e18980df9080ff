//! Writes the bundle as a zip file or a gzip-compressed tar file, by the file's name.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The archive formats a bundle can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.zip`: opens with a double click on Windows.
    Zip,
    /// `.tar.gz` or `.tgz`.
    TarGz,
}

impl Format {
    /// The format a file name asks for, if it names one.
    pub fn from_path(p: &Path) -> Option<Format> {
        let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".zip") {
            Some(Format::Zip)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Format::TarGz)
        } else {
            None
        }
    }
}

/// One file in the archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name inside the archive (a bare file name).
    pub name: String,
    /// Its contents.
    pub data: Vec<u8>,
}

/// Writes `entries` into `file`, in the given format. The archive's files carry mode
/// 0600: they hold what the trace holds.
pub fn write(file: File, format: Format, entries: &[Entry]) -> io::Result<()> {
    match format {
        Format::Zip => {
            let mut z = zip::ZipWriter::new(file);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(0o600);
            for e in entries {
                z.start_file(e.name.as_str(), opts)
                    .map_err(io::Error::other)?;
                z.write_all(&e.data)?;
            }
            z.finish().map_err(io::Error::other)?.sync_all()
        }
        Format::TarGz => {
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            let mut t = tar::Builder::new(gz);
            let mtime = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            for e in entries {
                let mut h = tar::Header::new_gnu();
                h.set_size(e.data.len() as u64);
                h.set_mode(0o600);
                h.set_mtime(mtime);
                h.set_cksum();
                t.append_data(&mut h, &e.name, e.data.as_slice())?;
            }
            t.into_inner()?.finish()?.sync_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_name() {
        assert_eq!(
            Format::from_path(Path::new("a/case.ZIP")),
            Some(Format::Zip)
        );
        assert_eq!(
            Format::from_path(Path::new("case.tar.gz")),
            Some(Format::TarGz)
        );
        assert_eq!(
            Format::from_path(Path::new("case.tgz")),
            Some(Format::TarGz)
        );
        assert_eq!(Format::from_path(Path::new("case.rar")), None);
    }

    #[test]
    fn both_formats_round_trip() {
        let dir = std::env::temp_dir().join(format!("rdptap-archive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entries = vec![
            Entry {
                name: "README.txt".into(),
                data: b"hello".to_vec(),
            },
            Entry {
                name: "events.jsonl".into(),
                data: vec![b'x'; 100_000],
            },
        ];
        let z = dir.join("b.zip");
        write(File::create(&z).unwrap(), Format::Zip, &entries).unwrap();
        let mut a = zip::ZipArchive::new(File::open(&z).unwrap()).unwrap();
        assert_eq!(a.len(), 2);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut a.by_name("README.txt").unwrap(), &mut s).unwrap();
        assert_eq!(s, "hello");
        let t = dir.join("b.tar.gz");
        write(File::create(&t).unwrap(), Format::TarGz, &entries).unwrap();
        let gz = flate2::read::GzDecoder::new(File::open(&t).unwrap());
        let names: Vec<String> = tar::Archive::new(gz)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["README.txt", "events.jsonl"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
