//! HTML through html5ever (the `scraper` crate): headings, paragraphs,
//! list items, preformatted blocks and table rows, in document order;
//! script, style, nav, head and similar non-content elements dropped.
//! The DOM is walked with an explicit open/close iterator (no recursion), so
//! deeply nested input cannot overflow the stack; and input nested deeper
//! than [`MAX_DEPTH`] is refused before tree building, whose cost grows
//! faster than linearly with depth (20,000 nested `<div>`s: seconds).

use std::cell::Cell;

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use rempart_rag::{BlockKind, Document};
use scraper::{Html, Node};

use crate::render::{Render, collapse_ws};
use crate::{Format, IngestError};

/// Deepest element nesting accepted (browsers flatten beyond a few hundred).
pub(crate) const MAX_DEPTH: usize = 4096;

/// Elements that never have an end tag.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose end tag is usually implied by the next sibling; they do
/// not count towards depth (a list of unclosed `<li>` is flat).
const IMPLIED_END: [&str; 12] = [
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb", "rp", "rt",
];

/// Counts open elements while tokenizing (linear; no tree is built).
#[derive(Default)]
struct DepthProbe {
    depth: Cell<usize>,
    max: Cell<usize>,
}

impl TokenSink for DepthProbe {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        let name: &str = &tag.name;
        if VOID.contains(&name) || IMPLIED_END.contains(&name) {
            return TokenSinkResult::Continue;
        }
        match tag.kind {
            TagKind::StartTag if !tag.self_closing => {
                let d = self.depth.get() + 1;
                self.depth.set(d);
                self.max.set(self.max.get().max(d));
                // Raw-text elements, as the tree builder switches them.
                match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                        TokenSinkResult::RawData(RawKind::Rawtext)
                    }
                    "textarea" | "title" => TokenSinkResult::RawData(RawKind::Rcdata),
                    _ => TokenSinkResult::Continue,
                }
            }
            TagKind::EndTag => {
                self.depth.set(self.depth.get().saturating_sub(1));
                TokenSinkResult::Continue
            }
            TagKind::StartTag => TokenSinkResult::Continue,
        }
    }
}

/// The deepest element nesting of `src`, approximately (end tags the
/// parser would imply are not inferred).
fn nesting_depth(src: &str) -> usize {
    let tok = Tokenizer::new(DepthProbe::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(src.into());
    let _ = tok.feed(&input);
    tok.end();
    tok.sink.max.get()
}

/// Elements whose whole subtree is dropped.
const SKIP: [&str; 11] = [
    "script", "style", "nav", "noscript", "template", "head", "svg", "iframe", "object", "canvas",
    "math",
];

/// Elements that end the running paragraph (block boundaries).
const BOUNDARY: [&str; 23] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "figure",
    "figcaption",
    "address",
    "ul",
    "ol",
    "dl",
    "form",
    "fieldset",
    "details",
    "summary",
    "hr",
    "caption",
    "body",
    "center",
];

fn leaf_kind(name: &str) -> Option<BlockKind> {
    Some(match name {
        "h1" => BlockKind::Heading { level: 1 },
        "h2" => BlockKind::Heading { level: 2 },
        "h3" => BlockKind::Heading { level: 3 },
        "h4" => BlockKind::Heading { level: 4 },
        "h5" => BlockKind::Heading { level: 5 },
        "h6" => BlockKind::Heading { level: 6 },
        "li" | "dt" | "dd" => BlockKind::ListItem,
        "pre" => BlockKind::Code,
        _ => return None,
    })
}

struct Leaf {
    kind: BlockKind,
    text: String,
    /// The element that opened it; `None` for running text outside any leaf.
    node: Option<NodeId>,
}

#[derive(Default)]
struct Row {
    cells: Vec<String>,
    all_th: bool,
}

struct Walker {
    out: Render,
    leaf: Option<Leaf>,
    skip: usize,
    table_depth: usize,
    next_table: u32,
    rows_in_table: usize,
    in_thead: bool,
    row: Option<Row>,
    cell: Option<String>,
}

