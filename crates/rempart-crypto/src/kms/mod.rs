//! Key providers: a key-encryption key (KEK), kept by the provider, wraps
//! the data keys the store keeps next to the data.
//!
//! Three providers, one type ([`KeyProvider`], enum dispatch, usable behind
//! `Arc`):
//!
//! - **local** (embedded default): a keyring file in the data directory,
//!   created on first run with mode 0600; holds every KEK version so that
//!   rotation keeps old wrapped keys readable.
//! - **env**: the KEK comes from a [`SecretRef`] (`env:NAME` or
//!   `file:PATH`), in hex or base64, optionally `vN:`-prefixed; older KEKs
//!   for the rotation window from a second reference. The operator rotates.
//! - **transit**: OpenBao or Vault transit over HTTP; the KEK never leaves
//!   the KMS.
//!
//! A [`WrappedKey`] is self-describing text, `<provider>:v<N>:<base64>`,
//! so a reader knows which provider and which KEK version to ask for, and
//! old and new versions are both read during a rotation.
//!
//! Every wrap takes a *context* (for example `tenant:acme/index-root`): the
//! wrapped key unwraps only under the same context, so a wrapped key copied
//! to another tenant's row does not open there. For transit this is the
//! key-derivation context of a `derived` transit key.

mod env;
mod local;
mod transit;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use serde::Deserialize;

use crate::envelope::{DataKey, push_lp};
use crate::{Error, SecretRef};

// The public interface is:
pub use env::EnvKeys;
pub use local::LocalKeyring;
pub use transit::{Transit, TransitSettings};

/// A data key wrapped by a key provider: `<provider>:v<N>:<base64>`.
/// Not secret (it is useless without the provider's KEK).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WrappedKey {
    text: String,
    provider_len: usize,
    version: u32,
}

impl WrappedKey {
    fn new(provider: &str, version: u32, payload_b64: &str) -> WrappedKey {
        WrappedKey {
            text: format!("{provider}:v{version}:{payload_b64}"),
            provider_len: provider.len(),
            version,
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> Result<WrappedKey, Error> {
        let bad = |why: &str| Error::BadWrappedKey(why.to_owned());
        let (provider, rest) = s
            .split_once(':')
            .ok_or_else(|| bad("expected `<provider>:v<N>:<base64>`"))?;
        if provider.is_empty() || !provider.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(bad("the provider name must be lowercase letters"));
        }
        let (version, payload) = rest
            .split_once(':')
            .ok_or_else(|| bad("expected `<provider>:v<N>:<base64>`"))?;
        let version = version
            .strip_prefix('v')
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad("the key version must be `v1`, `v2`, ..."))?;
        let b64_ok = !payload.is_empty()
            && payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !b64_ok {
            return Err(bad("the payload must be base64"));
        }
        Ok(WrappedKey {
            text: s.to_owned(),
            provider_len: provider.len(),
            version,
        })
    }

    /// The provider that wrapped it (`local`, `env`, `transit`).
    pub fn provider(&self) -> &str {
        &self.text[..self.provider_len]
    }

    /// The KEK version that wrapped it.
    pub fn kek_version(&self) -> u32 {
        self.version
    }

    /// The text to store.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The base64 payload.
    fn payload(&self) -> &str {
        // provider ':' 'v' digits ':'
        let after = &self.text[self.provider_len + 2..];
        after.split_once(':').map(|(_, p)| p).unwrap_or_default()
    }

    fn payload_bytes(&self) -> Result<Vec<u8>, Error> {
        base64::engine::general_purpose::STANDARD
            .decode(self.payload())
            .map_err(|_| Error::BadWrappedKey("the payload is not valid base64".into()))
    }

    fn expect_provider(&self, expected: &'static str) -> Result<(), Error> {
        if self.provider() == expected {
            Ok(())
        } else {
            Err(Error::WrongProvider {
                expected,
                found: self.provider().to_owned(),
            })
        }
    }
}

impl FromStr for WrappedKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<WrappedKey, Error> {
        WrappedKey::parse(s)
    }
}

impl fmt::Display for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({}:v{}:…)", self.provider(), self.version)
    }
}

/// The `[keys]` section of `rempart.toml`.
///
/// ```toml
/// [keys]
/// kind = "local"                   # default; path defaults to <data-dir>/keys/keyring
///
/// [keys]
/// kind = "env"
/// key = "env:REMPART_KEK"          # hex or base64, optionally "v3:..."
/// previous = "env:REMPART_KEK_OLD" # "v1:... v2:..." during a rotation
///
/// [keys]
/// kind = "transit"
/// address = "https://bao.internal:8200"
/// mount = "transit"                # default
/// key = "rempart"
/// token = "env:BAO_TOKEN"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeysConfig {
    /// A keyring file (embedded default).
    Local {
        /// Keyring file; default `<data-dir>/keys/keyring`.
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// KEKs from secret references.
    Env {
        /// Secret reference of the current KEK.
        key: String,
        /// Secret reference of earlier KEKs (`vN:<key>`, separated by
        /// spaces, commas or newlines), kept during a rotation window.
        #[serde(default)]
        previous: Option<String>,
    },
    /// OpenBao / Vault transit.
    Transit {
        /// Base address, e.g. `https://bao.internal:8200`.
        address: String,
        /// Transit mount path.
        #[serde(default = "default_mount")]
        mount: String,
        /// Transit key name.
        key: String,
        /// Secret reference of the token.
        token: String,
        /// Create the key (as a `derived` aes256-gcm96 key) when absent.
        #[serde(default = "yes")]
        create_key: bool,
        /// Timeout of one call, in seconds.
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
    },
}

