//! Files rdptap creates for the user: traces, events, key logs, reports. They can hold
//! user names and secrets, so they are readable by their owner only.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Open a file that only the current user can read: traces can hold user names.
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
        o.mode(0o600);
    }
    let f = o.open(path)?;
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
