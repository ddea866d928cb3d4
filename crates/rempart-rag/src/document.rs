//! The structured-text model chunking works on, and parsers from Markdown
//! and plain text. Extractors for PDF, DOCX, HTML, OCR output produce the
//! same [`Document`].

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

/// What a block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockKind {
    /// A heading of level 1 (top) to 6.
    Heading {
        /// 1..=6.
        level: u8,
    },
    /// A paragraph of running text.
    Paragraph,
    /// One list item.
    ListItem,
    /// One table row (cells joined by `" | "`); never split by chunking.
    TableRow {
        /// Which table of the document (0-based), to group rows.
        table: u32,
        /// Whether this is the table's header row.
        header: bool,
    },
    /// A code or preformatted block.
    Code,
}

/// One block of extracted text with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// What it is.
    pub kind: BlockKind,
    /// Its text (markup removed).
    pub text: String,
    /// 1-based page number (1 for unpaginated sources).
    pub page: u32,
    /// Start byte offset of the block in the source text.
    pub start: usize,
    /// End byte offset (exclusive) of the block in the source text.
    pub end: usize,
    /// Whether `text` is exactly `source[start..end]`, so offsets inside
    /// the text map one-to-one onto the source.
    pub verbatim: bool,
}

/// Extracted text with its structure, in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The blocks.
    pub blocks: Vec<Block>,
}

/// Page number (1-based) at byte `offset`: one plus the form feeds before it.
fn page_at(src: &str, offset: usize) -> u32 {
    1 + src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\x0c')
        .count() as u32
}

struct Open {
    kind: BlockKind,
    text: String,
    start: usize,
}

/// Parses CommonMark (with GFM tables) into blocks: headings, paragraphs,
/// list items, table rows, code blocks. Form feeds mark page breaks.
/// Inline markup is dropped, its text kept; HTML blocks are skipped.
pub fn parse_markdown(src: &str) -> Document {
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut item_depth = 0usize;
    let mut table = 0u32;
    let mut cell = 0usize;

    fn flush(open: &mut Option<Open>, end: usize, src: &str, blocks: &mut Vec<Block>) {
        if let Some(o) = open.take() {
            let text = o.text.trim().to_owned();
            if !text.is_empty() {
                blocks.push(Block {
                    kind: o.kind,
                    verbatim: src.get(o.start..end) == Some(text.as_str()),
                    page: page_at(src, o.start),
                    text,
                    start: o.start,
                    end,
                });
            }
        }
    }
    let begin = |open: &mut Option<Open>, kind, start| {
        *open = Some(Open {
            kind,
            text: String::new(),
            start,
        })
    };

    for (event, range) in Parser::new_ext(src, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut open, range.start, src, &mut blocks);
                begin(
                    &mut open,
                    BlockKind::Heading { level: level as u8 },
                    range.start,
                );
            }
            Event::Start(Tag::Item) => {
                flush(&mut open, range.start, src, &mut blocks);
                item_depth += 1;
                begin(&mut open, BlockKind::ListItem, range.start);
            }
            Event::End(TagEnd::Item) => {
                item_depth = item_depth.saturating_sub(1);
                flush(&mut open, range.end, src, &mut blocks);
            }
            Event::Start(Tag::Paragraph) => {
                // Inside a list item the paragraph joins the item's block.
                if item_depth == 0 || open.is_none() {
                    flush(&mut open, range.start, src, &mut blocks);
                    let kind = if item_depth > 0 {
                        BlockKind::ListItem
                    } else {
                        BlockKind::Paragraph
                    };
                    begin(&mut open, kind, range.start);
                } else if let Some(o) = open.as_mut()
                    && !o.text.is_empty()
                {
                    o.text.push('\n');
                }
            }
            Event::End(TagEnd::Paragraph) if item_depth == 0 => {
                flush(&mut open, range.end, src, &mut blocks)
            }
            Event::End(TagEnd::Heading(_)) | Event::End(TagEnd::CodeBlock) => {
                flush(&mut open, range.end, src, &mut blocks)
            }
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut open, range.start, src, &mut blocks);
                begin(&mut open, BlockKind::Code, range.start);
            }
            Event::Start(Tag::Table(_)) => flush(&mut open, range.start, src, &mut blocks),
            Event::End(TagEnd::Table) => table += 1,
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => {
                let header = matches!(event, Event::Start(Tag::TableHead));
                cell = 0;
                flush(&mut open, range.start, src, &mut blocks);
                begin(
                    &mut open,
                    BlockKind::TableRow { table, header },
                    range.start,
                );
            }
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                flush(&mut open, range.end, src, &mut blocks)
            }
            Event::Start(Tag::TableCell) => {
                if let Some(o) = open.as_mut()
                    && cell > 0
                {
                    o.text.push_str(" | ");
                }
                cell += 1;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(o) = open.as_mut() {
                    o.text.push_str(&t);
                }
            }
            Event::SoftBreak => {
                if let Some(o) = open.as_mut() {
                    o.text.push(' ');
                }
            }
            Event::HardBreak => {
                if let Some(o) = open.as_mut() {
                    o.text.push('\n');
                }
            }
            _ => {}
        }
    }
    flush(&mut open, src.len(), src, &mut blocks);
    Document { blocks }
}

