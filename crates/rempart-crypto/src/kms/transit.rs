//! OpenBao / Vault transit: the KEK stays in the KMS; data keys travel to
//! it to be wrapped and come back unwrapped.
//!
//! The transit key is `derived` (`aes256-gcm96`), so the wrap context is
//! the key-derivation context: a wrapped key opens only under the context it
//! was wrapped for. Transit ciphertexts (`vault:vN:<base64>`) carry their
//! key version; they are stored as `transit:vN:<base64>`. Every version not
//! below the key's `min_decryption_version` decrypts, so reads go on during
//! a rotation.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::{Description, WrappedKey};
use crate::Error;
use crate::envelope::DataKey;

const PROVIDER: &str = "transit";

/// How to reach a transit key.
pub struct TransitSettings {
    /// Base address, e.g. `https://bao.internal:8200`.
    pub address: String,
    /// Transit mount path (usually `transit`).
    pub mount: String,
    /// Key name.
    pub key: String,
    /// Token (sent as `X-Vault-Token`, never logged).
    pub token: SecretString,
    /// Create the key when absent.
    pub create_key: bool,
    /// Timeout of one call.
    pub timeout: Duration,
}

/// An OpenBao / Vault transit key.
pub struct Transit {
    http: reqwest::Client,
    address: String,
    mount: String,
    key: String,
    token: SecretString,
    version: AtomicU32,
}

impl std::fmt::Debug for Transit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Transit({} mount {} key {})",
            self.address, self.mount, self.key
        )
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct KeyInfo {
    #[serde(default)]
    derived: bool,
    latest_version: u32,
}

#[derive(Deserialize)]
struct Ciphertext {
    ciphertext: String,
}

#[derive(Deserialize)]
struct Plaintext {
    plaintext: String,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

impl Transit {
    /// Check the key (creating it as a derived `aes256-gcm96` key when
    /// absent and allowed) and read its current version.
    pub async fn connect(settings: TransitSettings) -> Result<Transit, Error> {
        let address = settings.address.trim_end_matches('/').to_owned();
        let bad = |why: String| Error::BadConfig(format!("transit: {why}"));
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(bad(format!(
                "address `{address}` must start with http:// or https://"
            )));
        }
        let mount = settings.mount.trim_matches('/').to_owned();
        let mount_ok = !mount.is_empty()
            && mount.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !mount_ok {
            return Err(bad(format!("mount `{mount}` is not a valid mount path")));
        }
        let key_ok = !settings.key.is_empty()
            && settings.key != ".."
            && settings
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !key_ok {
            return Err(bad(format!(
                "key name `{}` may hold letters, digits, `-`, `_` and `.` only",
                settings.key
            )));
        }
        // Several crates may race to install it; either outcome is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(settings.timeout)
            .build()
            .map_err(|e| Error::Kms {
                address: address.clone(),
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let t = Transit {
            http,
            address,
            mount,
            key: settings.key,
            token: settings.token,
            version: AtomicU32::new(1),
        };
        let info = match t.key_info().await {
            Ok(info) => info,
            Err(Error::Kms {
                status: Some(404), ..
            }) if settings.create_key => {
                t.call(
                    reqwest::Method::POST,
                    &format!("keys/{}", t.key),
                    Some(json!({"type": "aes256-gcm96", "derived": true})),
                    "create key",
                )
                .await?;
                t.key_info().await?
            }
            Err(e) => return Err(e),
        };
        if !info.derived {
            return Err(Error::BadConfig(format!(
                "transit key `{}` at {} (mount {}) is not `derived`: its context would be ignored; \
                 create a key with derived=true for Rempart",
                t.key, t.address, t.mount
            )));
        }
        t.version.store(info.latest_version, Ordering::Relaxed);
        Ok(t)
    }

    async fn key_info(&self) -> Result<KeyInfo, Error> {
        let body = self
            .call(
                reqwest::Method::GET,
                &format!("keys/{}", self.key),
                None,
                "read key",
            )
            .await?;
        parse::<Envelope<KeyInfo>>(&body, self, "read key").map(|e| e.data)
    }

    pub(super) async fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, Error> {
        let b64 = base64::engine::general_purpose::STANDARD;
        // The body carries the data key: build it in a zeroised buffer.
        let mut body = Zeroizing::new(String::with_capacity(160 + context.len() * 2));
        body.push_str("{\"plaintext\":\"");
        body.push_str(&Zeroizing::new(b64.encode(key.bytes())));
        body.push_str("\",\"context\":\"");
        body.push_str(&b64.encode(context_bytes(context)));
        body.push_str("\"}");
        let resp = self
            .call_raw(
                reqwest::Method::POST,
                &format!("encrypt/{}", self.key),
                Some(body.as_bytes().to_vec()),
                "encrypt",
            )
            .await?;
        let c = parse::<Envelope<Ciphertext>>(&resp, self, "encrypt")?.data;
        let w = self.wrapped_from_vault(&c.ciphertext, "encrypt")?;
        self.version.fetch_max(w.kek_version(), Ordering::Relaxed);
        Ok(w)
    }

    pub(super) async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<DataKey, Error> {
        wrapped.expect_provider(PROVIDER)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let resp = self
            .call(
                reqwest::Method::POST,
                &format!("decrypt/{}", self.key),
                Some(json!({
                    "ciphertext": to_vault(wrapped),
                    "context": b64.encode(context_bytes(context)),
                })),
                "decrypt",
            )
            .await?;
        let resp = Zeroizing::new(resp);
        let p = parse::<Envelope<Plaintext>>(&resp, self, "decrypt")?.data;
        let plain = Zeroizing::new(p.plaintext);
        let bytes =
            Zeroizing::new(b64.decode(plain.as_bytes()).map_err(|_| {
                self.err(None, "decrypt: the plaintext returned is not base64".into())
            })?);
        DataKey::from_slice(&bytes)
            .ok_or_else(|| self.err(None, "decrypt: the unwrapped key is not 32 bytes".into()))
    }

    pub(super) async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &[u8],
    ) -> Result<WrappedKey, Error> {
        wrapped.expect_provider(PROVIDER)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let resp = self
            .call(
                reqwest::Method::POST,
                &format!("rewrap/{}", self.key),
                Some(json!({
                    "ciphertext": to_vault(wrapped),
                    "context": b64.encode(context_bytes(context)),
                })),
                "rewrap",
            )
            .await?;
        let c = parse::<Envelope<Ciphertext>>(&resp, self, "rewrap")?.data;
        let w = self.wrapped_from_vault(&c.ciphertext, "rewrap")?;
        self.version.fetch_max(w.kek_version(), Ordering::Relaxed);
        Ok(w)
    }

