//! Signed checkpoints in the C2SP `signed-note` + `tlog-checkpoint` format.
//!
//! A checkpoint note is (C2SP tlog-checkpoint):
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <base64 root hash>\n
//! \n
//! — <key name> <base64(key id || Ed25519 signature)>\n
//! ```
//!
//! The signature is over the body (the first three lines, with their
//! newlines). Following C2SP signed-note, the key name is the origin, and the
//! key id is the first four bytes of `SHA-256(key name || "\n" || 0x01 ||
//! 32-byte Ed25519 public key)` (0x01 is the Ed25519 signature type).
//! Signature lines by other keys are allowed and ignored; the note verifies if
//! one line carries a valid signature by the expected key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::entry::Hash;

/// A parsed and signature-checked checkpoint. Only [`Checkpoint::open`]
/// makes one, so holding one means the signature was valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

/// Why a note was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoteError {
    Malformed,
    BadSignature,
}

/// C2SP signed-note key id for an Ed25519 key.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([0x01]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The C2SP verifier key string `<name>+<hex key id>+<base64(0x01 || key)>`,
/// for publishing the public key.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut k = vec![0x01];
    k.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, key)),
        B64.encode(k)
    )
}

fn body(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

/// Signs a checkpoint note for a tree of `size` leaves with root `root`.
pub fn sign(origin: &str, size: u64, root: &Hash, key: &SigningKey) -> String {
    let body = body(origin, size, root);
    let sig = key.sign(body.as_bytes());
    let mut blob = key_id(origin, &key.verifying_key()).to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    format!("{body}\n\u{2014} {origin} {}\n", B64.encode(blob))
}

impl Checkpoint {
    /// Parses a note and checks it carries a valid signature by `key` under
    /// the note's origin as key name.
    pub fn open(note: &str, key: &VerifyingKey) -> Result<Checkpoint, crate::Failure> {
        Self::open_inner(note, key).map_err(|e| match e {
            NoteError::Malformed => crate::Failure::CheckpointMalformed,
            NoteError::BadSignature => crate::Failure::BadSignature,
        })
    }

    pub(crate) fn open_inner(note: &str, key: &VerifyingKey) -> Result<Checkpoint, NoteError> {
        let (body, sigs) = note.split_once("\n\n").ok_or(NoteError::Malformed)?;
        let body = format!("{body}\n");
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty() && !o.contains(' '))
            .ok_or(NoteError::Malformed)?;
        let size_s = lines.next().ok_or(NoteError::Malformed)?;
        // Decimal, no sign, no leading zeros (tlog-checkpoint).
        if size_s.is_empty()
            || !size_s.bytes().all(|b| b.is_ascii_digit())
            || (size_s.len() > 1 && size_s.starts_with('0'))
        {
            return Err(NoteError::Malformed);
        }
        let size: u64 = size_s.parse().map_err(|_| NoteError::Malformed)?;
        let root_v = B64
            .decode(lines.next().ok_or(NoteError::Malformed)?)
            .map_err(|_| NoteError::Malformed)?;
        let root: Hash = root_v.try_into().map_err(|_| NoteError::Malformed)?;
        if lines.next().is_some() {
            // No extension lines are emitted by this log.
            return Err(NoteError::Malformed);
        }
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed);
        }
        let want_id = key_id(origin, key);
        let mut any = false;
        for line in sigs.lines() {
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed)?;
            let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed)?;
            let blob = B64.decode(blob).map_err(|_| NoteError::Malformed)?;
            any = true;
            if name != origin || blob.len() != 68 || blob[..4] != want_id {
                continue;
            }
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::Malformed)?;
            if key.verify_strict(body.as_bytes(), &sig).is_ok() {
                return Ok(Checkpoint {
                    origin: origin.to_string(),
                    size,
                    root,
                });
            }
            return Err(NoteError::BadSignature);
        }
        if !any {
            return Err(NoteError::Malformed);
        }
        Err(NoteError::BadSignature)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of entries the checkpoint covers.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// RFC 6962 root hash of the first `size` entries.
    pub fn root(&self) -> &Hash {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn round_trip_and_forgeries() {
        let k = key(1);
        let note = sign("example.eu/audit", 42, &[7; 32], &k);
        assert!(note.starts_with("example.eu/audit\n42\n"));
        let cp = Checkpoint::open(&note, &k.verifying_key()).unwrap();
        assert_eq!((cp.size(), *cp.root()), (42, [7; 32]));
        // Wrong key.
        assert_eq!(
            Checkpoint::open(&note, &key(2).verifying_key()),
            Err(crate::Failure::BadSignature)
        );
        // Edited size or root.
        let edited = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            Checkpoint::open(&edited, &k.verifying_key()),
            Err(crate::Failure::BadSignature)
        );
        let other_root = sign("example.eu/audit", 42, &[8; 32], &k);
        let spliced = format!(
            "{}{}",
            &other_root[..other_root.find("\n\n").unwrap()],
            &note[note.find("\n\n").unwrap()..]
        );
        assert_eq!(
            Checkpoint::open(&spliced, &k.verifying_key()),
            Err(crate::Failure::BadSignature)
        );
        // Garbage.
        assert_eq!(
            Checkpoint::open("nope", &k.verifying_key()),
            Err(crate::Failure::CheckpointMalformed)
        );
    }
}
