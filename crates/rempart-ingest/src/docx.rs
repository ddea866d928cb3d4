//! DOCX (Office Open XML): `word/document.xml` read from the zip with a
//! streaming XML reader. Headings come from paragraph styles (resolved
//! through `word/styles.xml`: built-in "heading 1".."heading 9" and
//! "Title", outline levels, localised style ids such as Titre1 or
//! berschrift1), list items from numbering, tables row by row (the first
//! row, or rows marked as repeating headers, are header rows). Pages follow
//! explicit page breaks only (Word's own pagination is not in the file).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use rempart_rag::BlockKind;

use crate::render::Render;
use crate::{ExtractOptions, Extracted, Format, IngestError};

const FORMAT: Format = Format::Docx;

fn corrupt(what: &'static str) -> IngestError {
    IngestError::Corrupt {
        format: FORMAT,
        what,
    }
}

/// Reads one part of the package, at most `max` bytes decompressed.
fn read_part(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    max: u64,
    what: &'static str,
) -> Result<Option<Vec<u8>>, IngestError> {
    let Some(index) = zip.index_for_name(name) else {
        return Ok(None);
    };
    let file = zip
        .by_index(index)
        .map_err(|_| corrupt("a part cannot be opened (unsupported compression or damaged)"))?;
    let mut out = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|_| corrupt("a part cannot be decompressed (damaged archive)"))?;
    if out.len() as u64 > max {
        return Err(IngestError::TooLarge {
            format: FORMAT,
            what,
        });
    }
    Ok(Some(out))
}

/// The value of the `w:val` (any prefix) attribute.
fn val(e: &BytesStart<'_>) -> Option<String> {
    attr(e, b"val")
}

/// A boolean property element (`<w:x/>`, `<w:x w:val="true"/>`) is on.
fn on(e: &BytesStart<'_>) -> bool {
    val(e).is_none_or(|v| !matches!(v.as_str(), "0" | "false" | "off"))
}

/// The value of the attribute with local name `name` (any prefix).
fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

#[derive(Debug, Default, Clone)]
struct Style {
    name: String,
    outline: Option<u8>,
    numbered: bool,
    based_on: Option<String>,
}

/// `styleId → style` from `word/styles.xml` (paragraph styles).
fn parse_styles(xml: &[u8]) -> HashMap<String, Style> {
    let mut styles = HashMap::new();
    let mut reader = Reader::from_reader(xml);
    let mut current: Option<(String, Style)> = None;
    loop {
        let ev = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(ev) => ev,
        };
        match ev {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"style" => {
                    if let Some((id, s)) = current.take() {
                        styles.insert(id, s);
                    }
                    if let Some(id) = attr(&e, b"styleId") {
                        current = Some((id, Style::default()));
                    }
                }
                b"name" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.name = val(&e).unwrap_or_default();
                    }
                }
                b"basedOn" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.based_on = val(&e);
                    }
                }
                b"outlineLvl" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.outline = val(&e).and_then(|v| v.parse().ok());
                    }
                }
                b"numPr" => {
                    if let Some((_, s)) = current.as_mut() {
                        s.numbered = true;
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == b"style" => {
                if let Some((id, s)) = current.take() {
                    styles.insert(id, s);
                }
            }
            _ => {}
        }
    }
    styles
}

/// A heading level from a style name or id: "heading 2", "Heading2",
/// "Titre2", "berschrift2" (Überschrift), "Titolo2", "Kop2", "Title".
fn level_from_name(name: &str) -> Option<u8> {
    let n = name.to_lowercase().replace([' ', '_', '-'], "");
    if matches!(
        n.as_str(),
        "title" | "titre" | "titel" | "titolo" | "título" | "titulo"
    ) {
        return Some(1);
    }
    for prefix in [
        "heading",
        "titre",
        "überschrift",
        "berschrift",
        "titolo",
        "título",
        "titulo",
        "kop",
    ] {
        if let Some(rest) = n.strip_prefix(prefix)
            && let Ok(l) = rest.parse::<u8>()
            && (1..=9).contains(&l)
        {
            return Some(l.min(6));
        }
    }
    None
}

fn outline_level(lvl: u8) -> Option<u8> {
    // 0-based outline levels; 9 means body text.
    (lvl < 9).then(|| (lvl + 1).min(6))
}

/// The heading level and whether it is a list item, for a paragraph style.
fn style_kind(id: &str, styles: &HashMap<String, Style>) -> (Option<u8>, bool) {
    let mut id = id.to_owned();
    for _ in 0..4 {
        let Some(s) = styles.get(&id) else {
            return (level_from_name(&id), false);
        };
        let level = s
            .outline
            .and_then(outline_level)
            .or_else(|| level_from_name(&s.name))
            .or_else(|| level_from_name(&id));
        let list = s.numbered || s.name.to_lowercase().starts_with("list");
        if level.is_some() || list {
            return (level, list);
        }
        match &s.based_on {
            Some(b) => id = b.clone(),
            None => break,
        }
    }
    (None, false)
}

#[derive(Default)]
struct Para {
    style: Option<String>,
    numbered: bool,
    outline: Option<u8>,
    text: String,
    break_after: bool,
}

struct Table {
    index: u32,
    rows: usize,
    row: Vec<String>,
    header: bool,
    cell: Option<String>,
}

