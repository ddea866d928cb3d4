//! Fixture builders shared by the integration tests: DOCX and PDF files are
//! generated here (a few hundred bytes each), real documents are read from
//! the shared datasets beside the workspace.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

use pdf_extract::{Dictionary, Document, Object, Stream, dictionary};
use rempart_ingest::Extracted;

/// `../shared/datasets` beside the workspace; panics with a clear message
/// when it is missing (tests that need it must not pass silently).
pub fn datasets() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets"
    ));
    assert!(
        p.is_dir(),
        "the shared datasets are missing: expected {} (the `shared/` folder beside the workspace)",
        p.display()
    );
    p
}

pub fn dataset_file(rel: &str) -> Vec<u8> {
    let p = datasets().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Every block's offsets index `text`; non-Markdown blocks are verbatim;
/// pages never decrease and never exceed the page count.
pub fn check_provenance(e: &Extracted) {
    let mut last_page = 1;
    let mut last_end = 0;
    for b in &e.document.blocks {
        assert!(
            b.start <= b.end && b.end <= e.text.len(),
            "offsets in range"
        );
        assert!(b.start >= last_end, "blocks in reading order");
        last_end = b.end;
        if b.verbatim {
            assert_eq!(&e.text[b.start..b.end], b.text);
        }
        assert!(
            b.page >= last_page && b.page <= e.pages.max(1),
            "page order"
        );
        last_page = b.page;
        let feeds = e.text[..b.start].bytes().filter(|&c| c == b'\x0c').count() as u32;
        assert_eq!(b.page, feeds + 1, "page = 1 + form feeds before the block");
    }
}

/// A DOCX package: `[Content_Types].xml`, `word/document.xml` with `body`
/// inside `<w:body>`, and `word/styles.xml` when given.
pub fn docx(body: &str, styles: Option<&str>) -> Vec<u8> {
    let mut parts = vec![
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_owned(),
        ),
        (
            "word/document.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
            ),
        ),
    ];
    if let Some(s) = styles {
        parts.push((
            "word/styles.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">{s}</w:styles>"#
            ),
        ));
    }
    zip_of(
        &parts
            .iter()
            .map(|(n, c)| (*n, c.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A paragraph with an optional style id and numbering.
pub fn p(style: Option<&str>, numbered: bool, text: &str) -> String {
    let mut ppr = String::new();
    if let Some(s) = style {
        ppr.push_str(&format!(r#"<w:pStyle w:val="{s}"/>"#));
    }
    if numbered {
        ppr.push_str(r#"<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>"#);
    }
    let ppr = if ppr.is_empty() {
        String::new()
    } else {
        format!("<w:pPr>{ppr}</w:pPr>")
    };
    format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

/// One PDF page's content.
pub enum PageContent<'a> {
    /// Lines of text in Helvetica (Latin-1 only).
    Text(&'a [&'a str]),
    /// Nothing at all (a page without a text layer).
    Blank,
    /// A full-page JPEG image scanned at the given dpi, and no text (a
    /// scan: the page is the image's size at that resolution).
    Jpeg(&'a [u8], u32),
}

/// A PDF with the given pages, written by lopdf.
pub fn pdf(pages: &[PageContent<'_>]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let mut kids = Vec::new();
    for page in pages {
        let mut resources = dictionary! { "Font" => dictionary! { "F1" => font_id } };
        let mut media = vec![0.into(), 0.into(), 595.into(), 842.into()];
        let content = match page {
            PageContent::Text(lines) => {
                let mut c = String::from("BT /F1 12 Tf 14 TL 72 770 Td\n");
                for l in *lines {
                    c.push_str(&format!(
                        "({}) Tj T*\n",
                        l.replace('(', "\\(").replace(')', "\\)")
                    ));
                }
                c.push_str("ET\n");
                c.into_bytes()
            }
            PageContent::Blank => b"0.9 g 72 72 200 100 re f\n".to_vec(),
            PageContent::Jpeg(jpeg, dpi) => {
                let (w, h) = jpeg_size(jpeg).expect("a baseline JPEG");
                let img = doc.add_object(Stream::new(
                    dictionary! {
                        "Type" => "XObject",
                        "Subtype" => "Image",
                        "Width" => w as i64,
                        "Height" => h as i64,
                        "ColorSpace" => "DeviceRGB",
                        "BitsPerComponent" => 8,
                        "Filter" => "DCTDecode",
                    },
                    jpeg.to_vec(),
                ));
                let mut xo = Dictionary::new();
                xo.set("Im1", img);
                resources.set("XObject", Object::Dictionary(xo));
                let (pw, ph) = (
                    f32::from(w) * 72.0 / *dpi as f32,
                    f32::from(h) * 72.0 / *dpi as f32,
                );
                media = vec![0.into(), 0.into(), pw.into(), ph.into()];
                format!("q {pw} 0 0 {ph} 0 0 cm /Im1 Do Q\n").into_bytes()
            }
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
            "Resources" => resources,
            "MediaBox" => media,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Width and height from a JPEG's SOF marker.
fn jpeg_size(j: &[u8]) -> Option<(u16, u16)> {
    let mut i = 2;
    while i + 9 < j.len() {
        if j[i] != 0xFF {
            return None;
        }
        let marker = j[i + 1];
        let len = u16::from_be_bytes([j[i + 2], j[i + 3]]) as usize;
        if matches!(marker, 0xC0..=0xC3) {
            let h = u16::from_be_bytes([j[i + 5], j[i + 6]]);
            let w = u16::from_be_bytes([j[i + 7], j[i + 8]]);
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}