    pub(super) async fn rotate(&self) -> Result<u32, Error> {
        self.call(
            reqwest::Method::POST,
            &format!("keys/{}/rotate", self.key),
            None,
            "rotate",
        )
        .await?;
        let v = self.key_info().await?.latest_version;
        self.version.fetch_max(v, Ordering::Relaxed);
        Ok(v)
    }

    pub(super) fn describe(&self) -> Description {
        Description {
            kind: PROVIDER,
            location: format!("{} mount {} key {}", self.address, self.mount, self.key),
            current_version: self.version.load(Ordering::Relaxed),
        }
    }

    /// `vault:vN:<b64>` → `transit:vN:<b64>`.
    fn wrapped_from_vault(&self, c: &str, op: &str) -> Result<WrappedKey, Error> {
        let parsed = c
            .strip_prefix("vault:")
            .map(|rest| format!("{PROVIDER}:{rest}"))
            .and_then(|t| WrappedKey::parse(&t).ok());
        parsed.ok_or_else(|| {
            self.err(
                None,
                format!("{op}: unexpected ciphertext format (expected `vault:vN:...`)"),
            )
        })
    }

    fn err(&self, status: Option<u16>, message: String) -> Error {
        // Belt and braces: never let the token through, whatever the server
        // echoed.
        let token = self.token.expose_secret();
        let message = if token.len() >= 4 {
            message.replace(token, "<token>")
        } else {
            message
        };
        Error::Kms {
            address: self.address.clone(),
            status,
            message,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        op: &str,
    ) -> Result<Vec<u8>, Error> {
        let body = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, path, body, op).await
    }

    async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        op: &str,
    ) -> Result<Vec<u8>, Error> {
        let url = format!("{}/v1/{}/{}", self.address, self.mount, path);
        let mut rb = self
            .http
            .request(method, &url)
            .header("X-Vault-Token", self.token.expose_secret());
        if let Some(body) = body {
            rb = rb.header("Content-Type", "application/json").body(body);
        }
        let resp = rb.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            // The cause chain says why ("Connection refused", a TLS
            // error); the address is named once, by `err`.
            let mut detail = String::new();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail.push_str(": ");
                detail.push_str(&s.to_string());
                source = s.source();
            }
            self.err(
                None,
                format!(
                    "transit {op} on key `{}`: {kind}: {}{detail}",
                    self.key,
                    e.without_url()
                ),
            )
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| {
            self.err(
                Some(status.as_u16()),
                format!("transit {op}: reading the response: {}", e.without_url()),
            )
        })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let errors = serde_json::from_slice::<Errors>(&bytes)
            .map(|e| e.errors.join("; "))
            .unwrap_or_default();
        if status.as_u16() == 400 && errors.contains("message authentication failed") {
            return Err(Error::Decrypt);
        }
        let hint = match status.as_u16() {
            403 => " (check the token and that its policy allows this path)",
            404 => " (is the transit engine enabled at this mount and the key created?)",
            _ => "",
        };
        let detail = if errors.is_empty() {
            String::new()
        } else {
            format!(": {}", truncate(&errors, 300))
        };
        Err(self.err(
            Some(status.as_u16()),
            format!(
                "transit {op} on key `{}` (mount {}): HTTP {}{detail}{hint}",
                self.key,
                self.mount,
                status.as_u16()
            ),
        ))
    }
}

fn to_vault(w: &WrappedKey) -> String {
    format!("vault:v{}:{}", w.kek_version(), w.payload())
}

/// Transit needs a non-empty derivation context: prefix ours.
fn context_bytes(context: &[u8]) -> Vec<u8> {
    [b"rempart/v1/".as_slice(), context].concat()
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], t: &Transit, op: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        t.err(
            None,
            format!(
                "transit {op}: unexpected response ({} at line {} column {})",
                e.classify_str(),
                e.line(),
                e.column()
            ),
        )
    })
}

trait ClassifyStr {
    fn classify_str(&self) -> &'static str;
}

impl ClassifyStr for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
