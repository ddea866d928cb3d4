//! Document ingestion: bytes in, [`rempart_rag::Document`] out.
//!
//! [`extract`] detects the format (magic bytes first, then the caller's hint,
//! a file name or a MIME type), extracts the text with its structure
//! (headings, paragraphs, list items, table rows) and its provenance (page
//! and byte offsets), and hashes the input (SHA-256) so a re-ingest of the
//! same bytes can be recognised.
//!
//! | format | structure kept | pages |
//! |---|---|---|
//! | plain text, Markdown | `rempart_rag::parse_plain` / `parse_markdown` | form feeds |
//! | HTML | h1–h6, p/div, li, tables (th rows are headers), pre; script, style, nav, head dropped; nesting deeper than 4,096 refused | 1 |
//! | PDF (text layer) | paragraphs (blank-line separated) per page | real pages; empty text layers listed in [`Extracted::needs_ocr`] |
//! | DOCX | headings (styles Heading 1–6, Title, Titre, Überschrift, outline levels), paragraphs, list items, tables | explicit page breaks |
//! | EML | a header block (Subject, From, To, Cc, Date), then the body (text or HTML); attachments extracted on their own | 1 |
//! | PNG, JPEG, TIFF | text by OCR with the `ocr` feature; otherwise page 1 is listed as needing OCR | 1 |
//!
//! Offsets: every block's `start..end` indexes [`Extracted::text`], and for
//! every format but Markdown `text[start..end] == block.text`. For plain text
//! and Markdown, `text` is the decoded source; for the other formats it is a
//! canonical rendering (blocks separated by a blank line, pages by form
//! feeds, so `parse_plain(&text)` sees the same pages).
//!
//! Errors name the format and what was wrong (and the page where one is at
//! fault), never any of the document's text.
//!
//! ```
//! use rempart_ingest::{extract, Format};
//! use rempart_rag::BlockKind;
//!
//! let html = b"<html><body><h1>Cong\xc3\xa9s</h1><p>Cinq semaines.</p><script>x()</script></body></html>";
//! let e = extract(html, Some("policy.html")).unwrap();
//! assert_eq!(e.format, Format::Html);
//! assert_eq!(e.document.blocks[0].kind, BlockKind::Heading { level: 1 });
//! assert_eq!(e.document.blocks[1].text, "Cinq semaines.");
//! assert_eq!(e.sha256.len(), 64);
//! ```
#![warn(missing_docs)]

mod detect;
mod docx;
mod eml;
mod html;
#[cfg(feature = "ocr")]
mod ocr;
mod pdf;
mod render;
mod text;

use rempart_rag::Document;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use detect::detect;

/// A supported input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text (UTF-8, UTF-16 with a BOM, otherwise read as Latin-1).
    Text,
    /// CommonMark with GFM tables.
    Markdown,
    /// HTML.
    Html,
    /// PDF (text layer; scanned pages through OCR with the `ocr` feature).
    Pdf,
    /// Office Open XML word-processing document.
    Docx,
    /// An RFC 5322 e-mail message (MIME).
    Eml,
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// TIFF image (first page).
    Tiff,
}

impl Format {
    /// A short lowercase name (`"pdf"`, `"docx"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Eml => "eml",
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Tiff => "tiff",
        }
    }

    /// Whether this is an image format (text only through OCR).
    pub fn is_image(self) -> bool {
        matches!(self, Format::Png | Format::Jpeg | Format::Tiff)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why extraction failed. Messages name the format, the part at fault and
/// the page where known; never any text of the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// Neither the bytes nor the hint name a supported format.
    #[error("unsupported format: {what}")]
    Unsupported {
        /// What was seen (e.g. "binary data without a known signature").
        what: &'static str,
    },
    /// The input claims a format but is not a valid instance of it.
    #[error("corrupt {format}: {what}")]
    Corrupt {
        /// The format.
        format: Format,
        /// What is wrong.
        what: &'static str,
    },
    /// The document is encrypted and cannot be opened without a password.
    #[error("{format} is encrypted and needs a password")]
    Encrypted {
        /// The format.
        format: Format,
    },
    /// A size or nesting limit was hit (decompression bombs, deep nesting).
    #[error("{format}: {what} exceeds the limit")]
    TooLarge {
        /// The format.
        format: Format,
        /// Which limit.
        what: &'static str,
    },
}

/// Something extraction skipped without failing the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The page concerned, when there is one.
    pub page: Option<u32>,
    /// What happened.
    pub what: &'static str,
}

/// An attachment of an e-mail, extracted on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// 0-based position among the message's attachments.
    pub index: usize,
    /// The file name the message gives, if any.
    pub name: Option<String>,
    /// The declared MIME type (`type/subtype`), if any.
    pub content_type: Option<String>,
    /// Its own extraction (own format, hash, pages, offsets), or why it
    /// could not be extracted.
    pub extracted: Result<Box<Extracted>, IngestError>,
}