impl Walker {
    fn flush_leaf(&mut self) {
        if let Some(leaf) = self.leaf.take() {
            let text = if leaf.kind == BlockKind::Code {
                leaf.text.trim_matches(['\n', '\r']).to_owned()
            } else {
                leaf.text
                    .split('\n')
                    .map(collapse_ws)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            self.out.push(leaf.kind, &text);
        }
    }

    fn text(&mut self, t: &str) {
        if let Some(cell) = self.cell.as_mut() {
            cell.push_str(t);
            return;
        }
        if t.trim().is_empty() && self.leaf.is_none() {
            return;
        }
        let leaf = self.leaf.get_or_insert(Leaf {
            kind: BlockKind::Paragraph,
            text: String::new(),
            node: None,
        });
        if leaf.kind == BlockKind::Code {
            leaf.text.push_str(t);
        } else {
            // Source line ends are spaces; only <br> and blocks break lines.
            leaf.text.extend(
                t.chars()
                    .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
            );
        }
    }

    fn line_break(&mut self) {
        if let Some(cell) = self.cell.as_mut() {
            cell.push(' ');
        } else if let Some(leaf) = self.leaf.as_mut() {
            leaf.text.push('\n');
        }
    }

    /// A block boundary: ends running text, or breaks the line inside a leaf.
    fn boundary(&mut self) {
        match &self.leaf {
            Some(Leaf { node: None, .. }) => self.flush_leaf(),
            Some(_) => self.line_break(),
            None => {}
        }
    }

    fn open(&mut self, id: NodeId, name: &str) {
        if self.skip > 0 || SKIP.contains(&name) {
            self.skip += 1;
            return;
        }
        if self.cell.is_some() {
            // Inside a table cell everything flows into the cell.
            match name {
                "table" => self.table_depth += 1,
                "br" | "p" | "div" | "li" | "tr" | "td" | "th" => self.line_break(),
                _ => {}
            }
            return;
        }
        if let Some(kind) = leaf_kind(name) {
            self.flush_leaf();
            self.leaf = Some(Leaf {
                kind,
                text: String::new(),
                node: Some(id),
            });
            return;
        }
        match name {
            "br" => self.line_break(),
            "table" => {
                self.flush_leaf();
                self.table_depth += 1;
                if self.table_depth == 1 {
                    self.rows_in_table = 0;
                }
            }
            "thead" => self.in_thead = true,
            "tr" if self.table_depth == 1 => {
                self.flush_leaf();
                self.row = Some(Row {
                    cells: Vec::new(),
                    all_th: true,
                });
            }
            "td" | "th" if self.table_depth == 1 => {
                self.flush_leaf();
                let row = self.row.get_or_insert_with(|| Row {
                    cells: Vec::new(),
                    all_th: true,
                });
                row.all_th &= name == "th";
                self.cell = Some(String::new());
            }
            _ if BOUNDARY.contains(&name) => self.boundary(),
            _ => {}
        }
    }

    fn close(&mut self, id: NodeId, name: &str) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        match name {
            "table" => {
                self.table_depth = self.table_depth.saturating_sub(1);
                if self.table_depth == 0 {
                    self.end_row();
                    self.in_thead = false;
                    if self.rows_in_table > 0 {
                        self.next_table += 1;
                    }
                }
            }
            "td" | "th" if self.table_depth == 1 => {
                if let (Some(cell), Some(row)) = (self.cell.take(), self.row.as_mut()) {
                    row.cells.push(collapse_ws(&cell));
                }
            }
            "tr" if self.table_depth == 1 => self.end_row(),
            "thead" if self.table_depth == 1 => self.in_thead = false,
            _ if self.cell.is_some() => {}
            _ => {
                if self.leaf.as_ref().is_some_and(|l| l.node == Some(id)) {
                    self.flush_leaf();
                } else if BOUNDARY.contains(&name) {
                    self.boundary();
                }
            }
        }
    }

