//! f32 matrix products: the linear layers and attention's two products.
//!
//! All of them go through ndarray's `general_mat_mul`, i.e. the
//! `matrixmultiply` crate's packed GEMM, which picks its SIMD kernel at run
//! time from the CPU's features (AVX-512F, AVX2+FMA, AVX, else SSE2) — so a
//! binary built for the default x86-64 target still uses the wide kernels, and
//! this crate needs no `unsafe`. Each output element is computed by the same
//! sequence of operations whatever the number of rows in the product, so a
//! text's vector does not depend on which other texts it was batched with
//! (the tests check this bit for bit).

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

/// A linear layer `y = x Wᵀ + b`, `W` as PyTorch stores it: `[out, in]`,
/// row-major, f32.
pub(crate) struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    inp: usize,
}

impl Linear {
    pub(crate) fn new(w: Vec<f32>, b: Vec<f32>, out: usize, inp: usize) -> Self {
        assert_eq!(w.len(), out * inp, "weight shape");
        assert_eq!(b.len(), out, "bias shape");
        Self { w, b, out, inp }
    }

    /// Stacks layers that read the same input into one (outputs side by side:
    /// `[a | b | c]`), so one product replaces several.
    pub(crate) fn stack(parts: Vec<Linear>) -> Self {
        let inp = parts[0].inp;
        assert!(parts.iter().all(|p| p.inp == inp), "stacked input widths");
        let out = parts.iter().map(|p| p.out).sum();
        let (mut w, mut b) = (Vec::with_capacity(out * inp), Vec::with_capacity(out));
        for p in parts {
            w.extend(p.w);
            b.extend(p.b);
        }
        Self { w, b, out, inp }
    }

    /// `y[t, :] = b + W x[t, :]` for every row `t` of `x` (`[tokens, in]`);
    /// `y` is `[tokens, out]`.
    pub(crate) fn forward(&self, x: &[f32], y: &mut [f32]) {
        let tokens = x.len() / self.inp;
        assert_eq!(x.len(), tokens * self.inp, "input width");
        assert_eq!(y.len(), tokens * self.out, "output size");
        for row in y.chunks_exact_mut(self.out) {
            row.copy_from_slice(&self.b);
        }
        let xv = ArrayView2::from_shape((tokens, self.inp), x).expect("input view");
        // Wᵀ without a copy: [in, out] with strides (1, in).
        let wt = ArrayView2::from_shape((self.inp, self.out).strides((1, self.inp)), &self.w)
            .expect("weight view");
        let mut yv = ArrayViewMut2::from_shape((tokens, self.out), y).expect("output view");
        general_mat_mul(1.0, &xv, &wt, 1.0, &mut yv);
    }
}

/// A strided `[rows, cols]` matrix inside a flat buffer: element `(r, c)` is
/// at `offset + r * row_stride + c`.
#[derive(Clone, Copy)]
pub(crate) struct Strided {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
}

impl Strided {
    fn len(&self) -> usize {
        (self.rows - 1) * self.row_stride + self.cols
    }
    fn view<'a>(&self, buf: &'a [f32]) -> ArrayView2<'a, f32> {
        let s = &buf[self.offset..self.offset + self.len()];
        ArrayView2::from_shape((self.rows, self.cols).strides((self.row_stride, 1)), s)
            .expect("strided view")
    }
    /// The transpose, `[cols, rows]`, without a copy.
    fn view_t<'a>(&self, buf: &'a [f32]) -> ArrayView2<'a, f32> {
        let s = &buf[self.offset..self.offset + self.len()];
        ArrayView2::from_shape((self.cols, self.rows).strides((1, self.row_stride)), s)
            .expect("transposed view")
    }
    fn view_mut<'a>(&self, buf: &'a mut [f32]) -> ArrayViewMut2<'a, f32> {
        let s = &mut buf[self.offset..self.offset + self.len()];
        ArrayViewMut2::from_shape((self.rows, self.cols).strides((self.row_stride, 1)), s)
            .expect("strided view")
    }
}

