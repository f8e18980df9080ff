//! `rdptap ca init|show|remove-instructions`.
//!
//! The commands print exact, paste-ready commands with the real file path substituted,
//! because installing and later removing a root certificate is exactly the kind of step
//! people get subtly wrong by hand.

use super::{CaCommand, CaDirArg};
use crate::tls::ca::{self, shell_path, Ca, CaError};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Examples shown by `rdptap ca init --help`.
pub const INIT_EXAMPLES: &str = "\
Examples:
  rdptap ca init
  rdptap ca init --constrain rdp-host.example.com,10.0.0.5 --days 7";

/// Examples for `rdptap ca show --help`.
pub const SHOW_EXAMPLES: &str = "\
Examples:
  rdptap ca show
  rdptap ca show --ca-dir ./test-ca";

/// Examples for `rdptap ca remove-instructions --help`.
pub const REMOVE_EXAMPLES: &str = "\
Examples:
  rdptap ca remove-instructions
  rdptap ca remove-instructions --ca-dir ./test-ca";

/// Where Debian's update-ca-certificates picks up local CAs; it only reads `*.crt` there.
const DEBIAN_CA_FILE: &str = "/usr/local/share/ca-certificates/rdptap-ca.crt";

/// Runs one `ca` subcommand and returns the process exit status.
pub fn run(cmd: CaCommand) -> i32 {
    match execute(cmd) {
        Ok(text) => {
            // A closed pipe (`rdptap ca show | head`) is not worth a panic or an error.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            crate::runtime::console::error(e);
            2
        }
    }
}

fn execute(cmd: CaCommand) -> Result<String, CaError> {
    match cmd {
        CaCommand::Init(args) => {
            let dir = resolve_dir(&args.dir)?;
            let replaced = if args.force {
                ca::peek_serial(&dir)
            } else {
                None
            };
            let ca = Ca::init(&dir, &args.constrain, args.days, args.force)?;
            let mut out = format!("Created a new CA in {}.\n", shell_path(&dir));
            if let Some(old) = replaced {
                let _ = writeln!(
                    out,
                    "It replaces the CA with serial {old}. Clients that trusted that one keep \
                     trusting it until you remove it:\n  \
                     certutil -user -delstore Root {old}\n\
                     (the Debian step below overwrites the old copy by itself)."
                );
            }
            out.push('\n');
            out.push_str(&show_text(&ca));
            Ok(out)
        }
        CaCommand::Show(arg) => Ok(show_text(&Ca::load(&resolve_dir(&arg)?)?)),
        CaCommand::RemoveInstructions(arg) => {
            let dir = resolve_dir(&arg)?;
            // No full load: an expired or damaged CA is exactly the one people remove.
            Ok(remove_text(&dir, ca::peek_serial(&dir).as_deref()))
        }
    }
}

/// The CA directory from `--ca-dir`, else the default, made absolute so the printed
/// commands work from any working directory.
fn resolve_dir(arg: &CaDirArg) -> Result<PathBuf, CaError> {
    let dir = match &arg.ca_dir {
        Some(dir) => dir.clone(),
        None => ca::default_ca_dir()?,
    };
    Ok(std::path::absolute(&dir).unwrap_or(dir))
}