fn default_mount() -> String {
    "transit".to_owned()
}
fn yes() -> bool {
    true
}
fn default_timeout() -> u64 {
    10
}

impl Default for KeysConfig {
    fn default() -> KeysConfig {
        KeysConfig::Local { path: None }
    }
}

/// A key provider, opened.
#[derive(Debug)]
pub struct Opened {
    /// The provider.
    pub provider: KeyProvider,
    /// `Some(path)` when a local keyring file was created by this call: the
    /// caller should warn that production keeps keys in a KMS, and that this
    /// file must be backed up.
    pub created: Option<PathBuf>,
}

/// Non-secret description of a provider, for logs and `--help`-style output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `local`, `env` or `transit`.
    pub kind: &'static str,
    /// Keyring path, secret reference or transit address/mount/key.
    pub location: String,
    /// The KEK version new wraps use (as last seen, for transit).
    pub current_version: u32,
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} key provider ({}), KEK v{}",
            self.kind, self.location, self.current_version
        )
    }
}

/// A key provider. Cheap to share behind `Arc`; all methods take `&self`.
#[derive(Debug)]
pub enum KeyProvider {
    /// Local keyring file.
    Local(LocalKeyring),
    /// KEKs from the environment (or files).
    Env(EnvKeys),
    /// OpenBao / Vault transit.
    Transit(Transit),
}

