//! API keys: `rk_<id>_<secret>`, stored as a SHA-256 hash, compared in
//! constant time.
//!
//! Keys carry 256 bits of randomness, so a fast hash is the right tool
//! (password hashing exists for low-entropy secrets). The id part is public
//! and is what logs and audit records show.

use std::fmt;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const PREFIX: &str = "rk_";

/// A freshly generated key: shown once, then only its hash is kept.
pub struct ApiKey {
    id: String,
    secret: Zeroizing<String>,
}

impl ApiKey {
    /// Generate a key with 96 bits of id and 256 bits of secret.
    pub fn generate() -> ApiKey {
        let mut rng = rand::rng();
        let mut id = [0u8; 12];
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut id);
        rng.fill_bytes(secret.as_mut());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        ApiKey {
            id: hex::encode(id),
            secret: Zeroizing::new(b64.encode(secret.as_ref())),
        }
    }

    /// The public key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The full key, to show the user once.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}_{}", self.id, self.secret.as_str())
    }

    /// The hash to store.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.secret)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({PREFIX}{}_…)", self.id)
    }
}

/// SHA-256 of a key's secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    fn of(secret: &str) -> KeyHash {
        KeyHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Hex encoding, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse the stored hex encoding.
    pub fn from_hex(s: &str) -> Option<KeyHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(KeyHash(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(…)")
    }
}

/// A key as presented in an `Authorization: Bearer` header.
pub struct PresentedKey<'a> {
    id: &'a str,
    secret: &'a str,
}

impl<'a> PresentedKey<'a> {
    /// Split `rk_<id>_<secret>`; `None` if it is not shaped like our keys.
    pub fn parse(s: &'a str) -> Option<PresentedKey<'a>> {
        let rest = s.strip_prefix(PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let id_ok = id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit());
        (id_ok && !secret.is_empty()).then_some(PresentedKey { id, secret })
    }

    /// The public id, to look the stored hash up.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// Constant-time comparison of the secret's hash with a stored hash.
    pub fn matches(&self, stored: &KeyHash) -> bool {
        KeyHash::of(self.secret).0.ct_eq(&stored.0).into()
    }
}

impl fmt::Debug for PresentedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey({PREFIX}{}_…)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_verify_and_others_do_not() {
        let k = ApiKey::generate();
        let full = k.reveal();
        let p = PresentedKey::parse(&full).unwrap();
        assert_eq!(p.id(), k.id());
        assert!(p.matches(&k.hash()));
        let stored = KeyHash::from_hex(&k.hash().to_hex()).unwrap();
        assert!(p.matches(&stored));
        let mut wrong = full.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'x' { 'y' } else { 'x' });
        assert!(!PresentedKey::parse(&wrong).unwrap().matches(&stored));
        assert!(PresentedKey::parse("sk-abc").is_none());
        assert!(!format!("{k:?}").contains(&full[30..]));
    }
}
