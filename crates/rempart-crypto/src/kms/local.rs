//! The local keyring file: every KEK version, one per line.
//!
//! ```text
//! # Rempart local keyring ...
//! rempart-keyring 1
//! v1 <64 hex characters>
//! v2 <64 hex characters>
//! ```
//!
//! The highest version is current. Rotation creates `keyring.new`
//! exclusively (mode 0600; it doubles as the lock between processes),
//! re-reads the keyring, writes the new ring there and renames it over, so a
//! crash leaves either the old or the new keyring, never half of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use rand::RngCore;
use zeroize::Zeroizing;

use super::{Description, WrappedKey, unwrap_with, wrap_with};
use crate::Error;
use crate::envelope::DataKey;

const PROVIDER: &str = "local";
const HEADER: &str = "rempart-keyring 1";
const COMMENT: &str = "# Rempart local keyring: the key-encryption keys that wrap data keys.\n\
# Keep it private (mode 0600) and backed up: without it the encrypted data is lost.\n\
# Production keeps these keys in a KMS (OpenBao/Vault transit).\n";

struct Ring {
    keys: BTreeMap<u32, Zeroizing<[u8; 32]>>,
}

impl Ring {
    fn current(&self) -> u32 {
        self.keys.keys().next_back().copied().unwrap_or(1)
    }
}

/// A keyring file holding every KEK version (embedded default provider).
pub struct LocalKeyring {
    path: PathBuf,
    ring: RwLock<Ring>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKeyring({})", self.path.display())
    }
}

impl LocalKeyring {
    /// `<data_dir>/keys/keyring`.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("keys").join("keyring")
    }

    /// Open the keyring, creating it (mode 0600, one KEK) when absent.
    /// Returns whether it was created, so the caller can warn.
    pub fn open_or_create(path: &Path) -> Result<(LocalKeyring, bool), Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let (ring, created) = match read_ring(path) {
            Ok(ring) => (ring, false),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut keys = BTreeMap::new();
                keys.insert(1, random_key());
                let ring = Ring { keys };
                write_new(path, &ring).map_err(io)?;
                (ring, true)
            }
            Err(e) => return Err(e),
        };
        Ok((
            LocalKeyring {
                path: path.to_owned(),
                ring: RwLock::new(ring),
            },
            created,
        ))
    }

    /// The keyring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<WrappedKey, Error> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let v = ring.current();
        let kek = ring.keys.get(&v).ok_or(Error::UnknownKekVersion {
            provider: PROVIDER,
            version: v,
        })?;
        Ok(wrap_with(PROVIDER, v, kek, key, context))
    }

    pub(super) fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, Error> {
        wrapped.expect_provider(PROVIDER)?;
        let v = wrapped.kek_version();
        {
            let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
            if let Some(kek) = ring.keys.get(&v) {
                return unwrap_with(PROVIDER, kek, wrapped, context);
            }
        }
        // Another process (`rempart keys rotate`) may have added a version.
        self.reload()?;
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let kek = ring.keys.get(&v).ok_or(Error::UnknownKekVersion {
            provider: PROVIDER,
            version: v,
        })?;
        unwrap_with(PROVIDER, kek, wrapped, context)
    }

    pub(super) fn rotate(&self) -> Result<u32, Error> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let mut ring = self.ring.write().unwrap_or_else(|e| e.into_inner());
        // `keyring.new`, created exclusively, is the rotation lock between
        // processes: re-read the file only once it is held.
        let tmp = sibling(&self.path, ".new");
        let mut file = match create_private(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::BadConfig(format!(
                    "{}: another rotation is in progress (remove it if no `rempart` process is rotating)",
                    tmp.display()
                )));
            }
            Err(e) => return Err(io(e)),
        };
        let result = (|| {
            let mut fresh = read_ring(&self.path)?;
            for (v, k) in ring.keys.iter() {
                fresh.keys.entry(*v).or_insert_with(|| k.clone());
            }
            let next = fresh.current() + 1;
            fresh.keys.insert(next, random_key());
            use std::io::Write;
            file.write_all(render(&fresh).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &self.path).map_err(io)?;
            sync_dir(&self.path);
            Ok((fresh, next))
        })();
        match result {
            Ok((fresh, next)) => {
                *ring = fresh;
                Ok(next)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn reload(&self) -> Result<(), Error> {
        let fresh = read_ring(&self.path)?;
        let mut ring = self.ring.write().unwrap_or_else(|e| e.into_inner());
        for (v, k) in fresh.keys {
            ring.keys.entry(v).or_insert(k);
        }
        Ok(())
    }

    pub(super) fn describe(&self) -> Description {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        Description {
            kind: PROVIDER,
            location: format!("{}, {} version(s)", self.path.display(), ring.keys.len()),
            current_version: ring.current(),
        }
    }
}

fn random_key() -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(k.as_mut());
    k
}