    fn end_row(&mut self) {
        if let Some(cell) = self.cell.take()
            && let Some(row) = self.row.as_mut()
        {
            row.cells.push(collapse_ws(&cell));
        }
        let Some(row) = self.row.take() else {
            return;
        };
        if row.cells.iter().all(|c| c.is_empty()) {
            return;
        }
        let header = self.in_thead || row.all_th;
        self.out.push(
            BlockKind::TableRow {
                table: self.next_table,
                header,
            },
            &row.cells.join(" | "),
        );
        self.rows_in_table += 1;
    }
}

/// Extracts the blocks of an HTML document; returns the rendered text and
/// the document whose offsets index it.
pub(crate) fn extract(src: &str) -> Result<(String, Document), IngestError> {
    if nesting_depth(src) > MAX_DEPTH {
        return Err(IngestError::TooLarge {
            format: Format::Html,
            what: "element nesting depth",
        });
    }
    let html = Html::parse_document(src);
    let mut w = Walker {
        out: Render::new(),
        leaf: None,
        skip: 0,
        table_depth: 0,
        next_table: 0,
        rows_in_table: 0,
        in_thead: false,
        row: None,
        cell: None,
    };
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => w.open(node.id(), el.name()),
                Node::Text(t) if w.skip == 0 => w.text(t),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(el) = node.value() {
                    w.close(node.id(), el.name());
                }
            }
        }
    }
    w.end_row();
    w.flush_leaf();
    Ok(w.out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(src: &str) -> Vec<(BlockKind, String)> {
        let (text, doc) = extract(src).unwrap();
        for b in &doc.blocks {
            assert_eq!(&text[b.start..b.end], b.text);
        }
        doc.blocks.into_iter().map(|b| (b.kind, b.text)).collect()
    }

    #[test]
    fn structure_and_dropped_elements() {
        let got = blocks(
            "<html><head><title>T</title><style>p{}</style></head><body>\
             <nav><a>Home</a></nav><h2>Part  one</h2><p>Hello <b>bold</b><br>next</p>\
             <ul><li>one</li><li><p>two</p><p>more</p></li></ul>\
             <script>alert(1)</script><div>loose <span>text</span></div>\
             <pre>a\n  b</pre></body></html>",
        );
        assert_eq!(
            got,
            [
                (BlockKind::Heading { level: 2 }, "Part one".into()),
                (BlockKind::Paragraph, "Hello bold\nnext".into()),
                (BlockKind::ListItem, "one".into()),
                (BlockKind::ListItem, "two\nmore".into()),
                (BlockKind::Paragraph, "loose text".into()),
                (BlockKind::Code, "a\n  b".into()),
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_tree_building() {
        let deep = "<div>".repeat(MAX_DEPTH + 1);
        assert_eq!(
            extract(&deep),
            Err(IngestError::TooLarge {
                format: Format::Html,
                what: "element nesting depth"
            })
        );
        // Implied end tags, void elements and raw text do not count.
        let flat = format!(
            "{}{}<script>{}</script>",
            "<li>x".repeat(MAX_DEPTH + 1),
            "<br>".repeat(MAX_DEPTH + 1),
            "<div>".repeat(MAX_DEPTH + 1)
        );
        assert!(extract(&flat).is_ok());
        assert_eq!(
            nesting_depth("<div><span>a</span><p>b<div>c</div></div>"),
            2
        );
    }

    #[test]
    fn tables_become_rows() {
        let got = blocks(
            "<table><thead><tr><th>Name</th><th>Qty</th></tr></thead>\
             <tbody><tr><td>Bolt</td><td>3</td></tr><tr><td>Nut <table><tr><td>x</td></tr></table></td><td></td></tr></tbody></table>\
             <p>between</p><table><tr><th>K</th><td>V</td></tr></table>",
        );
        let row = |table, header| BlockKind::TableRow { table, header };
        assert_eq!(
            got,
            [
                (row(0, true), "Name | Qty".into()),
                (row(0, false), "Bolt | 3".into()),
                (row(0, false), "Nut x |".into()),
                (BlockKind::Paragraph, "between".into()),
                (row(1, false), "K | V".into()),
            ]
        );
    }
}
