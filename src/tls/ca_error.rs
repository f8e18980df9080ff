//! Everything that can go wrong with the local CA, each phrased so the reader knows which
//! file is involved and what to type next.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What was being done to a file when the operating system said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// Reading an existing file.
    Read,
    /// Writing a new file.
    Write,
    /// Moving a freshly written file into place.
    Replace,
    /// Creating the CA directory.
    CreateDir,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileOp::Read => "read",
            FileOp::Write => "write",
            FileOp::Replace => "replace",
            FileOp::CreateDir => "create the directory",
        })
    }
}

/// Why a name given to `--constrain` or to the leaf minter is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// Nothing but spaces or an empty item in the comma list.
    Empty,
    /// `*` anywhere in the name.
    Wildcard,
    /// `.example.com`: the leading-dot form some tools use for "subdomains only".
    LeadingDot,
    /// `host:3389`: a port is not part of a name.
    Port,
    /// `10.0.0.0/24`: only single addresses are supported.
    Subnet,
    /// A character DNS names cannot contain.
    BadChar(char),
    /// Two dots in a row, or a trailing one after stripping the root dot.
    EmptyLabel,
    /// A label longer than 63 characters.
    LabelTooLong,
    /// More than 253 characters in all.
    TooLong,
    /// A label that starts or ends with `-`.
    HyphenAtEdge,
    /// All-digit last label, such as `10.0.0`: almost always a mistyped address.
    NumericTld,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("the name is empty (check for a stray comma)"),
            NameProblem::Wildcard => f.write_str(
                "wildcards are not accepted; `example.com` already covers every name under it",
            ),
            NameProblem::LeadingDot => f.write_str(
                "drop the leading dot; `example.com` covers the name itself and every name under it",
            ),
            NameProblem::Port => f.write_str("give the name without a port"),
            NameProblem::Subnet => {
                f.write_str("address ranges are not accepted; list each address on its own")
            }
            NameProblem::BadChar(c) => write!(
                f,
                "{c:?} cannot appear in a DNS name (letters, digits, '-', '_' and '.' only)"
            ),
            NameProblem::EmptyLabel => f.write_str("it has an empty part between dots"),
            NameProblem::LabelTooLong => {
                f.write_str("a part between dots is longer than 63 characters")
            }
            NameProblem::TooLong => f.write_str("it is longer than 253 characters"),
            NameProblem::HyphenAtEdge => {
                f.write_str("a part between dots starts or ends with '-'")
            }
            NameProblem::NumericTld => {
                f.write_str("it ends in a number but is not a complete IP address")
            }
        }
    }
}

/// A failure of the local CA or of minting a leaf, in plain English.
#[derive(Debug)]
pub enum CaError {
    /// No explicit directory and no environment variable to derive the default from.
    NoConfigDir {
        /// The variable(s) that were missing, as the user would type them.
        missing: &'static str,
    },
    /// Neither the certificate nor the key exists in the directory.
    NotFound {
        /// The CA directory.
        dir: PathBuf,
    },
    /// One of the two files exists but the other does not.
    MissingFile {
        /// The absent file.
        path: PathBuf,
        /// The CA directory.
        dir: PathBuf,
    },
    /// `init` found a CA and was not told to replace it.
    AlreadyExists {
        /// The CA directory.
        dir: PathBuf,
    },
    /// The operating system refused a file operation.
    Io {
        /// What was being attempted.
        op: FileOp,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file is not the PEM it should be, or the certificate is not one rdptap can use.
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// The CA directory, for the fix.
        dir: PathBuf,
    },
    /// The private key does not belong to the certificate.
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
        /// The CA directory.
        dir: PathBuf,
    },
    /// The CA certificate's notAfter has passed.
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// notAfter, RFC 3339.
        not_after: String,
        /// The CA directory.
        dir: PathBuf,
    },
    /// The CA certificate's notBefore is still in the future.
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// notBefore, RFC 3339.
        not_before: String,
    },
    /// `--days` outside the accepted range.
    InvalidDays {
        /// What was given.
        days: u32,
    },
    /// A name that cannot be a constraint or a certificate name.
    InvalidName {
        /// The name as given.
        name: String,
        /// Why not.
        problem: NameProblem,
    },
    /// The CA is constrained and the name is outside its constraints.
    NotPermitted {
        /// The requested name.
        name: String,
        /// The CA directory.
        dir: PathBuf,
        /// The names the CA is limited to, comma-separated.
        constraints: String,
    },
    /// Key generation or signing failed inside the crypto library.
    Crypto {
        /// What was being made.
        what: &'static str,
        /// The library's message.
        detail: String,
    },
    /// The background minting task panicked or was cancelled.
    TaskFailed {
        /// The name being minted.
        name: String,
    },
}

