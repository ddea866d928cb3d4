//! References to secrets: `env:NAME` or `file:PATH`, never the secret itself.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::Error;

/// Where a secret lives.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (trailing newline trimmed).
    File(PathBuf),
}

impl SecretRef {
    /// Parse `env:NAME` or `file:PATH`. Anything else is refused, so a
    /// secret pasted inline into the config is an error, not a key.
    pub fn parse(s: &str) -> Result<SecretRef, Error> {
        if let Some(name) = s.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if ok {
                return Ok(SecretRef::Env(name.to_owned()));
            }
        } else if let Some(path) = s.strip_prefix("file:")
            && !path.is_empty()
        {
            return Ok(SecretRef::File(PathBuf::from(path)));
        }
        // Do not echo the value: it may be a pasted secret.
        Err(Error::BadSecretRef(redact(s)))
    }

    /// Read the secret (I/O).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretString, Error> {
        match self {
            SecretRef::Env(name) => env(name)
                .map(SecretString::from)
                .ok_or_else(|| Error::MissingEnv(name.clone())),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| SecretString::from(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

/// Show at most the scheme-like prefix of a rejected value.
fn redact(s: &str) -> String {
    match s.split_once(':') {
        Some((scheme, _)) if scheme.len() <= 8 => format!("{scheme}:…"),
        _ => "<redacted>".to_owned(),
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn inline_secrets_are_refused_without_echo() {
        let e = SecretRef::parse("sk-live-1234567890abcdef")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("1234567890"), "{e}");
        let e = SecretRef::parse("sk:1234567890abcdef")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("1234567890"), "{e}");
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("env:1X").is_err());
    }

    #[test]
    fn env_and_file_resolve() {
        let r = SecretRef::parse("env:MISTRAL_API_KEY").unwrap();
        let env = |n: &str| (n == "MISTRAL_API_KEY").then(|| "s3cret".to_owned());
        assert_eq!(r.resolve(&env).unwrap().expose_secret(), "s3cret");
        let missing = SecretRef::parse("env:NOPE")
            .unwrap()
            .resolve(&env)
            .unwrap_err();
        assert!(missing.to_string().contains("NOPE"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "abc\n").unwrap();
        let r = SecretRef::parse(&format!("file:{}", p.display())).unwrap();
        assert_eq!(r.resolve(&env).unwrap().expose_secret(), "abc");
    }
}
