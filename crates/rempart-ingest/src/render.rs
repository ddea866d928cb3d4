//! Writes extracted blocks into one canonical text, so every block's
//! offsets point into it (and `verbatim` holds) whatever the source format.

use rempart_rag::{Block, BlockKind, Document};

/// Collapses every run of whitespace into one space and trims the ends;
/// form feeds (page separators of the rendered text) become spaces too.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Accumulates blocks: blocks are separated by a blank line, pages by form
/// feeds (one per page step), as `rempart_rag::parse_plain` reads them.
#[derive(Debug, Default)]
pub(crate) struct Render {
    text: String,
    blocks: Vec<Block>,
    page: u32,
}

impl Render {
    pub(crate) fn new() -> Self {
        Render {
            text: String::new(),
            blocks: Vec::new(),
            page: 1,
        }
    }

    /// The current page (1-based).
    pub(crate) fn page(&self) -> u32 {
        self.page
    }

    /// Moves to a later page; the next block starts there.
    pub(crate) fn set_page(&mut self, page: u32) {
        while self.page < page {
            self.text.push('\x0c');
            self.page += 1;
        }
    }

    /// Appends a block; empty text (after trimming) is skipped. Form feeds
    /// inside `text` become spaces so page numbering stays with `set_page`.
    pub(crate) fn push(&mut self, kind: BlockKind, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.text.is_empty() && !self.text.ends_with('\x0c') {
            self.text.push_str("\n\n");
        }
        let start = self.text.len();
        if text.contains('\x0c') {
            self.text.push_str(&text.replace('\x0c', " "));
        } else {
            self.text.push_str(text);
        }
        let end = self.text.len();
        self.blocks.push(Block {
            kind,
            text: self.text[start..end].to_owned(),
            page: self.page,
            start,
            end,
            verbatim: true,
        });
    }

    /// The rendered text and its document.
    pub(crate) fn finish(self) -> (String, Document) {
        (
            self.text,
            Document {
                blocks: self.blocks,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_into_the_rendered_text_and_pages_follow_form_feeds() {
        let mut r = Render::new();
        r.push(BlockKind::Heading { level: 1 }, "  Title ");
        r.push(BlockKind::Paragraph, "");
        r.push(BlockKind::Paragraph, "a\x0cb");
        r.set_page(3);
        r.push(BlockKind::ListItem, "item");
        let (text, doc) = r.finish();
        assert_eq!(text, "Title\n\na b\x0c\x0citem");
        for b in &doc.blocks {
            assert_eq!(&text[b.start..b.end], b.text);
        }
        let pages: Vec<_> = doc.blocks.iter().map(|b| b.page).collect();
        assert_eq!(pages, [1, 1, 3]);
        // The same pages as the plain-text parser reads from the form feeds.
        let again = rempart_rag::parse_plain(&text);
        let pages2: Vec<_> = again.blocks.iter().map(|b| b.page).collect();
        assert_eq!(pages2, pages);
    }

    #[test]
    fn whitespace_collapses() {
        assert_eq!(collapse_ws("  a \n\t b\x0cc  "), "a b c");
    }
}