/// Formats a path for a command line: quoted when it contains spaces or shell specials, so
/// that the printed fix can be pasted as is.
pub fn shell_path(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/\\:._-+~%,=@".contains(c));
    if plain && !s.is_empty() {
        s
    } else {
        format!("\"{s}\"")
    }
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaError::NoConfigDir { missing } => write!(
                f,
                "cannot find a place for the CA: {missing} is not set; pass --ca-dir DIR"
            ),
            CaError::NotFound { dir } => {
                let d = shell_path(dir);
                write!(f, "no CA in {d}: run `rdptap ca init --ca-dir {d}`")
            }
            CaError::MissingFile { path, dir } => write!(
                f,
                "the CA in {} is incomplete: {} is missing; re-create it with \
                 `rdptap ca init --ca-dir {} --force`",
                shell_path(dir),
                path.display(),
                shell_path(dir)
            ),
            CaError::AlreadyExists { dir } => {
                let d = shell_path(dir);
                write!(
                    f,
                    "a CA already exists in {d}; `rdptap ca show --ca-dir {d}` describes it, \
                     and `rdptap ca init --ca-dir {d} --force` replaces it (clients that trust \
                     the old one will then need the new one)"
                )
            }
            CaError::Io { op, path, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())?;
                if source.kind() == io::ErrorKind::PermissionDenied {
                    f.write_str(" (check the owner and permissions, or pass another --ca-dir)")?;
                }
                Ok(())
            }
            CaError::BadFile { path, problem, dir } => write!(
                f,
                "{} is not usable: {problem}; re-create the CA with \
                 `rdptap ca init --ca-dir {} --force`",
                path.display(),
                shell_path(dir)
            ),
            CaError::KeyMismatch { key, cert, dir } => write!(
                f,
                "{} does not belong to {} (one of them was replaced); re-create the CA with \
                 `rdptap ca init --ca-dir {} --force`",
                key.display(),
                cert.display(),
                shell_path(dir)
            ),
            CaError::Expired {
                path,
                not_after,
                dir,
            } => write!(
                f,
                "the CA in {} expired on {not_after}; re-create it with \
                 `rdptap ca init --ca-dir {} --force` and trust the new one",
                path.display(),
                shell_path(dir)
            ),
            CaError::NotYetValid { path, not_before } => write!(
                f,
                "the CA in {} is not valid until {not_before}; check this computer's clock",
                path.display()
            ),
            CaError::InvalidDays { days } => write!(
                f,
                "--days {days} is out of range: give 1 to {} days",
                crate::tls::ca::MAX_DAYS
            ),
            CaError::InvalidName { name, problem } => {
                write!(
                    f,
                    "{name:?} is not a usable DNS name or IP address: {problem}"
                )
            }
            CaError::NotPermitted {
                name,
                dir,
                constraints,
            } => write!(
                f,
                "the CA in {} is limited to {constraints}, so it cannot vouch for {name:?}; \
                 re-create it with `rdptap ca init --ca-dir {} --constrain {name} --force` \
                 (add the names you still need)",
                shell_path(dir),
                shell_path(dir)
            ),
            CaError::Crypto { what, detail } => write!(f, "cannot make the {what}: {detail}"),
            CaError::TaskFailed { name } => {
                write!(
                    f,
                    "minting the certificate for {name:?} stopped unexpectedly"
                )
            }
        }
    }
}

impl std::error::Error for CaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
