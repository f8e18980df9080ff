//! Files rdptap creates for the user: traces, events, key logs, reports, bundles. They
//! can hold user names and secrets, so they are readable by their owner only, and they
//! are never opened through a symbolic link: a link planted at the path (in a shared
//! directory such as /tmp) would otherwise make rdptap truncate or fill the file it
//! points to, with the invoking user's rights.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Open a file that only the current user can read: traces can hold user names.
///
/// On Unix the last component is opened with `O_NOFOLLOW`, so a symbolic link there is
/// refused (the error says so) instead of followed. Windows has no such flag for a
/// plain open: there the path is checked for a link first, which a process racing
/// rdptap could still defeat.
pub fn create_private(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true);
    if append {
        o.append(true);
    } else {
        o.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    {
        if is_link(path) {
            return Err(link_refused(path));
        }
    }
    let f = match o.open(path) {
        Ok(f) => f,
        // O_NOFOLLOW fails with ELOOP on a link; say what that means.
        Err(e) if is_link(path) => return Err(io::Error::new(e.kind(), link_refused(path))),
        Err(e) => return Err(e),
    };
    // The mode above applies only to a new file; an existing one is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Only regular files: `--events /dev/null` must not change the device's mode.
        if f.metadata()?.is_file() {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(f)
}

/// Whether `path` itself is a symbolic link.
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The refusal of a path that is a symbolic link.
fn link_refused(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link, and rdptap does not write through links (one planted there could make it overwrite another file); remove the link or name the file itself (- writes events to standard output)",
        path.display()
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rdptap-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_planted_link_is_refused_and_its_target_untouched() {
        let d = dir("link");
        let victim = d.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = d.join("events.jsonl");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for append in [false, true] {
            let e = create_private(&link, append).unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
            assert!(e.to_string().contains("events.jsonl"), "{e}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // A dangling link (the usual plant: the victim does not exist yet) too.
        let dangling = d.join("trace.pcapng");
        std::os::unix::fs::symlink(d.join("not-yet"), &dangling).unwrap();
        assert!(create_private(&dangling, false).is_err());
        assert!(!d.join("not-yet").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_plain_file_is_created_private_and_truncated() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir("plain");
        let p = d.join("report.html");
        std::fs::write(&p, "old contents").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = create_private(&p, false).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
