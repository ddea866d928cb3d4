//! Structure-aware chunking: sections end at headings, paragraphs are
//! packed up to a character budget with a small sentence overlap, table rows
//! are never split, and every chunk keeps its heading path and its page and
//! source offsets.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::document::{BlockKind, Document};
use crate::error::Error;

/// Chunker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerConfig {
    /// Target maximum characters of chunk text (Unicode scalar values).
    /// A single table row longer than this becomes its own, oversized chunk.
    pub max_chars: usize,
    /// At most this many characters of trailing sentences of a chunk are
    /// repeated at the start of the next chunk of the same section.
    pub overlap_chars: usize,
}

impl Default for ChunkerConfig {
    fn default() -> Self {
        ChunkerConfig {
            max_chars: 1200,
            overlap_chars: 200,
        }
    }
}

/// One chunk with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0-based position in the document.
    pub index: usize,
    /// Texts of the enclosing headings, outermost first.
    pub heading_path: Vec<String>,
    /// The header row of the table, when the chunk starts inside a table
    /// whose header is in an earlier chunk.
    pub table_header: Option<String>,
    /// The chunk text.
    pub text: String,
    /// First page the chunk touches.
    pub page_start: u32,
    /// Last page the chunk touches.
    pub page_end: u32,
    /// Start byte offset in the source text.
    pub start: usize,
    /// End byte offset (exclusive) in the source text.
    pub end: usize,
    /// Longer than `max_chars` (an unsplittable table row).
    pub oversized: bool,
}

impl Chunk {
    /// The heading path as one line, `"A > B > C"`.
    pub fn context(&self) -> String {
        self.heading_path.join(" > ")
    }

    /// What to index or embed: heading path, table header, then the text.
    pub fn index_text(&self) -> String {
        let mut s = self.context();
        if let Some(h) = &self.table_header {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(h);
        }
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.text);
        s
    }
}

#[derive(Debug, Clone)]
struct Unit<'a> {
    text: &'a str,
    chars: usize,
    block: usize,
    start: usize,
    end: usize,
    page: u32,
    row_of: Option<u32>,
}

fn units_of<'a>(doc: &'a Document, i: usize, max: usize, out: &mut Vec<Unit<'a>>) {
    let b = &doc.blocks[i];
    let mk = |s: usize, e: usize| {
        let text = &b.text[s..e];
        let lead = text.len() - text.trim_start().len();
        let text = text.trim();
        let s = s + lead;
        let e = s + text.len();
        let (start, end) = if b.verbatim {
            (b.start + s, b.start + e)
        } else {
            (b.start, b.end)
        };
        Unit {
            text,
            chars: text.chars().count(),
            block: i,
            start,
            end,
            page: b.page,
            row_of: None,
        }
    };
    if let BlockKind::TableRow { table, .. } = b.kind {
        let mut u = mk(0, b.text.len());
        u.row_of = Some(table);
        out.push(u);
        return;
    }
    let pieces: Vec<(usize, &str)> = if b.kind == BlockKind::Code {
        b.text
            .split_inclusive('\n')
            .scan(0, |o, l| {
                let r = (*o, l);
                *o += l.len();
                Some(r)
            })
            .collect()
    } else {
        b.text.split_sentence_bound_indices().collect()
    };
    for (off, s) in pieces {
        if s.chars().count() <= max {
            let u = mk(off, off + s.len());
            if !u.text.is_empty() {
                out.push(u);
            }
            continue;
        }
        // A sentence longer than the budget: cut at word boundaries.
        let mut piece_start = off;
        let mut chars = 0usize;
        for (woff, w) in s.split_word_bound_indices() {
            let wc = w.chars().count();
            if chars + wc > max && chars > 0 {
                let u = mk(piece_start, off + woff);
                if !u.text.is_empty() {
                    out.push(u);
                }
                piece_start = off + woff;
                chars = 0;
            }
            chars += wc;
        }
        let u = mk(piece_start, off + s.len());
        if !u.text.is_empty() {
            out.push(u);
        }
    }
}

