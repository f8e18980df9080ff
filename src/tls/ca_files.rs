//! Where the CA lives and how its files are written: the parts that differ between Unix
//! and Windows.

use super::error::{CaError, FileOp};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The directory the CA uses when `--ca-dir` is not given.
///
/// Unix follows the XDG base-directory convention (`$XDG_CONFIG_HOME/rdptap`, falling back
/// to `~/.config/rdptap`); Windows keeps per-user settings under `%APPDATA%`.
pub fn default_ca_dir() -> Result<PathBuf, CaError> {
    default_dir_from(non_empty_env)
}

/// `default_ca_dir` with the environment passed in, so tests need not change the process's.
pub(crate) fn default_dir_from(
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, CaError> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    if cfg!(windows) {
        return match env("APPDATA") {
            Some(appdata) => Ok(PathBuf::from(appdata).join("rdptap")),
            None => Err(CaError::NoConfigDir {
                missing: "%APPDATA%",
            }),
        };
    }
    // The XDG specification says a relative XDG_CONFIG_HOME is invalid and must be
    // ignored, so a stray `XDG_CONFIG_HOME=foo` does not scatter CAs around.
    if let Some(xdg) = env("XDG_CONFIG_HOME").map(PathBuf::from) {
        if xdg.is_absolute() {
            return Ok(xdg.join("rdptap"));
        }
    }
    match env("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("rdptap")),
        None => Err(CaError::NoConfigDir {
            missing: "neither $XDG_CONFIG_HOME nor $HOME",
        }),
    }
}

fn non_empty_env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Creates the CA directory (and missing parents) readable by the owner only, so the key
/// is never briefly exposed through a group- or world-readable directory.
pub fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| CaError::Io {
        op: FileOp::CreateDir,
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// so a crash never leaves half a key behind and a replaced file gets fresh permissions.
/// `secret` files are created with mode 0600 on Unix from the first byte; on Windows they
/// inherit the per-user ACL of the profile directory.
pub fn write_replacing(path: &Path, contents: &[u8], secret: bool) -> Result<(), CaError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let io_err = |op, p: &Path| {
        let p = p.to_path_buf();
        move |source| CaError::Io {
            op,
            path: p,
            source,
        }
    };
    // A leftover from an earlier crash of this same process id would block create_new.
    let _ = fs::remove_file(&tmp);
    let result = create_new(&tmp, secret)
        .and_then(|mut f| {
            f.write_all(contents)?;
            f.sync_all()
        })
        .map_err(io_err(FileOp::Write, path))
        .and_then(|()| fs::rename(&tmp, path).map_err(io_err(FileOp::Replace, path)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn create_new(path: &Path, secret: bool) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    options.open(path)
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, CaError> {
    fs::read(path).map_err(|source| CaError::Io {
        op: FileOp::Read,
        path: path.to_path_buf(),
        source,
    })
}

/// Whether nobody but the owner can read the file. Always true where Unix modes do not
/// apply, since Windows profile directories are already private to the user.
pub fn is_owner_only(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o077 == 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

/// Something that tells this machine's CA apart from others in a trust store list: the
/// host name, else the user name.
pub fn machine_label() -> String {
    let label = host_name()
        .or_else(|| non_empty_env("USER").map(|u| u.to_string_lossy().into_owned()))
        .or_else(|| non_empty_env("USERNAME").map(|u| u.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "this computer".to_string());
    // The whole CN must stay within the 64 characters X.509 allows for it.
    let label: String = label.chars().filter(|c| !c.is_control()).take(40).collect();
    match label.trim() {
        "" => "this computer".to_string(),
        trimmed => trimmed.to_string(),
    }
}

#[cfg(unix)]
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for buf.len() bytes and gethostname writes at most that
    // many; we read only up to the first NUL, or the whole buffer if it was truncated.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(not(unix))]
fn host_name() -> Option<String> {
    non_empty_env("COMPUTERNAME").map(|c| c.to_string_lossy().into_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_planted_link_is_replaced_never_followed() {
        let d = std::env::temp_dir().join(format!("rdptap-ca-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let victim = d.join("victim");
        fs::write(&victim, "precious").unwrap();
        // A link at the CA file's own path: the rename replaces the link itself.
        let key = d.join("rdptap-ca.key");
        std::os::unix::fs::symlink(&victim, &key).unwrap();
        write_replacing(&key, b"KEY", true).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!fs::symlink_metadata(&key).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&key).unwrap(), b"KEY");
        // A link at the temporary file's path is removed, not written through.
        let pem = d.join("rdptap-ca.pem");
        let tmp = d.join(format!(".rdptap-ca.pem.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        write_replacing(&pem, b"PEM", false).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::read(&pem).unwrap(), b"PEM");
        fs::remove_dir_all(&d).unwrap();
    }
}
