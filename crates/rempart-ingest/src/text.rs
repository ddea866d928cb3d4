//! Decoding text bytes: UTF-8 (BOM dropped), UTF-16 with a BOM, and
//! anything else as Latin-1, so decoding never fails.

use std::borrow::Cow;

/// Decodes `bytes` to text. Offsets of the result index the decoded text.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Cow::Owned(utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Cow::Owned(utf16(rest, u16::from_be_bytes));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_utf16_and_latin1() {
        assert_eq!(decode(b"\xEF\xBB\xBFcong\xC3\xA9"), "congé");
        assert_eq!(decode(b"\xFF\xFEc\x00\xE9\x00"), "cé");
        assert_eq!(decode(b"\xFE\xFF\x00c\x00\xE9"), "cé");
        assert_eq!(decode(b"cong\xE9"), "congé");
    }
}
