//! `erf` and `exp` for f32 written as branch-free polynomials, so the loops
//! over a layer's activations (GELU: ~200k `erf` per text and layer; softmax:
//! l² `exp` per head) vectorise. libm's scalar `erff` / `expf` took a quarter
//! of the forward pass. Both are within a few ulp of the exact functions (see
//! the tests).

/// The error function: Eigen's rational approximation (`generic_fast_erf_float`,
/// the one XLA and TensorFlow use): odd degree-13 over even degree-8
/// polynomial, input clamped to ±4 (beyond which erf is ±1 in f32). Absolute
/// error ≤ 5e-7 against libm's `erff` (4.2e-7 measured: a few ulp near ±1).
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_600_1e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// `e^x` (Cephes `expf`): x = n ln 2 + r with |r| ≤ ln 2 / 2, a degree-6
/// polynomial for e^r, 2^n put into the exponent bits. Inputs are clamped to
/// [-87, 88] (results near 1e-38 and 1.6e38 at the ends: softmax only needs
/// x ≤ 0). Relative error ≤ 2e-7.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Adding 1.5 · 2^23 rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // The integer n sits in t's low mantissa bits (offset by 0x40_0000).
    let n_int = (t.to_bits() as i32) - 0x4B40_0000;
    y * f32::from_bits(((n_int + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_within_5e7_of_libm() {
        let mut worst = 0f32;
        for i in -80_000..=80_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) - libm::erff(x)).abs());
        }
        assert!(worst <= 5e-7, "max abs error {worst}");
        assert!((erf(100.0) - 1.0).abs() <= 5e-7);
        assert_eq!(erf(-100.0), -erf(100.0));
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn exp_is_within_2e7_relative_of_std() {
        let mut worst = 0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = f64::from(x).exp();
            worst = worst.max(((f64::from(exp(x)) - want) / want).abs());
        }
        assert!(worst <= 2e-7, "max relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) >= 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }
}
