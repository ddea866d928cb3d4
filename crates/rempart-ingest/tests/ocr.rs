//! OCR (feature `ocr`): images and scanned PDF pages through Tesseract.
//! Run with `scripts/test-ocr.sh` (installs Tesseract and poppler-utils).
#![cfg(feature = "ocr")]

mod support;

use rempart_ingest::{Format, extract};
use support::{PageContent, check_provenance, dataset_file, pdf};

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn invoice_png_is_recognised() {
    let png = dataset_file("invoice2data-invoices/oyo.png");
    let e = extract(&png, None).unwrap();
    assert_eq!(e.format, Format::Png);
    assert_eq!(
        (e.needs_ocr.as_slice(), e.ocr_pages.as_slice()),
        (&[1][..], &[1][..])
    );
    check_provenance(&e);
    let text = squash(&e.text);
    for v in ["IBZY2087", "Nanganallur", "PAYMENT RECEIPT"] {
        assert!(text.contains(v), "{v} not recognised");
    }
}

#[test]
fn scanned_pdf_pages_are_rasterised_and_recognised() {
    // A 150 dpi scan (as its JFIF header says).
    let receipt = dataset_file("sroie2019-receipts/img/000.jpg");
    let bytes = pdf(&[
        PageContent::Text(&["Bordereau d'envoi"]),
        PageContent::Jpeg(&receipt, 150),
    ]);
    let e = extract(&bytes, None).unwrap();
    assert_eq!(e.pages, 2);
    assert_eq!(e.needs_ocr, [2]);
    assert_eq!(e.ocr_pages, [2]);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    check_provenance(&e);
    assert_eq!(e.document.blocks[0].page, 1);
    let page2: String = e
        .document
        .blocks
        .iter()
        .filter(|b| b.page == 2)
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let page2 = squash(&page2).to_uppercase();
    // Lines of the receipt's ground truth (box/000.csv).
    for v in ["TAN WOON YANN", "TAMAN DAYA", "JALAN SAGU", "JOHOR BAHRU"] {
        assert!(page2.contains(v), "{v} not recognised on page 2");
    }
}

#[test]
fn undecodable_images_are_clear_errors() {
    let err = extract(b"\x89PNG\r\n\x1a\nnot really a png", None).unwrap_err();
    assert_eq!(err.to_string(), "corrupt png: the image cannot be decoded");
}
