//! The master key and keys derived from it (HKDF-SHA256, RFC 5869).
//!
//! Embedded default: a local key file created on first run with mode 0600
//! (and a warning: production keeps keys in a KMS).

use std::fmt;
use std::path::Path;

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::Error;

/// What a derived key is for; each purpose yields an independent key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// The audit log's Ed25519 signing seed.
    AuditSigning,
    /// A tenant's key for pseudonym mappings.
    PiiMapping {
        /// Tenant id.
        tenant: &'a str,
    },
}

impl Purpose<'_> {
    fn info(&self) -> Vec<u8> {
        match self {
            Purpose::AuditSigning => b"rempart/v1/audit-signing".to_vec(),
            Purpose::PiiMapping { tenant } => {
                [b"rempart/v1/pii-mapping/".as_slice(), tenant.as_bytes()].concat()
            }
        }
    }
}

/// The root key. Zeroised on drop; never printed.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Load the key file, creating it (0600) when absent. Returns the key and
    /// whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(s) => {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s.trim(), &mut bytes)
                    .map_err(|_| Error::BadKeyFile(path.to_owned()))?;
                Ok((MasterKey(bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let text = Zeroizing::new(hex::encode(bytes));
                write_private(path, text.as_bytes()).map_err(io)?;
                Ok((MasterKey(bytes), true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A key from raw bytes (tests, KMS-provided keys).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Derive a 32-byte key for one purpose.
    pub fn derive(&self, purpose: Purpose<'_>) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(b"rempart-master-v1"), &self.0);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 255*32 limit: cannot fail.
        hk.expand(&purpose.info(), out.as_mut())
            .expect("HKDF output length is valid");
        out
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys/master.key");
        let (k1, created) = MasterKey::load_or_create(&p).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (k2, created) = MasterKey::load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(
            *k1.derive(Purpose::AuditSigning),
            *k2.derive(Purpose::AuditSigning)
        );
        assert_ne!(
            *k1.derive(Purpose::PiiMapping { tenant: "a" }),
            *k1.derive(Purpose::PiiMapping { tenant: "b" })
        );
        std::fs::write(&p, "short").unwrap();
        assert!(MasterKey::load_or_create(&p).is_err());
    }
}