impl KeyProvider {
    /// Open the provider a `[keys]` section describes. `data_dir` locates
    /// the default keyring; `env` reads environment variables (pass
    /// `&|n| std::env::var(n).ok()`). For transit this checks the key exists
    /// (creating it when allowed) and is `derived`.
    pub async fn from_config(
        config: &KeysConfig,
        data_dir: &Path,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Opened, Error> {
        match config {
            KeysConfig::Local { path } => {
                let path = path
                    .clone()
                    .unwrap_or_else(|| LocalKeyring::default_path(data_dir));
                let (ring, created) = LocalKeyring::open_or_create(&path)?;
                Ok(Opened {
                    provider: KeyProvider::Local(ring),
                    created: created.then_some(path),
                })
            }
            KeysConfig::Env { key, previous } => {
                let key = SecretRef::parse(key)?;
                let previous = previous.as_deref().map(SecretRef::parse).transpose()?;
                let keys = EnvKeys::from_refs(&key, previous.as_ref(), env)?;
                Ok(Opened {
                    provider: KeyProvider::Env(keys),
                    created: None,
                })
            }
            KeysConfig::Transit {
                address,
                mount,
                key,
                token,
                create_key,
                timeout_secs,
            } => {
                let token = SecretRef::parse(token)?.resolve(env)?;
                let settings = TransitSettings {
                    address: address.clone(),
                    mount: mount.clone(),
                    key: key.clone(),
                    token,
                    create_key: *create_key,
                    timeout: std::time::Duration::from_secs(*timeout_secs),
                };
                let transit = Transit::connect(settings).await?;
                Ok(Opened {
                    provider: KeyProvider::Transit(transit),
                    created: None,
                })
            }
        }
    }

    /// Wrap a data key under the current KEK, for `context`.
    pub async fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, Error> {
        match self {
            KeyProvider::Local(p) => p.wrap(key, context),
            KeyProvider::Env(p) => p.wrap(key, context),
            KeyProvider::Transit(p) => p.wrap(key, context).await,
        }
    }

    /// Unwrap a data key wrapped for the same `context`, under whichever
    /// KEK version wrapped it.
    pub async fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, Error> {
        match self {
            KeyProvider::Local(p) => p.unwrap(wrapped, context),
            KeyProvider::Env(p) => p.unwrap(wrapped, context),
            KeyProvider::Transit(p) => p.unwrap(wrapped, context).await,
        }
    }

    /// Re-wrap under the current KEK version (the data key is unchanged, so
    /// the data it encrypts is not touched).
    pub async fn rewrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<WrappedKey, Error> {
        match self {
            // Local KEKs: unwrap with the old version, wrap with the current.
            KeyProvider::Local(p) => p.wrap(&p.unwrap(wrapped, context)?, context),
            KeyProvider::Env(p) => p.wrap(&p.unwrap(wrapped, context)?, context),
            // Transit rewraps server-side: the data key never leaves it.
            KeyProvider::Transit(p) => p.rewrap(wrapped, context).await,
        }
    }

    /// Create a new KEK version and make it current; returns it. Earlier
    /// versions keep unwrapping. The env provider cannot rotate itself.
    pub async fn rotate(&self) -> Result<u32, Error> {
        match self {
            KeyProvider::Local(p) => p.rotate(),
            KeyProvider::Env(p) => p.rotate(),
            KeyProvider::Transit(p) => p.rotate().await,
        }
    }

    /// What this provider is, without secrets.
    pub fn describe(&self) -> Description {
        match self {
            KeyProvider::Local(p) => p.describe(),
            KeyProvider::Env(p) => p.describe(),
            KeyProvider::Transit(p) => p.describe(),
        }
    }
}

/// Additional data binding a KEK-wrapped data key to its provider, KEK
/// version and context.
fn wrap_aad(provider: &str, version: u32, context: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + provider.len() + context.len());
    out.extend_from_slice(b"rempart-wrap");
    out.push(1);
    push_lp(&mut out, provider.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    push_lp(&mut out, context);
    out
}

/// Wrap with a KEK held in memory (local and env providers).
fn wrap_with(
    provider: &'static str,
    version: u32,
    kek: &[u8; 32],
    key: &DataKey,
    context: &[u8],
) -> WrappedKey {
    let sealed = crate::envelope::seal_raw(kek, &wrap_aad(provider, version, context), key.bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(sealed);
    WrappedKey::new(provider, version, &b64)
}

/// Unwrap with a KEK held in memory.
fn unwrap_with(
    provider: &'static str,
    kek: &[u8; 32],
    wrapped: &WrappedKey,
    context: &[u8],
) -> Result<DataKey, Error> {
    let sealed = wrapped.payload_bytes()?;
    let aad = wrap_aad(provider, wrapped.kek_version(), context);
    let plain = crate::envelope::open_raw(kek, &aad, &sealed)?;
    DataKey::from_slice(&plain)
        .ok_or_else(|| Error::BadWrappedKey("the unwrapped key is not 32 bytes".into()))
}

/// Decode a 256-bit key given in hex (64 characters) or base64 (standard
/// or URL-safe, padded or not). `what` names the source for the error.
fn decode_key(text: &str, what: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    if text.len() == 64 && hex::decode_to_slice(text, out.as_mut()).is_ok() {
        return Ok(out);
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(v) = engine.decode(text) {
            let v = zeroize::Zeroizing::new(v);
            if v.len() == 32 {
                out.copy_from_slice(&v);
                return Ok(out);
            }
        }
    }
    Err(Error::BadKey(what.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_key_text_round_trips_and_refuses_garbage() {
        let w = WrappedKey::new("local", 12, "QUJD+/==");
        assert_eq!(w.as_str(), "local:v12:QUJD+/==");
        let p = WrappedKey::parse(w.as_str()).unwrap();
        assert_eq!(p, w);
        assert_eq!(p.provider(), "local");
        assert_eq!(p.kek_version(), 12);
        assert_eq!(p.payload(), "QUJD+/==");
        for bad in [
            "",
            "local",
            "local:12:QUJD",
            "local:v0:QUJD",
            "local:v1:",
            "Local:v1:QUJD",
            "local:v1:QU JD",
            "local:vx:QUJD",
        ] {
            assert!(WrappedKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{w:?}"), "WrappedKey(local:v12:…)");
    }

    #[test]
    fn config_parses_from_toml() {
        #[derive(Deserialize)]
        struct File {
            keys: KeysConfig,
        }
        let t: File = toml::from_str(
            "[keys]\nkind = \"transit\"\naddress = \"http://127.0.0.1:8200\"\nkey = \"rempart\"\ntoken = \"env:BAO_TOKEN\"\n",
        )
        .unwrap();
        assert_eq!(
            t.keys,
            KeysConfig::Transit {
                address: "http://127.0.0.1:8200".into(),
                mount: "transit".into(),
                key: "rempart".into(),
                token: "env:BAO_TOKEN".into(),
                create_key: true,
                timeout_secs: 10,
            }
        );
        let t: File = toml::from_str("[keys]\nkind = \"local\"\n").unwrap();
        assert_eq!(t.keys, KeysConfig::default());
        let t: File =
            toml::from_str("[keys]\nkind = \"env\"\nkey = \"env:K\"\nprevious = \"file:/p\"\n")
                .unwrap();
        assert!(matches!(t.keys, KeysConfig::Env { .. }));
        let e = toml::from_str::<File>("[keys]\nkind = \"local\"\npaht = \"x\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("paht"), "{e}");
        assert!(toml::from_str::<File>("[keys]\nkind = \"aws\"\n").is_err());
    }

    #[test]
    fn keys_decode_from_hex_and_base64_only_at_256_bits() {
        let raw = [7u8; 32];
        let hex = hex::encode(raw);
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        for t in [&hex, &b64, &b64url] {
            assert_eq!(*decode_key(t, "env:K").unwrap(), raw);
        }
        let e = decode_key(&hex[..62], "env:K").unwrap_err().to_string();
        assert!(e.contains("env:K") && !e.contains(&hex[..62]), "{e}");
        assert!(decode_key("not a key", "x").is_err());
    }
}