pub(crate) fn extract(bytes: &[u8], opts: &ExtractOptions) -> Result<Extracted, IngestError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| corrupt("not a readable zip archive"))?;
    let doc_xml = read_part(
        &mut zip,
        "word/document.xml",
        opts.max_part_bytes,
        "decompressed word/document.xml",
    )?
    .ok_or(corrupt("the archive has no word/document.xml"))?;
    let styles = read_part(
        &mut zip,
        "word/styles.xml",
        opts.max_part_bytes,
        "decompressed word/styles.xml",
    )?
    .map(|x| parse_styles(&x))
    .unwrap_or_default();

    let mut out = Render::new();
    let mut reader = Reader::from_reader(doc_xml.as_slice());
    let mut paras: Vec<Para> = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut next_table = 0u32;
    let mut in_text = false;
    let mut in_ppr = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|_| corrupt("word/document.xml is not well-formed XML"))?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"p" if !empty => paras.push(Para::default()),
                b"pPr" if !empty => in_ppr = true,
                b"pStyle" if in_ppr => {
                    if let Some(p) = paras.last_mut() {
                        p.style = val(&e);
                    }
                }
                b"numPr" if in_ppr => {
                    if let Some(p) = paras.last_mut() {
                        p.numbered = true;
                    }
                }
                b"outlineLvl" if in_ppr => {
                    if let Some(p) = paras.last_mut() {
                        p.outline = val(&e).and_then(|v| v.parse().ok());
                    }
                }
                b"pageBreakBefore" if in_ppr && on(&e) => out.set_page(out.page() + 1),
                b"t" if !empty => in_text = true,
                b"tab" if !in_ppr => push_text(&mut paras, "\t"),
                b"br" | b"cr" => {
                    if attr(&e, b"type").as_deref() == Some("page") {
                        match paras.last_mut() {
                            Some(p) if !p.text.trim().is_empty() => p.break_after = true,
                            _ => out.set_page(out.page() + 1),
                        }
                    } else {
                        push_text(&mut paras, "\n");
                    }
                }
                b"tbl" if !empty => {
                    tables.push(Table {
                        index: next_table,
                        rows: 0,
                        row: Vec::new(),
                        header: false,
                        cell: None,
                    });
                }
                b"tr" if tables.len() == 1 => {
                    let t = &mut tables[0];
                    t.row.clear();
                    t.header = t.rows == 0;
                }
                b"tblHeader" if tables.len() == 1 && on(&e) => tables[0].header = true,
                b"tc" if tables.len() == 1 && !empty => tables[0].cell = Some(String::new()),
                _ => {}
            },
            Event::Text(t) if in_text => {
                let s = t
                    .xml10_content()
                    .map_err(|_| corrupt("word/document.xml has an invalid encoding"))?;
                push_text(&mut paras, &s);
            }
            Event::GeneralRef(r) if in_text => {
                let s = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => r
                        .decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_xml_entity(&n))
                        .unwrap_or("")
                        .to_owned(),
                };
                push_text(&mut paras, &s);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"pPr" => in_ppr = false,
                b"p" => {
                    let Some(p) = paras.pop() else { continue };
                    let text = p.text.trim();
                    if let Some(cell) = tables.first_mut().and_then(|t| t.cell.as_mut()) {
                        if !text.is_empty() {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(text);
                        }
                    } else if let Some(outer) = paras.last_mut() {
                        // A text box inside a paragraph: its text joins it.
                        outer.text.push(' ');
                        outer.text.push_str(text);
                    } else {
                        let (style_level, style_list) = p
                            .style
                            .as_deref()
                            .map(|s| style_kind(s, &styles))
                            .unwrap_or((None, false));
                        let level = p.outline.and_then(outline_level).or(style_level);
                        let kind = match level {
                            Some(level) => BlockKind::Heading { level },
                            None if p.numbered || style_list => BlockKind::ListItem,
                            None => BlockKind::Paragraph,
                        };
                        let text = if matches!(kind, BlockKind::Heading { .. }) {
                            crate::render::collapse_ws(text)
                        } else {
                            text.to_owned()
                        };
                        out.push(kind, &text);
                    }
                    if p.break_after {
                        out.set_page(out.page() + 1);
                    }
                }
                b"tc" if tables.len() == 1 => {
                    let t = &mut tables[0];
                    if let Some(c) = t.cell.take() {
                        t.row.push(crate::render::collapse_ws(&c));
                    }
                }
                b"tr" if tables.len() == 1 => {
                    let t = &mut tables[0];
                    if t.row.iter().any(|c| !c.is_empty()) {
                        out.push(
                            BlockKind::TableRow {
                                table: t.index,
                                header: t.header,
                            },
                            &t.row.join(" | "),
                        );
                        t.rows += 1;
                    }
                    t.row.clear();
                }
                b"tbl" => {
                    if let Some(t) = tables.pop()
                        && tables.is_empty()
                        && t.rows > 0
                    {
                        next_table += 1;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    let (text, document) = out.finish();
    // Pages up to the last one with text (a trailing break adds none).
    let pages = document.blocks.last().map_or(0, |b| b.page);
    Ok(Extracted {
        text,
        document,
        pages,
        ..Extracted::empty(FORMAT)
    })
}

fn push_text(paras: &mut [Para], s: &str) {
    if let Some(p) = paras.last_mut() {
        p.text.push_str(s);
    }
}