/// The result of [`extract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The detected format.
    pub format: Format,
    /// SHA-256 of the input bytes, lowercase hex: the same bytes give the
    /// same hash, for idempotent re-ingest.
    pub sha256: String,
    /// The text the blocks' offsets index (see the crate documentation).
    pub text: String,
    /// The blocks, in reading order.
    pub document: Document,
    /// Number of pages (1 for unpaginated formats; 0 for an empty input).
    pub pages: u32,
    /// 1-based pages without a text layer (scanned pages, images): they
    /// need OCR. Listed whether or not OCR then ran.
    pub needs_ocr: Vec<u32>,
    /// 1-based pages whose text came from OCR (only with the `ocr` feature).
    pub ocr_pages: Vec<u32>,
    /// E-mail attachments (empty for other formats).
    pub attachments: Vec<Attachment>,
    /// Parts skipped without failing the document.
    pub warnings: Vec<Warning>,
}

/// Extraction settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Tesseract languages, `+`-separated (`ocr` feature only).
    pub ocr_languages: String,
    /// Resolution at which scanned PDF pages are rasterised for OCR.
    pub ocr_dpi: u32,
    /// How deep e-mail attachments are followed (a message attached to a
    /// message attached to … ).
    pub max_depth: usize,
    /// Largest decompressed XML part read from a DOCX, in bytes.
    pub max_part_bytes: u64,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            ocr_languages: "eng+fra+deu".to_owned(),
            ocr_dpi: 300,
            max_depth: 3,
            max_part_bytes: 64 << 20,
        }
    }
}

impl Extracted {
    /// Nothing extracted yet; [`extract_at`] fills in the hash.
    pub(crate) fn empty(format: Format) -> Extracted {
        Extracted {
            format,
            sha256: String::new(),
            text: String::new(),
            document: Document::default(),
            pages: 0,
            needs_ocr: Vec::new(),
            ocr_pages: Vec::new(),
            attachments: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Unpaginated text, or text whose pages are separated by form feeds:
    /// one page plus one per form feed (none for an empty text).
    pub(crate) fn paged(format: Format, text: String, document: Document) -> Extracted {
        let pages = if text.trim().is_empty() {
            0
        } else {
            1 + text.bytes().filter(|&b| b == b'\x0c').count() as u32
        };
        Extracted {
            text,
            document,
            pages,
            ..Extracted::empty(format)
        }
    }
}

/// Extracts `bytes` with the default [`ExtractOptions`]. `hint` is a file
/// name or a MIME type; it decides only where the bytes carry no signature.
pub fn extract(bytes: &[u8], hint: Option<&str>) -> Result<Extracted, IngestError> {
    extract_with(bytes, hint, &ExtractOptions::default())
}

/// [`extract`] with explicit options.
pub fn extract_with(
    bytes: &[u8],
    hint: Option<&str>,
    opts: &ExtractOptions,
) -> Result<Extracted, IngestError> {
    extract_at(bytes, hint, opts, 0)
}

pub(crate) fn extract_at(
    bytes: &[u8],
    hint: Option<&str>,
    opts: &ExtractOptions,
    depth: usize,
) -> Result<Extracted, IngestError> {
    let format = detect(bytes, hint)?;
    let mut e = match format {
        Format::Text => {
            let text = text::decode(bytes).into_owned();
            let doc = rempart_rag::parse_plain(&text);
            Extracted::paged(format, text, doc)
        }
        Format::Markdown => {
            let text = text::decode(bytes).into_owned();
            let doc = rempart_rag::parse_markdown(&text);
            Extracted::paged(format, text, doc)
        }
        Format::Html => {
            let (text, doc) = html::extract(&text::decode(bytes))?;
            Extracted::paged(format, text, doc)
        }
        Format::Pdf => pdf::extract(bytes, opts)?,
        Format::Docx => docx::extract(bytes, opts)?,
        Format::Eml => eml::extract(bytes, opts, depth)?,
        Format::Png | Format::Jpeg | Format::Tiff => image(bytes, format, opts)?,
    };
    e.sha256 = hex::encode(Sha256::digest(bytes));
    Ok(e)
}

#[cfg(not(feature = "ocr"))]
fn image(_bytes: &[u8], format: Format, _opts: &ExtractOptions) -> Result<Extracted, IngestError> {
    Ok(Extracted {
        pages: 1,
        needs_ocr: vec![1],
        ..Extracted::empty(format)
    })
}

#[cfg(feature = "ocr")]
fn image(bytes: &[u8], format: Format, opts: &ExtractOptions) -> Result<Extracted, IngestError> {
    let text = ocr::image_text(bytes, &opts.ocr_languages)
        .map_err(|what| IngestError::Corrupt { format, what })?;
    let document = rempart_rag::parse_plain(&text);
    Ok(Extracted {
        text,
        document,
        pages: 1,
        needs_ocr: vec![1],
        ocr_pages: vec![1],
        ..Extracted::empty(format)
    })
}
