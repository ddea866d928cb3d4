//! Text, Markdown, HTML, DOCX and EML: structure, provenance and hashes.

mod support;

use rempart_ingest::{Format, IngestError, extract};
use rempart_rag::BlockKind;
use support::{check_provenance, docx, p};

fn kinds(e: &rempart_ingest::Extracted) -> Vec<(BlockKind, &str)> {
    e.document
        .blocks
        .iter()
        .map(|b| (b.kind, b.text.as_str()))
        .collect()
}

const fn row(table: u32, header: bool) -> BlockKind {
    BlockKind::TableRow { table, header }
}

#[test]
fn sha256_identifies_the_input_bytes() {
    let e = extract(b"abc", None).unwrap();
    assert_eq!(
        e.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // The hash is of the bytes, whatever the hint: re-ingest is idempotent.
    assert_eq!(extract(b"abc", Some("a.md")).unwrap().sha256, e.sha256);
    assert_ne!(extract(b"abd", None).unwrap().sha256, e.sha256);
}

#[test]
fn plain_text_keeps_source_offsets_and_form_feed_pages() {
    let src = "Alpha one.\n\nBeta.\x0cGamma on page two.";
    let e = extract(src.as_bytes(), Some("notes.txt")).unwrap();
    assert_eq!(e.format, Format::Text);
    assert_eq!(e.text, src);
    assert_eq!(e.pages, 2);
    check_provenance(&e);
    let pages: Vec<_> = e.document.blocks.iter().map(|b| b.page).collect();
    assert_eq!(pages, [1, 1, 2]);
    assert!(e.needs_ocr.is_empty() && e.attachments.is_empty());
    assert_eq!(extract(b"", None).unwrap().pages, 0);
}

#[test]
fn markdown_by_hint_uses_the_markdown_parser() {
    let src = "# Titre\n\nTexte.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
    let e = extract(src.as_bytes(), Some("text/markdown")).unwrap();
    assert_eq!(e.format, Format::Markdown);
    assert_eq!(
        kinds(&e),
        [
            (BlockKind::Heading { level: 1 }, "Titre"),
            (BlockKind::Paragraph, "Texte."),
            (row(0, true), "a | b"),
            (row(0, false), "1 | 2"),
        ]
    );
    check_provenance(&e);
    // Without the hint the same bytes are plain text.
    assert_eq!(extract(src.as_bytes(), None).unwrap().format, Format::Text);
}

#[test]
fn html_fixture_headings_lists_tables_without_scripts_or_nav() {
    let bytes = include_bytes!("fixtures/policy.html");
    let e = extract(bytes, None).unwrap();
    assert_eq!(e.format, Format::Html);
    assert_eq!(e.pages, 1);
    assert_eq!(
        kinds(&e),
        [
            (BlockKind::Heading { level: 1 }, "Politique de congés"),
            (
                BlockKind::Paragraph,
                "Les salariés ont droit à cinq semaines de congés payés par année de référence."
            ),
            (BlockKind::Heading { level: 2 }, "Demande"),
            (BlockKind::ListItem, "Remplir le formulaire."),
            (BlockKind::ListItem, "Obtenir l'accord du responsable."),
            (BlockKind::Heading { level: 2 }, "Barème"),
            (row(0, true), "Ancienneté | Jours"),
            (row(0, false), "Moins d'un an | 2,5 par mois"),
            (row(0, false), "Un an et plus | 25"),
            (BlockKind::Paragraph, "Service RH & Paie"),
        ]
    );
    check_provenance(&e);
    for dropped in ["tracking", "injected", "Accueil", "font-family"] {
        assert!(!e.text.contains(dropped), "{dropped} must be dropped");
    }
    // The chunker takes the document as it is.
    let chunks = rempart_rag::chunk(&e.document, rempart_rag::ChunkerConfig::default()).unwrap();
    assert!(
        chunks
            .iter()
            .any(|c| c.heading_path == ["Politique de congés", "Barème"])
    );
}

const STYLES: &str = r#"
<w:style w:type="paragraph" w:styleId="Titre1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="MonTitre"><w:name w:val="Mon titre"/><w:basedOn w:val="Titre1"/></w:style>
<w:style w:type="paragraph" w:styleId="Puces"><w:name w:val="List Bullet"/></w:style>
<w:style w:type="paragraph" w:styleId="Normal"><w:name w:val="Normal"/></w:style>"#;

#[test]
fn docx_headings_lists_tables_and_page_breaks() {
    let table = r#"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Article</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Prix</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>Vis</w:t></w:r></w:p><w:p><w:r><w:t>inox</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>3 &amp; 4 &#8364;</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"#;
    let body = [
        p(Some("Titre1"), false, "Contrat de prestation"),
        p(Some("Normal"), false, "Entre les parties soussignées."),
        p(Some("Heading2"), false, "Obligations"),
        p(None, true, "Livrer à temps."),
        p(Some("Puces"), false, "Facturer au mois."),
        table.to_owned(),
        r#"<w:p><w:r><w:br w:type="page"/></w:r></w:p>"#.to_owned(),
        p(Some("MonTitre"), false, "Annexe"),
        r#"<w:p><w:pPr><w:outlineLvl w:val="2"/></w:pPr><w:r><w:t>Détail</w:t></w:r><w:r><w:tab/><w:t>suite</w:t></w:r></w:p>"#.to_owned(),
    ]
    .concat();
    let bytes = docx(&body, Some(STYLES));
    let e = extract(&bytes, None).unwrap();
    assert_eq!(e.format, Format::Docx);
    assert_eq!(
        kinds(&e),
        [
            (BlockKind::Heading { level: 1 }, "Contrat de prestation"),
            (BlockKind::Paragraph, "Entre les parties soussignées."),
            (BlockKind::Heading { level: 2 }, "Obligations"),
            (BlockKind::ListItem, "Livrer à temps."),
            (BlockKind::ListItem, "Facturer au mois."),
            (row(0, true), "Article | Prix"),
            (row(0, false), "Vis inox | 3 & 4 €"),
            (BlockKind::Heading { level: 1 }, "Annexe"),
            (BlockKind::Heading { level: 3 }, "Détail suite"),
        ]
    );
    let pages: Vec<_> = e.document.blocks.iter().map(|b| b.page).collect();
    assert_eq!(pages, [1, 1, 1, 1, 1, 1, 1, 2, 2]);
    assert_eq!(e.pages, 2);
    check_provenance(&e);
}

#[test]
fn docx_errors_say_what_is_wrong() {
    let not_docx = support::zip_of(&[("hello.txt", b"hi")]);
    assert_eq!(
        extract(&not_docx, Some("report.docx")),
        Err(IngestError::Unsupported {
            what: "zip archive that is not a DOCX (no word/document.xml)"
        })
    );
    let xlsx = support::zip_of(&[("xl/workbook.xml", b"<x/>")]);
    assert!(matches!(
        extract(&xlsx, None),
        Err(IngestError::Unsupported {
            what: "XLSX spreadsheet"
        })
    ));
    let good = docx(&p(None, false, "x"), None);
    let truncated = &good[..good.len() / 2];
    let err = extract(truncated, None).unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::Corrupt {
                format: Format::Docx,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("corrupt docx"));
    let broken = docx("<w:p><w:r><w:t>unclosed</w:r></w:p>", None);
    let err = extract(&broken, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt docx: word/document.xml is not well-formed XML"
    );
    // The message names no document text.
    assert!(!err.to_string().contains("unclosed"));
}

/// Base64 in 76-character lines, as MIME writes it.
fn b64(data: &[u8]) -> String {
    use base64::Engine;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn eml_header_block_body_and_recursive_attachments() {
    let report = docx(&p(Some("Heading1"), false, "Rapport annuel"), None);
    let nested = "From: Carol <carol@example.org>\r\nTo: bob@example.org\r\nSubject: Ancien message\r\n\r\nTexte du message transmis.\r\n";
    let eml = format!(
        "From: Alice Martin <alice@example.org>\r\n\
         To: Bob <bob@example.org>, carol@example.org\r\n\
         Subject: =?UTF-8?Q?R=C3=A9union_budg=C3=A9taire?=\r\n\
         Date: Tue, 5 Mar 2024 10:15:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
         \r\n\
         --XX\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         Bonjour,\r\n\r\nVoici le budget.\r\n\
         --XX\r\n\
         Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\n\
         Content-Disposition: attachment; filename=\"rapport.docx\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --XX\r\n\
         Content-Type: message/rfc822\r\n\
         Content-Disposition: attachment\r\n\
         \r\n\
         {nested}\
         --XX\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"blob.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         AAECAwQ=\r\n\
         --XX--\r\n",
        b64(&report)
    );
    let e = extract(eml.as_bytes(), Some("message.eml")).unwrap();
    assert_eq!(e.format, Format::Eml);
    assert_eq!(
        kinds(&e),
        [
            (
                BlockKind::Paragraph,
                "Subject: Réunion budgétaire\nFrom: Alice Martin <alice@example.org>\n\
                 To: Bob <bob@example.org>, carol@example.org\nDate: 2024-03-05T10:15:00+01:00"
            ),
            (BlockKind::Paragraph, "Bonjour,"),
            (BlockKind::Paragraph, "Voici le budget."),
        ]
    );
    check_provenance(&e);
    assert_eq!(e.attachments.len(), 3);

    let a = &e.attachments[0];
    assert_eq!(a.name.as_deref(), Some("rapport.docx"));
    let doc = a.extracted.as_ref().unwrap();
    assert_eq!(doc.format, Format::Docx);
    assert_eq!(doc.document.blocks[0].kind, BlockKind::Heading { level: 1 });
    assert_eq!(doc.document.blocks[0].text, "Rapport annuel");
    // Its own provenance: its own hash, offsets into its own text.
    assert_eq!(doc.sha256, extract(&report, None).unwrap().sha256);
    check_provenance(doc);

    let fwd = e.attachments[1].extracted.as_ref().unwrap();
    assert_eq!(
        e.attachments[1].content_type.as_deref(),
        Some("message/rfc822")
    );
    assert_eq!(fwd.format, Format::Eml);
    assert!(
        fwd.document.blocks[0]
            .text
            .starts_with("Subject: Ancien message\nFrom: Carol")
    );
    assert_eq!(fwd.document.blocks[1].text, "Texte du message transmis.");

    assert!(matches!(
        e.attachments[2].extracted,
        Err(IngestError::Unsupported { .. })
    ));
}

#[test]
fn eml_html_only_body_goes_through_the_html_extractor() {
    let eml = "From: a@example.org\r\nTo: b@example.org\r\nSubject: Note\r\n\
               Content-Type: text/html; charset=utf-8\r\n\r\n\
               <html><body><h2>Ordre du jour</h2><ul><li>Budget</li></ul>\
               <table><tr><th>Poste</th><th>Montant</th></tr><tr><td>Loyer</td><td>900</td></tr></table>\
               <script>x()</script></body></html>\r\n";
    let e = extract(eml.as_bytes(), None).unwrap();
    assert_eq!(e.format, Format::Eml);
    assert_eq!(
        kinds(&e)[1..],
        [
            (BlockKind::Heading { level: 2 }, "Ordre du jour"),
            (BlockKind::ListItem, "Budget"),
            (row(0, true), "Poste | Montant"),
            (row(0, false), "Loyer | 900"),
        ]
    );
    check_provenance(&e);
}

#[test]
fn eml_attachment_nesting_is_bounded() {
    let mut msg =
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: 0\r\n\r\nfond\r\n".to_owned();
    for i in 1..=5 {
        msg = format!(
            "From: a@example.org\r\nTo: b@example.org\r\nSubject: {i}\r\nContent-Type: multipart/mixed; boundary=\"B{i}\"\r\n\r\n\
             --B{i}\r\nContent-Type: text/plain\r\n\r\nniveau {i}\r\n\
             --B{i}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n{msg}--B{i}--\r\n"
        );
    }
    let mut e = extract(msg.as_bytes(), None).unwrap();
    let mut depth = 0;
    loop {
        assert_eq!(e.attachments.len(), 1);
        match e.attachments.remove(0).extracted {
            Ok(inner) => {
                e = *inner;
                depth += 1;
            }
            Err(err) => {
                assert!(matches!(
                    err,
                    IngestError::TooLarge {
                        format: Format::Eml,
                        ..
                    }
                ));
                break;
            }
        }
    }
    assert_eq!(depth, rempart_ingest::ExtractOptions::default().max_depth);
}

#[cfg(not(feature = "ocr"))]
#[test]
fn images_without_ocr_are_listed_as_needing_it() {
    let png = support::dataset_file("invoice2data-invoices/oyo.png");
    let e = extract(&png, Some("scan.bin")).unwrap();
    assert_eq!(e.format, Format::Png);
    assert_eq!((e.pages, e.needs_ocr.as_slice()), (1, &[1][..]));
    assert!(e.document.blocks.is_empty() && e.ocr_pages.is_empty());
    let jpg = support::dataset_file("sroie2019-receipts/img/000.jpg");
    assert_eq!(extract(&jpg, None).unwrap().format, Format::Jpeg);
}
