//! Envelope encryption of one value with a per-tenant (or per-subject) data
//! key, bound to where the value lives.
//!
//! Cipher: XChaCha20-Poly1305. Its 192-bit nonce can be drawn at random for
//! every value without a counter and without a practical bound on how many
//! values one data key seals (a data key seals every row of a tenant, across
//! replicas that share no state), and it is constant-time in software
//! whatever the CPU. AES-256-GCM-SIV would survive a repeated nonce, but its
//! 96-bit nonce makes random nonces the weaker part at large volumes and its
//! speed rests on AES-NI.
//!
//! Ciphertext format, version 1:
//!
//! ```text
//! 0x01 | nonce (24 bytes) | XChaCha20-Poly1305(plaintext) | tag (16 bytes)
//! ```
//!
//! The additional data is [`Aad::encode`]: the tenant, table, column and
//! row, length-prefixed, so a ciphertext copied to another row, column,
//! table or tenant no longer opens.

use std::fmt;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::Error;

/// First byte of a version-1 ciphertext.
const V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A 256-bit data key. Zeroised on drop; `Debug` shows no bytes.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// 32 random bytes from the operating system's generator (via `rand`).
    pub fn generate() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// A key from raw bytes (as unwrapped by a key provider).
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }

    /// A key from a slice that must be 32 bytes long.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey::from_bytes(arr))
    }

    /// The raw key, for wrapping and derivation inside this crate.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for DataKey {
    /// Constant-time comparison.
    fn eq(&self, other: &DataKey) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }
}

impl Eq for DataKey {}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

/// Where a sealed value lives. Every field goes into the AEAD's additional
/// data, so a ciphertext opens only at the place it was sealed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    /// Tenant id.
    pub tenant: &'a str,
    /// Table (or collection) name.
    pub table: &'a str,
    /// Column (or field) name.
    pub column: &'a str,
    /// Row id (primary key, as text).
    pub row: &'a str,
}

impl Aad<'_> {
    /// Canonical encoding: `"rempart-aad" 0x01` then each field as a 4-byte
    /// big-endian length and its bytes, in the order tenant, table, column,
    /// row. No two different `Aad`s encode to the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        let fields = [self.tenant, self.table, self.column, self.row];
        let len = 12 + fields.iter().map(|f| 4 + f.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(b"rempart-aad");
        out.push(V1);
        for f in fields {
            push_lp(&mut out, f.as_bytes());
        }
        out
    }
}

/// Append a 4-byte big-endian length and the bytes.
pub(crate) fn push_lp(out: &mut Vec<u8>, bytes: &[u8]) {
    // Fields longer than 4 GiB do not exist here; saturating keeps the
    // encoding total without a panic path.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Encrypt `plaintext` for the place `aad` names.
pub fn seal(key: &DataKey, aad: &Aad<'_>, plaintext: &[u8]) -> Vec<u8> {
    seal_raw(key.bytes(), &aad.encode(), plaintext)
}

/// Decrypt a value sealed by [`seal`] for the same place. Fails, without
/// saying more, if the key, any field of `aad` or any byte differs.
pub fn open(key: &DataKey, aad: &Aad<'_>, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    open_raw(key.bytes(), &aad.encode(), ciphertext)
}

pub(crate) fn seal_raw(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Only fails for plaintexts beyond 256 GiB.
        .expect("XChaCha20-Poly1305 encryption of an in-memory value");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    out.push(V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

pub(crate) fn open_raw(
    key: &[u8; 32],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    match ciphertext.first() {
        None => return Err(Error::BadCiphertext("empty ciphertext".into())),
        Some(&V1) => {}
        Some(v) => {
            return Err(Error::BadCiphertext(format!(
                "unsupported ciphertext version {v} (this build reads version {V1})"
            )));
        }
    }
    if ciphertext.len() < 1 + NONCE_LEN + TAG_LEN {
        return Err(Error::BadCiphertext(format!(
            "ciphertext too short ({} bytes, at least {} expected)",
            ciphertext.len(),
            1 + NONCE_LEN + TAG_LEN
        )));
    }
    let (nonce, body) = ciphertext[1..].split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: Aad<'static> = Aad {
        tenant: "acme",
        table: "subjects",
        column: "email",
        row: "42",
    };

    #[test]
    fn round_trip_and_fresh_nonces() {
        let k = DataKey::generate();
        let c1 = seal(&k, &AAD, b"jeanne.dupont@example.fr");
        let c2 = seal(&k, &AAD, b"jeanne.dupont@example.fr");
        assert_ne!(c1, c2, "random nonce per seal");
        assert_eq!(c1[0], 1);
        assert_eq!(c1.len(), 1 + 24 + 24 + 16);
        assert_eq!(
            &open(&k, &AAD, &c1).unwrap()[..],
            b"jeanne.dupont@example.fr"
        );
        assert_eq!(&open(&k, &AAD, &seal(&k, &AAD, b"")).unwrap()[..], b"");
    }

    #[test]
    fn any_change_of_place_key_or_byte_fails() {
        let k = DataKey::generate();
        let c = seal(&k, &AAD, b"FR7630006000011234567890189");
        let places = [
            Aad {
                tenant: "other",
                ..AAD
            },
            Aad {
                table: "notes",
                ..AAD
            },
            Aad {
                column: "iban",
                ..AAD
            },
            Aad { row: "43", ..AAD },
        ];
        for p in places {
            assert!(matches!(open(&k, &p, &c), Err(Error::Decrypt)), "{p:?}");
        }
        assert!(open(&DataKey::generate(), &AAD, &c).is_err());
        for i in 0..c.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = c.clone();
                bad[i] ^= bit;
                assert!(open(&k, &AAD, &bad).is_err(), "byte {i} bit {bit:#x}");
            }
        }
        assert!(open(&k, &AAD, &c[..c.len() - 1]).is_err());
        assert!(open(&k, &AAD, &[]).is_err());
        let mut v2 = c.clone();
        v2[0] = 2;
        let e = open(&k, &AAD, &v2).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_fails() {
        // Two rows of the same column, same key: swapping the stored bytes
        // must not swap the values.
        let k = DataKey::generate();
        let row1 = Aad { row: "1", ..AAD };
        let row2 = Aad { row: "2", ..AAD };
        let c1 = seal(&k, &row1, b"alice");
        let c2 = seal(&k, &row2, b"bob");
        assert!(open(&k, &row2, &c1).is_err());
        assert!(open(&k, &row1, &c2).is_err());
        assert_eq!(&open(&k, &row1, &c1).unwrap()[..], b"alice");
    }

    #[test]
    fn aad_encoding_is_unambiguous() {
        // Moving a boundary between fields changes the encoding.
        let a = Aad {
            tenant: "ab",
            table: "c",
            column: "d",
            row: "e",
        };
        let b = Aad {
            tenant: "a",
            table: "bc",
            column: "d",
            row: "e",
        };
        assert_ne!(a.encode(), b.encode());
        assert!(a.encode().starts_with(b"rempart-aad\x01\0\0\0\x02ab"));
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let k = DataKey::from_bytes([0xAB; 32]);
        let d = format!("{k:?}");
        assert_eq!(d, "DataKey(…)");
        assert!(!d.to_lowercase().contains("ab"));
    }
}
