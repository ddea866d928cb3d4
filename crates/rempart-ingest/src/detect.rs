//! Format detection: signatures (magic bytes) first, then the hint (file
//! name or MIME type), then a look at the text.

use std::io::Cursor;

use crate::{Format, IngestError};

/// The format of `bytes`. A signature in the bytes wins over the hint; a
/// hint naming a binary format whose signature is missing is an error
/// (a truncated or mislabelled file), not a guess.
pub fn detect(bytes: &[u8], hint: Option<&str>) -> Result<Format, IngestError> {
    if let Some(f) = by_signature(bytes)? {
        return Ok(f);
    }
    let hinted = hint.and_then(by_hint);
    if let Some(f) = hinted {
        if matches!(
            f,
            Format::Pdf | Format::Docx | Format::Png | Format::Jpeg | Format::Tiff
        ) {
            return Err(IngestError::Corrupt {
                format: f,
                what: "the file signature is missing",
            });
        }
        return Ok(f);
    }
    if looks_binary(bytes) {
        return Err(IngestError::Unsupported {
            what: "binary data without a known signature",
        });
    }
    if looks_like_email(bytes) {
        return Ok(Format::Eml);
    }
    Ok(Format::Text)
}

fn by_signature(bytes: &[u8]) -> Result<Option<Format>, IngestError> {
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Some(Format::Pdf));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zip_kind(bytes).map(Some);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Some(Format::Png));
    }
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Ok(Some(Format::Jpeg));
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Ok(Some(Format::Tiff));
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Err(IngestError::Unsupported {
            what: "legacy OLE2 office file (.doc/.xls/.ppt or .msg)",
        });
    }
    if looks_like_html(bytes) {
        return Ok(Some(Format::Html));
    }
    Ok(None)
}

/// A zip is a DOCX when it has `word/document.xml`; any other zip is an
/// error that says so.
fn zip_kind(bytes: &[u8]) -> Result<Format, IngestError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| IngestError::Corrupt {
        format: Format::Docx,
        what: "not a readable zip archive",
    })?;
    if archive.index_for_name("word/document.xml").is_some() {
        Ok(Format::Docx)
    } else if archive.index_for_name("xl/workbook.xml").is_some() {
        Err(IngestError::Unsupported {
            what: "XLSX spreadsheet",
        })
    } else if archive.index_for_name("ppt/presentation.xml").is_some() {
        Err(IngestError::Unsupported {
            what: "PPTX presentation",
        })
    } else {
        Err(IngestError::Unsupported {
            what: "zip archive that is not a DOCX (no word/document.xml)",
        })
    }
}

/// The format a file name's extension or a MIME type names.
pub(crate) fn by_hint(hint: &str) -> Option<Format> {
    let h = hint.trim().to_ascii_lowercase();
    let mime = h.split(';').next().unwrap_or("").trim();
    let by_mime = match mime {
        "text/plain" => Some(Format::Text),
        "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
        "text/html" | "application/xhtml+xml" => Some(Format::Html),
        "application/pdf" => Some(Format::Pdf),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            Some(Format::Docx)
        }
        "message/rfc822" => Some(Format::Eml),
        "image/png" => Some(Format::Png),
        "image/jpeg" | "image/jpg" => Some(Format::Jpeg),
        "image/tiff" => Some(Format::Tiff),
        _ => None,
    };
    if by_mime.is_some() {
        return by_mime;
    }
    let ext = h.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "txt" | "text" | "csv" | "tsv" | "log" => Some(Format::Text),
        "md" | "markdown" | "mdown" | "mkd" => Some(Format::Markdown),
        "html" | "htm" | "xhtml" => Some(Format::Html),
        "pdf" => Some(Format::Pdf),
        "docx" => Some(Format::Docx),
        "eml" => Some(Format::Eml),
        "png" => Some(Format::Png),
        "jpg" | "jpeg" => Some(Format::Jpeg),
        "tif" | "tiff" => Some(Format::Tiff),
        _ => None,
    }
}

fn skip_bom_ws(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let b = skip_bom_ws(bytes);
    let head: Vec<u8> = b[..b.len().min(64)].to_ascii_lowercase();
    [
        &b"<!doctype html"[..],
        b"<html",
        b"<head",
        b"<body",
        b"<?xml version=\"1.0\"?><!doctype html",
    ]
    .iter()
    .any(|p| head.starts_with(p))
}

/// NUL bytes in the first 8 KiB (and no UTF-16 byte-order mark).
fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return false;
    }
    bytes[..bytes.len().min(8192)].contains(&0)
}

/// An RFC 5322 header block: the first line is a header and at least two
/// well-known message headers come before the first blank line.
fn looks_like_email(bytes: &[u8]) -> bool {
    const KNOWN: [&str; 10] = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "received",
        "return-path",
        "delivered-to",
        "content-type",
    ];
    let head = &bytes[..bytes.len().min(16 * 1024)];
    let Ok(head) = std::str::from_utf8(head)
        .or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).map_err(|_| ()))
    else {
        return false;
    };
    let mut known = 0;
    for (i, line) in head.lines().enumerate() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if i == 0 {
                return false;
            }
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            return false;
        }
        if KNOWN.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    known >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_win_over_hints() {
        assert_eq!(detect(b"%PDF-1.7\n", Some("a.txt")), Ok(Format::Pdf));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n....", None), Ok(Format::Png));
        assert_eq!(detect(b"\xFF\xD8\xFF\xE0", None), Ok(Format::Jpeg));
        assert_eq!(detect(b"II*\0abcd", None), Ok(Format::Tiff));
        assert_eq!(
            detect(b"  <!DOCTYPE html><p>x", Some("x.md")),
            Ok(Format::Html)
        );
    }

    #[test]
    fn hints_decide_for_text() {
        assert_eq!(detect(b"# T", Some("notes.md")), Ok(Format::Markdown));
        assert_eq!(
            detect(b"# T", Some("text/markdown; charset=utf-8")),
            Ok(Format::Markdown)
        );
        assert_eq!(detect(b"<p>x</p>", Some("page.HTM")), Ok(Format::Html));
        assert_eq!(detect(b"# T", None), Ok(Format::Text));
        assert_eq!(detect(b"hello", Some("message/rfc822")), Ok(Format::Eml));
    }

    #[test]
    fn a_binary_hint_without_its_signature_is_an_error() {
        assert_eq!(
            detect(b"hello", Some("scan.pdf")),
            Err(IngestError::Corrupt {
                format: Format::Pdf,
                what: "the file signature is missing"
            })
        );
        assert!(matches!(
            detect(b"\0\x01\x02", None),
            Err(IngestError::Unsupported { .. })
        ));
    }

    #[test]
    fn emails_are_sniffed_from_their_header_block() {
        let eml = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody";
        assert_eq!(detect(eml, None), Ok(Format::Eml));
        assert_eq!(
            detect(b"Subject: only one header\n\ntext", None),
            Ok(Format::Text)
        );
        assert_eq!(detect(b"Note: a\nTo do: b\n", None), Ok(Format::Text));
    }
}