/// Splits a document into chunks.
pub fn chunk(doc: &Document, cfg: ChunkerConfig) -> Result<Vec<Chunk>, Error> {
    if cfg.max_chars == 0 {
        return Err(Error::InvalidParam {
            name: "max_chars",
            reason: "must be > 0".into(),
        });
    }
    if cfg.overlap_chars >= cfg.max_chars {
        return Err(Error::InvalidParam {
            name: "overlap_chars",
            reason: format!("must be < max_chars ({})", cfg.max_chars),
        });
    }
    let mut out = Vec::new();
    let mut headings: Vec<(u8, String)> = Vec::new();
    let mut section: Vec<Unit<'_>> = Vec::new();
    let mut table_headers: Vec<Option<String>> = Vec::new();

    let flush = |section: &mut Vec<Unit<'_>>,
                 headings: &[(u8, String)],
                 table_headers: &[Option<String>],
                 out: &mut Vec<Chunk>| {
        pack(section, headings, table_headers, doc, cfg, out);
        section.clear();
    };

    for (i, b) in doc.blocks.iter().enumerate() {
        match b.kind {
            BlockKind::Heading { level } => {
                flush(&mut section, &headings, &table_headers, &mut out);
                headings.retain(|(l, _)| *l < level);
                headings.push((level, b.text.clone()));
            }
            BlockKind::TableRow { table, header } => {
                let t = table as usize;
                if table_headers.len() <= t {
                    table_headers.resize(t + 1, None);
                }
                if header {
                    table_headers[t] = Some(b.text.clone());
                }
                units_of(doc, i, cfg.max_chars, &mut section);
            }
            _ => units_of(doc, i, cfg.max_chars, &mut section),
        }
    }
    flush(&mut section, &headings, &table_headers, &mut out);
    Ok(out)
}

