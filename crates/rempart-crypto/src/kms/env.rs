//! KEKs from secret references (`env:NAME`, `file:PATH`).
//!
//! The current key: `[vN:]<key>` (hex or base64; no prefix means `v1`).
//! Earlier keys, kept while old wrapped keys are re-wrapped: `vN:<key>`
//! entries separated by spaces, commas or newlines. To rotate, the operator
//! puts the new key in the first reference as `v(N+1):...`, moves the old one
//! to the second, restarts, runs the rewrap, then drops the old entry.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{Description, WrappedKey, decode_key, unwrap_with, wrap_with};
use crate::envelope::DataKey;
use crate::{Error, SecretRef};

const PROVIDER: &str = "env";

/// KEKs read from secret references.
pub struct EnvKeys {
    keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
    current: u32,
    source: String,
}

impl std::fmt::Debug for EnvKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EnvKeys({}, v{})", self.source, self.current)
    }
}

impl EnvKeys {
    /// Read the current KEK from `key` and earlier ones from `previous`.
    pub fn from_refs(
        key: &SecretRef,
        previous: Option<&SecretRef>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<EnvKeys, Error> {
        let value = key.resolve(env)?;
        let (current, k) = parse_entry(value.expose_secret(), &key.to_string(), true)?;
        let mut keys = BTreeMap::new();
        keys.insert(current, k);
        if let Some(prev) = previous {
            let value = prev.resolve(env)?;
            let what = prev.to_string();
            for entry in value
                .expose_secret()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty())
            {
                let (v, k) = parse_entry(entry, &what, false)?;
                if v >= current {
                    return Err(Error::BadConfig(format!(
                        "{what}: holds v{v}, which is not older than the current key v{current} from {key}"
                    )));
                }
                if keys.insert(v, k).is_some() {
                    return Err(Error::BadConfig(format!("{what}: v{v} appears twice")));
                }
            }
        }
        Ok(EnvKeys {
            keys,
            current,
            source: match previous {
                Some(p) => format!("{key}, previous {p}"),
                None => key.to_string(),
            },
        })
    }

    pub(super) fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, Error> {
        let kek = &self.keys[&self.current];
        Ok(wrap_with(PROVIDER, self.current, kek, key, context))
    }

    pub(super) fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, Error> {
        wrapped.expect_provider(PROVIDER)?;
        let kek = self
            .keys
            .get(&wrapped.kek_version())
            .ok_or(Error::UnknownKekVersion {
                provider: PROVIDER,
                version: wrapped.kek_version(),
            })?;
        unwrap_with(PROVIDER, kek, wrapped, context)
    }

    pub(super) fn rotate(&self) -> Result<u32, Error> {
        Err(Error::Unsupported(format!(
            "the env key provider is rotated by the operator: put the new key as `v{}:<key>` in the key reference, \
             move the current one to `previous`, restart, then rewrap",
            self.current + 1
        )))
    }

    pub(super) fn describe(&self) -> Description {
        Description {
            kind: PROVIDER,
            location: format!("{}, {} version(s)", self.source, self.keys.len()),
            current_version: self.current,
        }
    }
}

/// `[vN:]<key>`; the prefix is required for earlier keys.
fn parse_entry(
    text: &str,
    what: &str,
    prefix_optional: bool,
) -> Result<(u32, Zeroizing<[u8; 32]>), Error> {
    let text = text.trim();
    let (version, key) = match text.split_once(':') {
        Some((v, k)) if v.starts_with('v') => {
            let v = v[1..]
                .parse::<u32>()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or_else(|| {
                    Error::BadConfig(format!(
                        "{what}: the version prefix must be `v1:`, `v2:`, ..."
                    ))
                })?;
            (v, k)
        }
        _ if prefix_optional => (1, text),
        _ => {
            return Err(Error::BadConfig(format!(
                "{what}: each earlier key needs its version, as `vN:<key>`"
            )));
        }
    };
    Ok((version, decode_key(key, what)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_previous_keys_unwrap_and_rotation_is_refused() {
        let k1 = hex::encode([1u8; 32]);
        let k2 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [2u8; 32]);
        let dk = DataKey::generate();

        let only_v1 = |n: &str| (n == "KEK").then(|| k1.clone());
        let old =
            EnvKeys::from_refs(&SecretRef::parse("env:KEK").unwrap(), None, &only_v1).unwrap();
        let w1 = old.wrap(&dk, b"ctx").unwrap();
        assert_eq!(
            w1.as_str().split(':').take(2).collect::<Vec<_>>(),
            ["env", "v1"]
        );

        let rotated = |n: &str| match n {
            "KEK" => Some(format!("v2:{k2}")),
            "KEK_OLD" => Some(format!("v1:{k1}\n")),
            _ => None,
        };
        let new = EnvKeys::from_refs(
            &SecretRef::parse("env:KEK").unwrap(),
            Some(&SecretRef::parse("env:KEK_OLD").unwrap()),
            &rotated,
        )
        .unwrap();
        assert_eq!(new.unwrap(&w1, b"ctx").unwrap(), dk);
        let w2 = new.wrap(&new.unwrap(&w1, b"ctx").unwrap(), b"ctx").unwrap();
        assert_eq!(w2.kek_version(), 2);
        assert_eq!(new.unwrap(&w2, b"ctx").unwrap(), dk);
        assert!(
            old.unwrap(&w2, b"ctx").is_err(),
            "v1-only provider lacks v2"
        );
        assert!(new.unwrap(&w1, b"other").is_err());
        let e = new.rotate().unwrap_err().to_string();
        assert!(e.contains("v3:"), "{e}");
        let d = format!("{new:?} {}", new.describe());
        assert!(
            !d.contains(&k1) && !d.contains(&k2) && d.contains("env:KEK"),
            "{d}"
        );
    }

    #[test]
    fn bad_values_name_the_reference_not_the_value() {
        let short = "abcdef0123456789";
        let env = |n: &str| match n {
            "SHORT" => Some(short.to_owned()),
            "NOVER" => Some(hex::encode([3u8; 32])),
            "GOOD" => Some(format!("v2:{}", hex::encode([4u8; 32]))),
            "SAME" => Some(format!("v2:{}", hex::encode([5u8; 32]))),
            _ => None,
        };
        let r = |s: &str| SecretRef::parse(s).unwrap();
        let e = EnvKeys::from_refs(&r("env:SHORT"), None, &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("env:SHORT") && !e.contains(short), "{e}");
        let e = EnvKeys::from_refs(&r("env:GOOD"), Some(&r("env:NOVER")), &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("vN:"), "{e}");
        assert!(EnvKeys::from_refs(&r("env:GOOD"), Some(&r("env:SAME")), &env).is_err());
        let e = EnvKeys::from_refs(&r("env:MISSING"), None, &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MISSING"), "{e}");
    }
}