/// Parses plain text: paragraphs are separated by blank lines, pages by
/// form feeds. Every block is verbatim (its text is the source slice).
pub fn parse_plain(src: &str) -> Document {
    let mut blocks = Vec::new();
    let mut para_start: Option<usize> = None;
    let mut para_end = 0usize;
    let push = |s: usize, e: usize, blocks: &mut Vec<Block>| {
        let raw = &src[s..e];
        let lead = raw.len() - raw.trim_start().len();
        let text = raw.trim();
        if !text.is_empty() {
            let start = s + lead;
            blocks.push(Block {
                kind: BlockKind::Paragraph,
                text: text.to_owned(),
                page: page_at(src, start),
                start,
                end: start + text.len(),
                verbatim: true,
            });
        }
    };
    let mut offset = 0usize;
    for line in src.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        // A form feed ends the paragraph (page break), the rest of the line
        // starts the next page.
        let mut pieces = line.split('\x0c').peekable();
        let mut pos = start;
        while let Some(piece) = pieces.next() {
            let blank = piece.trim().is_empty();
            if blank {
                if let Some(s) = para_start.take() {
                    push(s, para_end, &mut blocks);
                }
            } else {
                para_start.get_or_insert(pos);
                para_end = pos + piece.len();
            }
            pos += piece.len() + 1;
            if pieces.peek().is_some()
                && let Some(s) = para_start.take()
            {
                push(s, para_end, &mut blocks);
            }
        }
    }
    if let Some(s) = para_start {
        push(s, para_end, &mut blocks);
    }
    Document { blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks_with_offsets() {
        let src = "# Title\n\nFirst *para*\nline two.\n\n## Sub\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n```\ncode\n```\n";
        let d = parse_markdown(src);
        let kinds: Vec<_> = d.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (BlockKind::Heading { level: 1 }, "Title"),
                (BlockKind::Paragraph, "First para line two."),
                (BlockKind::Heading { level: 2 }, "Sub"),
                (BlockKind::ListItem, "one"),
                (BlockKind::ListItem, "two"),
                (
                    BlockKind::TableRow {
                        table: 0,
                        header: true
                    },
                    "a | b"
                ),
                (
                    BlockKind::TableRow {
                        table: 0,
                        header: false
                    },
                    "1 | 2"
                ),
                (
                    BlockKind::TableRow {
                        table: 0,
                        header: false
                    },
                    "3 | 4"
                ),
                (BlockKind::Code, "code"),
            ]
        );
        let p = &d.blocks[1];
        assert_eq!(&src[p.start..p.end], "First *para*\nline two.\n");
        assert!(!p.verbatim);
        let row = &d.blocks[6];
        assert!(src[row.start..row.end].contains("| 1 | 2 |"));
    }

    #[test]
    fn plain_text_paragraphs_and_pages() {
        let src = "  Alpha one.\nAlpha two.\n\n\nBeta.\x0cGamma on page two.\n\nDelta.";
        let d = parse_plain(src);
        let got: Vec<_> = d
            .blocks
            .iter()
            .map(|b| (b.text.as_str(), b.page, &src[b.start..b.end]))
            .collect();
        assert_eq!(
            got,
            [
                ("Alpha one.\nAlpha two.", 1, "Alpha one.\nAlpha two."),
                ("Beta.", 1, "Beta."),
                ("Gamma on page two.", 2, "Gamma on page two."),
                ("Delta.", 2, "Delta."),
            ]
        );
        assert!(d.blocks.iter().all(|b| b.verbatim));
    }
}
