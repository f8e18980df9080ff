//! The local certificate authority that signs rdptap's interception certificates.

/// The per-user CA directory (placeholder until the CA lands).
pub fn default_ca_dir() -> Result<std::path::PathBuf, String> {
    Err("no CA".into())
}
