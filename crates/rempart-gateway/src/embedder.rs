//! The local embedding model of dense retrieval: multilingual-e5-small
//! (`rempart-embed`), in-process, so chunk text and queries never leave the
//! gateway to be embedded. Embedding is CPU work: it runs on the blocking
//! pool, never on the request executor.

use std::path::Path;
use std::sync::Arc;

use rempart_embed::{E5Model, InputKind};
use sha2::{Digest, Sha256};

/// A loaded model and its identity.
pub struct Embedder {
    model: Arc<E5Model>,
    tag: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.tag)
            .finish()
    }
}

/// Why the model could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The file could not be read or is not a model.
    #[error("embedding model {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The blocking task died (a panic in the model).
    #[error("the embedding task failed")]
    Task,
}

impl Embedder {
    /// Load and validate the model file, embedding with `threads` threads.
    /// Its tag (`multilingual-e5-small-q4@` and the first 12 hex digits of
    /// the file's SHA-256) is stored with every vector, so vectors of
    /// another model file are recognised and recomputed, never mixed.
    pub fn load(path: &Path, threads: usize) -> Result<Embedder, EmbedError> {
        let err = |message: String| EmbedError::Load {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let model = E5Model::from_bytes(&bytes, path)
            .map_err(|e| err(e.to_string()))?
            .with_threads(threads);
        let digest = Sha256::digest(&bytes);
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Embedder {
            model: Arc::new(model),
            tag: format!("multilingual-e5-small-q4@{hex}"),
        })
    }

    /// The model's identity, stored with its vectors.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The vector dimension.
    pub fn dim(&self) -> usize {
        self.model.dim()
    }

    /// Embed passages (chunk text), in order.
    pub async fn passages(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.run(texts, InputKind::Passage).await
    }

    /// Embed a query.
    pub async fn query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.run(vec![text.to_owned()], InputKind::Query).await?;
        v.pop().ok_or(EmbedError::Task)
    }

    async fn run(&self, texts: Vec<String>, kind: InputKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.embed(&refs, kind)
        })
        .await
        .map_err(|_| EmbedError::Task)
    }
}
