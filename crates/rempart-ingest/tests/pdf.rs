//! PDF text layer: real invoices from the shared datasets (read in place),
//! generated PDFs for page provenance and pages without a text layer, and
//! corrupt input.

mod support;

use rempart_ingest::{Format, IngestError, extract};
use support::{PageContent, check_provenance, dataset_file, datasets, pdf};

#[test]
fn invoices_extract_with_pages_and_known_values() {
    // (file, pages, values the text layer must carry)
    let cases: [(&str, u32, &[&str]); 5] = [
        ("oyo", 1, &["IBZY2087", "Nanganallur"]),
        ("free_fiber", 2, &["Free"]),
        ("QualityHosting", 2, &["QualityHosting"]),
        ("AmazonWebServices", 1, &["Amazon Web Services"]),
        ("coolblue1", 1, &["Coolblue"]),
    ];
    for (name, pages, values) in cases {
        let bytes = dataset_file(&format!("invoice2data-invoices/{name}.pdf"));
        let e = extract(&bytes, None).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(e.format, Format::Pdf, "{name}");
        assert_eq!(e.pages, pages, "{name}");
        assert!(
            e.needs_ocr.is_empty(),
            "{name}: born-digital, text on every page"
        );
        assert!(!e.document.blocks.is_empty(), "{name}");
        check_provenance(&e);
        for v in values {
            assert!(e.text.contains(v), "{name}: {v} not in the text layer");
        }
    }
}

#[test]
fn every_dataset_pdf_extracts_without_error() {
    let mut n = 0;
    for dir in ["invoice2data-invoices", "pl-pii-bench/corpus/pdf"] {
        for entry in std::fs::read_dir(datasets().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "pdf") {
                let bytes = std::fs::read(&path).unwrap();
                let e =
                    extract(&bytes, None).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                assert!(e.pages >= 1);
                check_provenance(&e);
                n += 1;
            }
        }
    }
    assert!(
        n >= 25,
        "expected the 11 invoice and 14 pl-pii-bench PDFs, found {n}"
    );
}

#[test]
fn pages_are_kept_apart_and_blank_pages_need_ocr() {
    let bytes = pdf(&[
        PageContent::Text(&[
            "Premier paragraphe, ligne une",
            "ligne deux",
            "",
            "Second paragraphe",
        ]),
        PageContent::Blank,
        PageContent::Text(&["Page trois"]),
    ]);
    let e = extract(&bytes, Some("application/pdf")).unwrap();
    assert_eq!(e.pages, 3);
    assert_eq!(e.needs_ocr, [2]);
    if cfg!(not(feature = "ocr")) {
        assert!(e.ocr_pages.is_empty());
    }
    check_provenance(&e);
    let got: Vec<_> = e
        .document
        .blocks
        .iter()
        .map(|b| {
            (
                b.page,
                b.text.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "Premier paragraphe, ligne une ligne deux".to_owned()),
            (1, "Second paragraphe".to_owned()),
            (3, "Page trois".to_owned()),
        ]
    );
    // Re-ingesting the same bytes gives the same hash and the same blocks.
    let again = extract(&bytes, None).unwrap();
    assert_eq!(again.sha256, e.sha256);
    assert_eq!(again.document, e.document);
}

#[test]
fn corrupt_pdfs_are_clear_errors() {
    let good = dataset_file("invoice2data-invoices/oyo.pdf");
    for cut in [16, good.len() / 3] {
        let err = extract(&good[..cut], None).unwrap_err();
        assert!(
            matches!(
                err,
                IngestError::Corrupt {
                    format: Format::Pdf,
                    ..
                }
            ),
            "cut at {cut}: {err}"
        );
    }
    let err = extract(b"%PDF-1.7\nthis is not a pdf body", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt pdf: cannot read the PDF structure (truncated or damaged file)"
    );
    assert_eq!(
        extract(b"plain words", Some("invoice.pdf")).unwrap_err(),
        IngestError::Corrupt {
            format: Format::Pdf,
            what: "the file signature is missing"
        }
    );
}

#[test]
fn a_page_the_parser_fails_on_is_a_warning_and_an_ocr_candidate() {
    let mut bytes = pdf(&[
        PageContent::Text(&["Texte confidentiel"]),
        PageContent::Text(&["Suite"]),
    ]);
    // An unknown font encoding (same length: the xref offsets stay valid);
    // pdf-extract panics on it, with the encoding's name in the message.
    let at = bytes
        .windows(15)
        .position(|w| w == b"WinAnsiEncoding")
        .unwrap();
    bytes[at..at + 3].copy_from_slice(b"Zzz");
    let e = extract(&bytes, None).unwrap();
    assert_eq!(e.pages, 2);
    assert_eq!(e.needs_ocr, [1, 2]);
    let pages: Vec<_> = e.warnings.iter().map(|w| w.page).collect();
    assert_eq!(pages, [Some(1), Some(2)]);
    assert!(
        e.warnings
            .iter()
            .all(|w| w.what == "the page's text layer could not be decoded")
    );
}