/// What `ca show` prints: the facts about the CA, then how to trust it.
pub fn show_text(ca: &Ca) -> String {
    let cert = shell_path(&ca.cert_path());
    let dir = shell_path(ca.dir());
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<16}{value}");
    };
    line("CA certificate:", &cert);
    line(
        "Private key:",
        &format!(
            "{} (secret: whoever has it can impersonate the names below)",
            shell_path(&ca.key_path())
        ),
    );
    line("Subject:", ca.subject());
    line("Serial:", ca.serial_hex());
    line("SHA-256:", ca.fingerprint_sha256());
    let left = match ca.days_left() {
        d if d < 1 => "expired".to_string(),
        1 => "less than a day left".to_string(),
        d => format!("{d} days left"),
    };
    line(
        "Valid:",
        &format!(
            "{} to {} ({left})",
            ca::rfc3339(ca.not_before()),
            ca::rfc3339(ca.not_after())
        ),
    );
    if ca.is_constrained() {
        let names: Vec<String> = ca.constraints().iter().map(ToString::to_string).collect();
        line("Limited to:", &names.join(", "));
    } else {
        line("Limited to:", "any name (no name constraints)");
        let _ = writeln!(
            out,
            "\nRecommended: limit the CA with --constrain. Once a client trusts this CA, anyone \
             holding its key\ncan intercept any TLS site that client visits, not just RDP hosts. \
             Re-create it for the\nhosts you test (localhost, 127.0.0.1 and ::1 are added):\n  \
             rdptap ca init --ca-dir {dir} --constrain rdp-host.example.com --force"
        );
    }
    if !ca.key_is_owner_only() {
        let key = shell_path(&ca.key_path());
        let _ = writeln!(
            out,
            "\nWarning: {key} can be read by other users of this machine; fix it with:\n  \
             chmod 600 {key}"
        );
    }
    let _ = write!(
        out,
        "
To trust it:
  Windows, current user (mstsc; copy the file over first if the client runs elsewhere):
    certutil -user -addstore Root {cert}
  Debian or Ubuntu, whole system (OpenSSL-based clients such as FreeRDP):
    sudo cp {cert} {DEBIAN_CA_FILE} && sudo update-ca-certificates
  FreeRDP:
    after the Debian step it checks rdptap's certificate against the system store:
      xfreerdp /v:localhost:13389
    or, without installing anything, skip the check:   xfreerdp /v:localhost:13389 /cert:ignore
    or accept and remember the first certificate:      xfreerdp /v:localhost:13389 /cert:tofu
    (older FreeRDP 2 releases spell these /cert-ignore and /cert-tofu)

To undo all of this later: rdptap ca remove-instructions --ca-dir {dir}
"
    );
    out
}

/// What `ca remove-instructions` prints. `serial` is the CA's serial number when its
/// certificate can still be read.
pub fn remove_text(dir: &Path, serial: Option<&str>) -> String {
    let cert = shell_path(&dir.join(ca::CERT_FILE));
    let key = shell_path(&dir.join(ca::KEY_FILE));
    let dir_q = shell_path(dir);
    let mut out = String::new();
    let id = match serial {
        Some(serial) => {
            let _ = writeln!(out, "To remove the CA with serial {serial} ({cert}):");
            serial.to_string()
        }
        None => {
            let _ = writeln!(
                out,
                "There is no readable CA certificate in {dir_q}, so its serial number is \
                 unknown.\nOn Windows, certmgr.msc shows it under Trusted Root Certification \
                 Authorities\n(issued to \"rdptap local CA (...)\"); use it in place of SERIAL \
                 below.\n"
            );
            "SERIAL".to_string()
        }
    };
    let _ = write!(
        out,
        r#"
  Windows, current user:
    certutil -user -delstore Root {id}
  Windows, if mstsc was told "Don't ask me again" for the proxy's address:
    reg delete "HKCU\Software\Microsoft\Terminal Server Client\Servers\localhost" /v CertHash /f
  Debian or Ubuntu:
    sudo rm {DEBIAN_CA_FILE} && sudo update-ca-certificates --fresh
  FreeRDP's remembered certificates for the address it was pointed at (rdptap listens on
  127.0.0.1:13389 unless --listen says otherwise; substitute the host and port you used):
    FreeRDP 3:  rm -f ~/.config/freerdp/server/localhost_13389.pem ~/.config/freerdp/server/127.0.0.1_13389.pem
    FreeRDP 2:  sed -i '/^localhost 13389 /d; /^127\.0\.0\.1 13389 /d' ~/.config/freerdp/known_hosts2
  The CA itself (the private key is a secret; delete it rather than keep it around):
    Linux, macOS:  rm -f {cert} {key} && rmdir {dir_q}
    Windows:       del {cert} {key} && rmdir {dir_q}
"#
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_text_substitutes_serial_and_paths() {
        let dir = Path::new("/home/u/.config/rdptap");
        let text = remove_text(dir, Some("4A0B"));
        assert!(
            text.contains("certutil -user -delstore Root 4A0B"),
            "{text}"
        );
        assert!(
            text.contains("rm -f /home/u/.config/rdptap/rdptap-ca.pem"),
            "{text}"
        );
        assert!(text.contains("update-ca-certificates --fresh"), "{text}");
        assert!(text.contains("known_hosts2"), "{text}");
        let unknown = remove_text(Path::new("/nowhere"), None);
        assert!(unknown.contains("delstore Root SERIAL"), "{unknown}");
    }

    #[test]
    fn paths_with_spaces_are_quoted_in_commands() {
        let text = remove_text(Path::new("/tmp/my ca"), Some("01"));
        assert!(text.contains("rmdir \"/tmp/my ca\""), "{text}");
    }
}