fn pack(
    units: &[Unit<'_>],
    headings: &[(u8, String)],
    table_headers: &[Option<String>],
    doc: &Document,
    cfg: ChunkerConfig,
    out: &mut Vec<Chunk>,
) {
    let sep = |a: &Unit<'_>, b: &Unit<'_>| -> &'static str {
        if a.block == b.block {
            " "
        } else if (a.row_of.is_some() && a.row_of == b.row_of)
            || (matches!(doc.blocks[a.block].kind, BlockKind::ListItem)
                && matches!(doc.blocks[b.block].kind, BlockKind::ListItem))
        {
            "\n"
        } else {
            "\n\n"
        }
    };
    let size = |us: &[usize]| -> usize {
        us.iter().map(|&i| units[i].chars).sum::<usize>() + 2 * us.len().saturating_sub(1)
    };
    let emit = |us: &[usize], out: &mut Vec<Chunk>| {
        let mut text = String::new();
        for (n, &i) in us.iter().enumerate() {
            if n > 0 {
                text.push_str(sep(&units[us[n - 1]], &units[i]));
            }
            text.push_str(units[i].text);
        }
        let first = &units[us[0]];
        let table_header = match (first.row_of, &doc.blocks[first.block].kind) {
            (Some(t), BlockKind::TableRow { header: false, .. }) => {
                table_headers.get(t as usize).cloned().flatten()
            }
            _ => None,
        };
        out.push(Chunk {
            index: out.len(),
            heading_path: headings.iter().map(|(_, h)| h.clone()).collect(),
            table_header,
            oversized: text.chars().count() > cfg.max_chars,
            text,
            page_start: us.iter().map(|&i| units[i].page).min().unwrap_or(1),
            page_end: us.iter().map(|&i| units[i].page).max().unwrap_or(1),
            start: us.iter().map(|&i| units[i].start).min().unwrap_or(0),
            end: us.iter().map(|&i| units[i].end).max().unwrap_or(0),
        });
    };

    let mut cur: Vec<usize> = Vec::new();
    // How many leading units of `cur` are overlap from the previous chunk.
    let mut carried = 0usize;
    for i in 0..units.len() {
        let mut next = cur.clone();
        next.push(i);
        if cur.len() > carried && size(&next) > cfg.max_chars {
            emit(&cur, out);
            // Overlap: trailing sentences (not table rows) within budget,
            // never the whole previous chunk.
            let mut tail: Vec<usize> = Vec::new();
            for &j in cur.iter().rev().take(cur.len() - 1) {
                if units[j].row_of.is_some() {
                    break;
                }
                let mut t = vec![j];
                t.extend(&tail);
                if size(&t) > cfg.overlap_chars {
                    break;
                }
                tail = t;
            }
            let mut with = tail.clone();
            with.push(i);
            if size(&with) > cfg.max_chars {
                tail.clear();
            }
            carried = tail.len();
            cur = tail;
        }
        cur.push(i);
    }
    if cur.len() > carried {
        emit(&cur, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{parse_markdown, parse_plain};

    #[test]
    fn chunks_follow_headings_and_keep_their_path() {
        let src = "# Guide\n\nIntro text.\n\n## Setup\n\nInstall it.\n\n### Linux\n\nUse apt.\n\n## Usage\n\nRun it.\n";
        let chunks = chunk(&parse_markdown(src), ChunkerConfig::default()).unwrap();
        let got: Vec<_> = chunks
            .iter()
            .map(|c| (c.context(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Guide".to_owned(), "Intro text."),
                ("Guide > Setup".to_owned(), "Install it."),
                ("Guide > Setup > Linux".to_owned(), "Use apt."),
                ("Guide > Usage".to_owned(), "Run it."),
            ]
        );
        assert_eq!(&src[chunks[2].start..chunks[2].end], "Use apt.\n");
        assert_eq!(chunks[3].index_text(), "Guide > Usage\nRun it.");
    }

    #[test]
    fn packs_paragraphs_with_overlap_and_exact_offsets() {
        let para = |n: usize| format!("Sentence {n} is here. Another one {n} follows.");
        let src: String = (0..6).map(para).collect::<Vec<_>>().join("\n\n");
        let cfg = ChunkerConfig {
            max_chars: 100,
            overlap_chars: 30,
        };
        let chunks = chunk(&parse_plain(&src), cfg).unwrap();
        assert!(chunks.len() >= 3, "{chunks:#?}");
        for c in &chunks {
            assert!(c.text.chars().count() <= 100);
            // Offsets are exact for plain text: the source range starts with
            // the chunk's first sentence and ends with its last.
            let range = &src[c.start..c.end];
            assert!(range.starts_with(c.text.split(['\n', '.']).next().unwrap()));
            assert!(
                range.ends_with(
                    c.text
                        .rsplit("\n\n")
                        .next()
                        .unwrap()
                        .rsplit(". ")
                        .next()
                        .unwrap()
                )
            );
        }
        // Consecutive chunks overlap by a trailing sentence.
        for w in chunks.windows(2) {
            let last_sentence = w[0]
                .text
                .rsplit("\n\n")
                .next()
                .unwrap()
                .rsplit(". ")
                .next()
                .unwrap();
            assert!(w[1].text.starts_with(last_sentence), "{w:#?}");
            assert!(w[1].start < w[0].end);
        }
        // Every sentence appears in some chunk.
        for n in 0..6 {
            assert!(
                chunks
                    .iter()
                    .any(|c| c.text.contains(&format!("Another one {n} follows.")))
            );
        }
    }

    #[test]
    fn never_splits_a_table_row_and_repeats_the_header() {
        let mut src = String::from("# Prices\n\n| item | price |\n|---|---|\n");
        for n in 0..30 {
            src.push_str(&format!("| item number {n} | {n}.00 EUR |\n"));
        }
        src.push_str(&format!("| {} | 1 |\n", "x".repeat(150)));
        let cfg = ChunkerConfig {
            max_chars: 120,
            overlap_chars: 20,
        };
        let chunks = chunk(&parse_markdown(&src), cfg).unwrap();
        assert!(chunks.len() > 3);
        for c in &chunks {
            for line in c.text.lines() {
                assert!(
                    line == "item | price"
                        || line.starts_with("item number")
                        || line.starts_with("xxx"),
                    "{line:?}"
                );
                if line.starts_with("item number") {
                    assert!(line.ends_with(" EUR"), "row split: {line:?}");
                }
            }
            assert_eq!(c.heading_path, ["Prices"]);
        }
        assert!(
            chunks[1..]
                .iter()
                .all(|c| c.table_header.as_deref() == Some("item | price"))
        );
        let big = chunks.last().unwrap();
        assert!(big.oversized && big.text.starts_with("xxx"));
        // All 30 rows appear exactly once (no overlap across table rows).
        for n in 0..30 {
            let row = format!("item number {n} | {n}.00 EUR");
            assert_eq!(
                chunks
                    .iter()
                    .filter(|c| c.text.lines().any(|l| l == row))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn pages_are_tracked() {
        let src = "Page one text.\x0cPage two text.\n\nStill two.";
        let chunks = chunk(&parse_plain(src), ChunkerConfig::default()).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].page_start, chunks[0].page_end), (1, 2));
        let cfg = ChunkerConfig {
            max_chars: 20,
            overlap_chars: 0,
        };
        let chunks = chunk(&parse_plain(src), cfg).unwrap();
        let pages: Vec<_> = chunks.iter().map(|c| c.page_start).collect();
        assert_eq!(pages, [1, 2, 2]);
    }

    #[test]
    fn long_sentence_is_cut_at_words() {
        let src = "word ".repeat(100);
        let cfg = ChunkerConfig {
            max_chars: 50,
            overlap_chars: 0,
        };
        let chunks = chunk(&parse_plain(&src), cfg).unwrap();
        assert!(chunks.len() >= 10);
        assert!(
            chunks
                .iter()
                .all(|c| c.text.chars().count() <= 50 && !c.text.contains("wo rd"))
        );
        assert_eq!(
            chunks
                .iter()
                .map(|c| c.text.matches("word").count())
                .sum::<usize>(),
            100
        );
    }

    #[test]
    fn rejects_bad_config() {
        let d = parse_plain("x");
        assert!(
            chunk(
                &d,
                ChunkerConfig {
                    max_chars: 0,
                    overlap_chars: 0
                }
            )
            .is_err()
        );
        assert!(
            chunk(
                &d,
                ChunkerConfig {
                    max_chars: 10,
                    overlap_chars: 10
                }
            )
            .is_err()
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn word() -> impl Strategy<Value = String> {
            "[a-zé]{1,12}"
        }

        fn sentence() -> impl Strategy<Value = String> {
            prop::collection::vec(word(), 1..30).prop_map(|w| format!("{}.", w.join(" ")))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(100))]

            #[test]
            fn plain_text_invariants(
                paras in prop::collection::vec(prop::collection::vec(sentence(), 1..6), 1..12),
                max in 40..400usize,
                overlap_pct in 0..50usize,
            ) {
                let src: String = paras.iter().map(|p| p.join(" ")).collect::<Vec<_>>().join("\n\n");
                let cfg = ChunkerConfig { max_chars: max, overlap_chars: max * overlap_pct / 100 };
                let chunks = chunk(&parse_plain(&src), cfg).unwrap();
                let words_in = |t: &str| t.split_whitespace().count();
                // Nothing is lost: every word of the source is covered by
                // the union of chunk ranges, and chunk text lies in its range.
                let mut covered = vec![false; src.len()];
                for c in &chunks {
                    prop_assert!(c.start <= c.end && c.end <= src.len());
                    // Words are at most 12 chars, so nothing is oversized.
                    prop_assert!(!c.oversized && c.text.chars().count() <= max);
                    for w in c.text.split_whitespace() {
                        prop_assert!(src[c.start..c.end].contains(w));
                    }
                    covered[c.start..c.end].iter_mut().for_each(|x| *x = true);
                }
                for (i, ch) in src.char_indices() {
                    prop_assert!(ch.is_whitespace() || covered[i], "byte {i} not covered");
                }
                let total: usize = chunks.iter().map(|c| words_in(&c.text)).sum();
                prop_assert!(total >= words_in(&src));
                for (n, c) in chunks.iter().enumerate() {
                    prop_assert_eq!(c.index, n);
                }
            }

            #[test]
            fn table_rows_are_never_split(
                rows in prop::collection::vec(prop::collection::vec(word(), 2..5), 1..40),
                max in 20..200usize,
            ) {
                let mut src = String::from("# T\n\n| h1 | h2 |\n|---|---|\n");
                for r in &rows {
                    src.push_str(&format!("| {} | {} |\n", r.join(" "), r.len()));
                }
                let cfg = ChunkerConfig { max_chars: max, overlap_chars: max / 10 };
                let chunks = chunk(&parse_markdown(&src), cfg).unwrap();
                let lines: Vec<&str> = chunks.iter().flat_map(|c| c.text.lines()).collect();
                for r in &rows {
                    let row = format!("{} | {}", r.join(" "), r.len());
                    prop_assert!(lines.contains(&row.as_str()), "row {row:?} split or lost");
                }
                prop_assert_eq!(lines.len(), rows.len() + 1);
            }
        }
    }
}
