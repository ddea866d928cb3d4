//! Embedded local inference: runs a GGUF chat model in-process, on CPU.
//!
//! Blocking API; callers run it on a blocking thread. Without the `embedded`
//! feature every constructor returns [`Error::NotBuilt`].

use std::path::{Path, PathBuf};

/// A chat message for the engine (text only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text content.
    pub content: String,
}

/// Generation parameters.
#[derive(Debug, Clone)]
pub struct GenParams {
    /// Maximum new tokens.
    pub max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    pub temperature: f32,
    /// Nucleus sampling.
    pub top_p: f32,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// RNG seed.
    pub seed: u32,
}

impl Default for GenParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 1.0,
            stop: Vec::new(),
            seed: 42,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End of sequence or stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// The result of a generation.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Generated text.
    pub text: String,
    /// Tokens in the prompt (after the chat template).
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Why it stopped.
    pub finish_reason: FinishReason,
}

/// Engine options.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Context size in tokens.
    pub n_ctx: u32,
    /// CPU threads (0 = all cores).
    pub threads: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            n_ctx: 4096,
            threads: 0,
        }
    }
}

/// Errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The binary was built without the `embedded` feature.
    #[error("the embedded engine is not built in: rebuild with `--features {feature}`")]
    NotBuilt {
        /// The missing cargo feature.
        feature: &'static str,
    },
    /// The model file could not be loaded.
    #[error("cannot load model {path}: {reason}")]
    Load {
        /// Path of the GGUF file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The prompt does not fit the context.
    #[error("prompt of {prompt_tokens} tokens exceeds the context of {n_ctx} tokens")]
    ContextOverflow {
        /// Prompt tokens.
        prompt_tokens: u32,
        /// Context size.
        n_ctx: u32,
    },
    /// Inference failed.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Find the default model: `<data_dir>/models/*.gguf` (first in name order).
pub fn find_default_model(data_dir: &Path) -> Option<PathBuf> {
    let dir = data_dir.join("models");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// A loaded model. Cheap to share behind an `Arc`; `chat` may be called
/// from several threads (calls are serialised internally).
pub struct Engine {
    #[allow(dead_code)]
    path: PathBuf,
}

impl Engine {
    /// Load a GGUF model.
    pub fn load(path: &Path, _opts: EngineOptions) -> Result<Engine, Error> {
        let _ = path;
        Err(Error::NotBuilt {
            feature: "embedded",
        })
    }

    /// Model id reported in responses (file stem).
    pub fn model_id(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Generate a reply with the model's chat template. `on_token` receives
    /// each piece of text as it is produced (valid UTF-8 only, multibyte
    /// characters never split); returning `false` stops generation.
    pub fn chat(
        &self,
        _messages: &[Message],
        _params: &GenParams,
        _on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, Error> {
        Err(Error::NotBuilt {
            feature: "embedded",
        })
    }

    /// Embed texts (mean-pooled, L2-normalised).
    pub fn embed(&self, _texts: &[String]) -> Result<(Vec<Vec<f32>>, u32), Error> {
        Err(Error::NotBuilt {
            feature: "embedded",
        })
    }
}
