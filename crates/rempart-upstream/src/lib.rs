//! Clients for upstream model APIs: the OpenAI wire types (once), each
//! provider's quirks, an HTTP client that demands the policy's proof, SSE
//! parsing, and a circuit breaker per deployment.
//!
//! This crate does not decide where a request may go (that is
//! `rempart-policy`) and knows nothing of the gateway's HTTP server.
//!
//! - [`wire`]: `ChatRequest`, `ChatResponse`, `ChatChunk`, embeddings, errors.
//! - [`Kind`]: the closed set of provider kinds; [`providers`] holds one
//!   module per provider with its quirks.
//! - [`Client::chat`] takes `&Admitted` (minted only by
//!   `rempart_policy::decide`) and the deployment's [`Endpoint`].

mod breaker;
mod client;
mod endpoint;
mod error;
mod kind;
pub mod providers;
pub mod wire;

// The public interface is:
pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use client::{ChatReply, ChunkStream, Client, PreparedChat, prepare_chat};
pub use endpoint::Endpoint;
pub use error::UpstreamError;
pub use kind::Kind;