fn read_ring(path: &Path) -> Result<Ring, Error> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?);
    // Errors name the file and the line number, never the line.
    let bad = |line: usize, why: &str| {
        Error::BadConfig(format!("{}: line {line}: {why}", path.display()))
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, HEADER)) => {}
        Some((n, _)) => return Err(bad(n, &format!("expected `{HEADER}`"))),
        None => return Err(bad(0, "empty keyring")),
    }
    let mut keys = BTreeMap::new();
    for (n, line) in lines {
        let (v, hexkey) = line
            .split_once(' ')
            .ok_or_else(|| bad(n, "expected `v<N> <64 hex characters>`"))?;
        let v = v
            .strip_prefix('v')
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| bad(n, "the version must be `v1`, `v2`, ..."))?;
        let mut k = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hexkey.trim(), k.as_mut())
            .map_err(|_| bad(n, "the key must be 64 hex characters"))?;
        if keys.insert(v, k).is_some() {
            return Err(bad(n, &format!("version v{v} appears twice")));
        }
    }
    if keys.is_empty() {
        return Err(bad(0, "no key in the keyring"));
    }
    Ok(Ring { keys })
}

fn render(ring: &Ring) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(256 + 70 * ring.keys.len()));
    out.push_str(COMMENT);
    out.push_str(HEADER);
    out.push('\n');
    for (v, k) in &ring.keys {
        out.push_str(&format!("v{v} "));
        out.push_str(&Zeroizing::new(hex::encode(k.as_ref())));
        out.push('\n');
    }
    out
}

/// Create the file (fails if it exists), mode 0600, and sync it.
fn write_new(path: &Path, ring: &Ring) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = create_private(path)?;
    f.write_all(render(ring).as_bytes())?;
    f.sync_all()?;
    sync_dir(path);
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Make a create or rename in `path`'s directory durable where the platform
/// allows it.
fn sync_dir(path: &Path) {
    if let Some(d) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = d.sync_all();
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_reloaded_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys/keyring");
        let (ring, created) = LocalKeyring::open_or_create(&p).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let dk = DataKey::generate();
        let w1 = ring.wrap(&dk, b"tenant:a").unwrap();
        assert_eq!(w1.kek_version(), 1);
        assert_eq!(ring.rotate().unwrap(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "still private after rotation");
        }
        let w2 = ring.wrap(&dk, b"tenant:a").unwrap();
        assert_eq!(w2.kek_version(), 2);

        // A second process opening the same file reads both versions.
        let (again, created) = LocalKeyring::open_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(again.unwrap(&w1, b"tenant:a").unwrap(), dk);
        assert_eq!(again.unwrap(&w2, b"tenant:a").unwrap(), dk);
        assert!(matches!(
            again.unwrap(&w1, b"tenant:b"),
            Err(Error::Decrypt)
        ));

        // It rotates to v3; the first instance finds v3 on demand.
        assert_eq!(again.rotate().unwrap(), 3);
        let w3 = again.wrap(&dk, b"tenant:a").unwrap();
        assert_eq!(ring.unwrap(&w3, b"tenant:a").unwrap(), dk);
        let rewrapped = ring.wrap(&ring.unwrap(&w1, b"tenant:a").unwrap(), b"tenant:a");
        assert_eq!(rewrapped.unwrap().kek_version(), 3);

        // A rotation in progress elsewhere (its lock file present) is
        // refused by name, and nothing changes.
        let lock = sibling(&p, ".new");
        std::fs::write(&lock, "").unwrap();
        let e = ring.rotate().unwrap_err().to_string();
        assert!(
            e.contains("keyring.new") && e.contains("in progress"),
            "{e}"
        );
        std::fs::remove_file(&lock).unwrap();
        assert_eq!(ring.rotate().unwrap(), 4);
        assert!(!lock.exists());

        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\nv1 ") && text.contains("\nv3 "));
        assert!(!format!("{ring:?}").contains(text.lines().last().unwrap()));
    }

    #[test]
    fn bad_keyrings_are_refused_without_echo() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keyring");
        let secretish = "v1 00112233445566778899aabbccddeeff";
        std::fs::write(&p, format!("{HEADER}\n{secretish}\n")).unwrap();
        let e = LocalKeyring::open_or_create(&p).unwrap_err().to_string();
        assert!(e.contains("line 2") && !e.contains("0011223344"), "{e}");
        std::fs::write(&p, "something else\n").unwrap();
        assert!(LocalKeyring::open_or_create(&p).is_err());
        std::fs::write(&p, format!("{HEADER}\n")).unwrap();
        assert!(LocalKeyring::open_or_create(&p).is_err());
    }
}
