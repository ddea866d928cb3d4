//! The retrieval core of private RAG: structure-aware chunking, a BM25
//! index with language-aware analysis, eligibility evaluated inside the
//! retriever, a seam for dense retrieval, rank fusion and IR metrics.
//!
//! This crate does no network I/O; [`Bm25Index::save`] and
//! [`Bm25Index::load`] read and write one file in a directory the caller
//! chooses. It does not extract text from PDFs or images, embed text,
//! encrypt chunk text or talk to the store: those live with the callers.
//!
//! # Overview
//! [`parse_markdown`] / [`parse_plain`] turn text into a [`Document`] of
//! [`Block`]s; [`chunk`] cuts it into [`Chunk`]s that keep their heading
//! path, pages and source offsets. [`Bm25Index`] indexes chunks with their
//! [`Labels`]; [`Bm25Index::search`] takes the caller's [`Principal`] and
//! checks each candidate while walking the postings, so an ineligible chunk
//! never enters the top k, k admissible hits come back under any filter,
//! and the result counts what was denied. [`DenseIndex`] is the same
//! contract for vectors ([`ExactDenseIndex`] is the exact reference,
//! [`HnswIndex`] the approximate one, filter inside the graph walk);
//! [`rrf`] fuses ranked lists and [`hybrid`] runs both sides and fuses them.
//!
//! ```
//! use rempart_rag::*;
//!
//! let src = "# Congés\n\nLes salariés ont droit à cinq semaines de congés payés.";
//! let chunks = chunk(&parse_markdown(src), ChunkerConfig::default()).unwrap();
//! let mut index = Bm25Index::new(TermKey::new([7; 16]), Bm25Params::default()).unwrap();
//! let hr = Labels::tenant("acme").with_group("hr");
//! for c in &chunks {
//!     let id = format!("doc1#{}", c.index);
//!     let text = c.index_text();
//!     index.add(NewChunk { id: &id, document: "doc1", text: &text, lang: None, labels: &hr }).unwrap();
//! }
//! let q = Query { text: "congé payé", lang: Some(Lang::Fr), k: 5, min_score: 0.0 };
//! let hr_member = Principal::new("acme").with_group("hr");
//! assert_eq!(index.search(&q, &hr_member).hits[0].chunk, "doc1#0");
//! let outsider = Principal::new("acme").with_group("sales");
//! let denied = index.search(&q, &outsider);
//! assert!(denied.hits.is_empty() && denied.refusal.is_some());
//! assert_eq!(denied.denied, 1);
//! ```
#![warn(missing_docs)]

mod analysis;
mod bm25;
mod chunk;
mod dense;
mod document;
mod error;
pub mod eval;
mod fusion;
mod hnsw;
mod labels;
mod persist;

// The public interface is:
pub use analysis::{Analyzer, Lang, fold, guess_lang};
pub use bm25::{
    Bm25Index, Bm25Params, Hit, INDEX_FILE, NewChunk, Query, Refusal, SearchResult, TermKey,
};
pub use chunk::{Chunk, ChunkerConfig, chunk};
pub use dense::{DenseIndex, ExactDenseIndex};
pub use document::{Block, BlockKind, Document, parse_markdown, parse_plain};
pub use error::Error;
pub use fusion::{HybridQuery, HybridResult, RRF_K, hybrid, rrf};
pub use hnsw::{HNSW_FILE, HnswIndex, HnswParams};
pub use labels::{Labels, Principal};
