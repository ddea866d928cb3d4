//! The index files: an 8-byte magic (format and version) followed by the
//! postcard encoding of the index, written atomically (temp file, fsync,
//! rename). One implementation for every index kind.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Write `value` to `dir/file`, replacing it atomically. Returns the path.
pub(crate) fn write<T: Serialize>(
    dir: &Path,
    file: &str,
    magic: &[u8; 8],
    value: &T,
) -> Result<PathBuf, Error> {
    let path = dir.join(file);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let body = postcard::to_stdvec(value).map_err(|e| Error::Corrupt {
        path: path.clone(),
        reason: format!("encoding failed: {e}"),
    })?;
    let tmp = dir.join(format!("{file}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(magic).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Read `dir/file` written by [`write`] with the same magic. Returns the
/// path too, for the caller's own consistency errors.
pub(crate) fn read<T: DeserializeOwned>(
    dir: &Path,
    file: &str,
    magic: &[u8; 8],
) -> Result<(T, PathBuf), Error> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let body = bytes
        .strip_prefix(magic.as_slice())
        .ok_or_else(|| corrupt(&path, "bad magic or version".into()))?;
    let value =
        postcard::from_bytes(body).map_err(|e| corrupt(&path, format!("decoding failed: {e}")))?;
    Ok((value, path))
}

/// [`Error::Corrupt`] for `path`.
pub(crate) fn corrupt(path: &Path, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}