/// `c = alpha · a · bᵀ` (`a` `[m, k]`, `b` `[n, k]`, `c` `[m, n]`): attention
/// scores `Q Kᵀ`.
pub(crate) fn matmul_abt(
    alpha: f32,
    a: (&[f32], Strided),
    b: (&[f32], Strided),
    c: (&mut [f32], Strided),
) {
    let (av, bt) = (a.1.view(a.0), b.1.view_t(b.0));
    let mut cv = c.1.view_mut(c.0);
    general_mat_mul(alpha, &av, &bt, 0.0, &mut cv);
}

/// `c = a · b` (`a` `[m, k]`, `b` `[k, n]`, `c` `[m, n]`): attention output
/// `softmax(..) V`.
pub(crate) fn matmul_ab(a: (&[f32], Strided), b: (&[f32], Strided), c: (&mut [f32], Strided)) {
    let (av, bv) = (a.1.view(a.0), b.1.view(b.0));
    let mut cv = c.1.view_mut(c.0);
    general_mat_mul(1.0, &av, &bv, 0.0, &mut cv);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + seed) * 0.37).sin()).collect()
    }

    #[test]
    fn linear_matches_the_naive_product_and_rows_are_independent() {
        let (out, inp) = (70, 96);
        let l = Linear::new(data(out * inp, 1.0), data(out, 2.0), out, inp);
        for tokens in [1usize, 3, 17] {
            let x = data(tokens * inp, 3.0);
            let mut y = vec![0f32; tokens * out];
            l.forward(&x, &mut y);
            for t in 0..tokens {
                for o in 0..out {
                    let want: f32 = l.b[o]
                        + (0..inp)
                            .map(|i| l.w[o * inp + i] * x[t * inp + i])
                            .sum::<f32>();
                    assert!((y[t * out + o] - want).abs() < 1e-4);
                }
                // The same row alone gives the same bits.
                let mut y1 = vec![0f32; out];
                l.forward(&x[t * inp..(t + 1) * inp], &mut y1);
                assert_eq!(y1, y[t * out..(t + 1) * out]);
            }
        }
    }

    #[test]
    fn stacked_layers_concatenate_outputs() {
        let a = Linear::new(data(6, 1.0), data(2, 2.0), 2, 3);
        let b = Linear::new(data(3, 4.0), data(1, 5.0), 1, 3);
        let x = data(6, 6.0);
        let (mut ya, mut yb) = (vec![0f32; 4], vec![0f32; 2]);
        a.forward(&x, &mut ya);
        b.forward(&x, &mut yb);
        let s = Linear::stack(vec![a, b]);
        assert_eq!(s.out, 3);
        let mut y = vec![0f32; 6];
        s.forward(&x, &mut y);
        for t in 0..2 {
            assert!((y[t * 3] - ya[t * 2]).abs() < 1e-6);
            assert!((y[t * 3 + 1] - ya[t * 2 + 1]).abs() < 1e-6);
            assert!((y[t * 3 + 2] - yb[t]).abs() < 1e-6);
        }
    }

    #[test]
    fn strided_products() {
        // Two 3×2 heads interleaved in rows of 5 (one spare column).
        let buf = data(3 * 5, 7.0);
        let head = |h: usize| Strided {
            offset: h * 2,
            rows: 3,
            cols: 2,
            row_stride: 5,
        };
        let at = |h: usize, r: usize, c: usize| buf[h * 2 + r * 5 + c];
        let mut s = vec![0f32; 9];
        let sq = Strided {
            offset: 0,
            rows: 3,
            cols: 3,
            row_stride: 3,
        };
        matmul_abt(0.5, (&buf, head(0)), (&buf, head(1)), (&mut s, sq));
        for i in 0..3 {
            for j in 0..3 {
                let want = 0.5 * (at(0, i, 0) * at(1, j, 0) + at(0, i, 1) * at(1, j, 1));
                assert!((s[i * 3 + j] - want).abs() < 1e-6);
            }
        }
        let mut c = vec![9f32; 3 * 5];
        matmul_ab((&s, sq), (&buf, head(1)), (&mut c, head(0)));
        for i in 0..3 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|k| s[i * 3 + k] * at(1, k, j)).sum();
                assert!((c[i * 5 + j] - want).abs() < 1e-5);
            }
            // Columns outside the head are untouched.
            assert_eq!(c[i * 5 + 2..i * 5 + 5], [9.0, 9.0, 9.0]);
        }
    }
}
