//! Embedded local inference: runs a GGUF chat model in-process, on CPU.
//!
//! Blocking API; callers run it on a blocking thread. Without the `embedded`
//! feature every constructor returns [`Error::NotBuilt`].
//!
//! With `embedded`, llama.cpp (through the `llama-cpp-2` crate) loads the
//! GGUF file, applies the chat template stored in it, and generates on the
//! CPU. [`Engine`] is `Send + Sync`: share it behind an `Arc`. Calls are
//! serialised on one worker thread that owns the model's context (see the
//! `llama` module docs), so concurrent requests queue rather than run in
//! parallel. No network access: the model comes from the local file only.
//!
//! **Deployment note:** llama.cpp is built with OpenMP, whose worker threads
//! spin while they wait. When the CPU is shared (other requests, other
//! processes) this makes generation 10-30x slower (measured on 2 cores:
//! 0.7 tok/s spinning vs 18-21 tok/s passive under load). Start the process
//! with `OMP_WAIT_POLICY=passive` in its environment; libgomp reads it when
//! it is loaded, before `main`, so it cannot be set from inside the process.
//!
//! **Build note:** `RUSTFLAGS="-C target-cpu=native"` makes llama.cpp build
//! with `GGML_NATIVE`. On this project's 2-core VMs (Intel CPU with AMX)
//! that build segfaults in `ggml_backend_amx_mul_mat` on the first decode
//! (SmolLM2 Q4_1; seen 2026-11-22; upstream: ggml-org/llama.cpp#20824,
//! also hit by stanfordnlp/dspy#10079). Without `target-cpu`, llama.cpp is
//! built for baseline x86-64 (SSE2) and works. A pinned level such as
//! `-C target-cpu=x86-64-v3` (AVX2, no AMX) should be the fast, safe choice
//! but has not been measured yet.

use std::collections::BTreeMap;
pub mod grammar;

/// Prepare the process for the engine. Call first thing in `main`, before
/// any thread exists: llama.cpp's OpenMP threads busy-wait by default, which
/// on a shared or small machine slows generation ~30× (measured 0.7 vs
/// 20 tok/s on 2 cores); `OMP_WAIT_POLICY=passive` makes them sleep. An
/// explicit setting in the environment is kept.
pub fn prepare_process() {
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: called at the start of `main`, before any other thread is
        // spawned, so no thread can read the environment concurrently.
        unsafe {
            std::env::set_var("OMP_WAIT_POLICY", "passive");
        }
    }
}

use std::path::{Path, PathBuf};

#[cfg(feature = "embedded")]
mod llama;
#[cfg_attr(not(feature = "embedded"), allow(dead_code))]
mod text;

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
    /// A GBNF grammar (llama.cpp's format, root rule `root`) the output must
    /// follow, e.g. [`grammar::json_object`] for forced tool calls.
    pub grammar: Option<String>,
}

impl Default for GenParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 1.0,
            stop: Vec::new(),
            seed: 42,
            grammar: None,
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
    /// Context size in tokens (prompt + completion); 0 = the model's
    /// training context. Capped at the training context; llama.cpp may
    /// round it up (to a multiple of 256): [`Engine::context_size`] tells
    /// the size in effect.
    pub n_ctx: u32,
    /// CPU threads (0 = all cores).
    pub threads: u32,
    /// Forward llama.cpp's own log lines to `tracing` (default: dropped).
    /// Process-wide: the first `Engine::load` decides.
    pub llama_logs: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            n_ctx: 4096,
            threads: 0,
            llama_logs: false,
        }
    }
}

/// What the model file says about itself (GGUF `general.*` metadata), for
/// the deployment facts. Every field is as declared by whoever made the
/// file; `None` when the file does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// `general.name`.
    pub name: Option<String>,
    /// `general.basename` (model family, e.g. `smollm2`).
    pub basename: Option<String>,
    /// `general.finetune`.
    pub finetune: Option<String>,
    /// `general.size_label` (e.g. `135M`).
    pub size_label: Option<String>,
    /// `general.organization` (who trained or published it).
    pub organization: Option<String>,
    /// `general.author`.
    pub author: Option<String>,
    /// `general.license` (often an SPDX id, e.g. `apache-2.0`).
    pub license: Option<String>,
    /// `general.license.link`.
    pub license_link: Option<String>,
    /// `general.repo_url`, else `general.url`, else `general.source.url`.
    pub url: Option<String>,
    /// `general.base_model.N.name` (with `.organization` when given).
    pub base_models: Vec<String>,
    /// `general.architecture` (e.g. `llama`).
    pub architecture: Option<String>,
    /// Parameter count, from the weights.
    pub parameters: u64,
    /// Size of the GGUF file in bytes.
    pub file_bytes: u64,
}

impl Provenance {
    /// Build from GGUF `general.*` metadata.
    pub fn from_metadata(
        meta: &BTreeMap<String, String>,
        parameters: u64,
        file_bytes: u64,
    ) -> Self {
        let get = |k: &str| {
            meta.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut base_models = Vec::new();
        for i in 0.. {
            let Some(name) = get(&format!("general.base_model.{i}.name")) else {
                break;
            };
            match get(&format!("general.base_model.{i}.organization")) {
                Some(org) => base_models.push(format!("{org}/{name}")),
                None => base_models.push(name),
            }
        }
        Self {
            name: get("general.name"),
            basename: get("general.basename"),
            finetune: get("general.finetune"),
            size_label: get("general.size_label"),
            organization: get("general.organization"),
            author: get("general.author"),
            license: get("general.license"),
            license_link: get("general.license.link"),
            url: get("general.repo_url")
                .or_else(|| get("general.url"))
                .or_else(|| get("general.source.url")),
            base_models,
            architecture: get("general.architecture"),
            parameters,
            file_bytes,
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

/// A loaded model. `Send + Sync`: share it behind an `Arc`; `chat` and
/// `embed` may be called from several threads. Calls are serialised: one
/// worker thread owns the llama.cpp context and runs one request at a time,
/// in arrival order (others wait). All methods block.
pub struct Engine {
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    path: PathBuf,
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    provenance: Provenance,
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    metadata: BTreeMap<String, String>,
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    context_size: u32,
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    embedding_dims: u32,
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))]
    model_chat_template: bool,
    #[cfg(feature = "embedded")]
    handle: llama::Handle,
}

impl Engine {
    /// Load a GGUF model from a local file. Spawns the worker thread and
    /// allocates the context (`opts.n_ctx` tokens, capped at the model's
    /// training context).
    #[cfg(feature = "embedded")]
    pub fn load(path: &Path, opts: EngineOptions) -> Result<Engine, Error> {
        let loaded = llama::load(path, &opts)?;
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(Engine {
            path: path.to_path_buf(),
            provenance: Provenance::from_metadata(&loaded.metadata, loaded.n_params, file_bytes),
            metadata: loaded.metadata,
            context_size: loaded.context_size,
            embedding_dims: loaded.embedding_dims,
            model_chat_template: loaded.model_chat_template,
            handle: loaded.handle,
        })
    }

    /// Load a GGUF model: without the `embedded` feature, always
    /// [`Error::NotBuilt`].
    #[cfg(not(feature = "embedded"))]
    pub fn load(path: &Path, _opts: EngineOptions) -> Result<Engine, Error> {
        let _ = path;
        Err(Error::NotBuilt {
            feature: "embedded",
        })
    }

    /// Path of the loaded GGUF file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the model file declares about itself.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// All GGUF `general.*` metadata, as strings.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Context size in tokens (prompt + completion).
    pub fn context_size(&self) -> u32 {
        self.context_size
    }

    /// Dimension of the vectors returned by [`Engine::embed`].
    pub fn embedding_dims(&self) -> u32 {
        self.embedding_dims
    }

    /// `true` if prompts use the chat template stored in the GGUF file;
    /// `false` if it had none llama.cpp understands and ChatML is used.
    pub fn uses_model_chat_template(&self) -> bool {
        self.model_chat_template
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
    /// characters never split; never a part of a stop sequence); returning
    /// `false` stops generation (finish reason `Stop`). The pieces
    /// concatenate to `Completion::text`. Greedy when `temperature <= 0`,
    /// else top-p then temperature sampling seeded with `seed`. The
    /// end-of-generation token is not counted in `completion_tokens`.
    pub fn chat(
        &self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, Error> {
        #[cfg(feature = "embedded")]
        return self.handle.chat(messages, params, on_token);
        #[cfg(not(feature = "embedded"))]
        {
            let _ = (messages, params, on_token);
            Err(Error::NotBuilt {
                feature: "embedded",
            })
        }
    }

    /// Embed texts: mean of the model's last hidden states over each text's
    /// tokens, L2-normalised. Returns the vectors (in order) and the total
    /// number of input tokens. Each text must fit in
    /// `min(context_size, 2048)` tokens ([`Error::ContextOverflow`] if not);
    /// an empty text is an error. The first call allocates a second context.
    pub fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u32), Error> {
        #[cfg(feature = "embedded")]
        return self.handle.embed(texts);
        #[cfg(not(feature = "embedded"))]
        {
            let _ = texts;
            Err(Error::NotBuilt {
                feature: "embedded",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_sync() {
        assert_send_sync::<Engine>();
    }

    #[cfg(not(feature = "embedded"))]
    #[test]
    fn load_without_feature_is_not_built() {
        let r = Engine::load(Path::new("/nonexistent.gguf"), EngineOptions::default());
        assert!(matches!(
            r,
            Err(Error::NotBuilt {
                feature: "embedded"
            })
        ));
    }

    #[test]
    fn provenance_from_metadata() {
        let meta: BTreeMap<String, String> = [
            ("general.name", "SmolLM2 135M"),
            ("general.organization", "HuggingFaceTB"),
            ("general.license", "apache-2.0"),
            ("general.base_model.0.name", "SmolLM2 135M"),
            ("general.base_model.0.organization", "HuggingFaceTB"),
            ("general.url", " "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let p = Provenance::from_metadata(&meta, 135, 98);
        assert_eq!(p.name.as_deref(), Some("SmolLM2 135M"));
        assert_eq!(p.organization.as_deref(), Some("HuggingFaceTB"));
        assert_eq!(p.license.as_deref(), Some("apache-2.0"));
        assert_eq!(p.base_models, vec!["HuggingFaceTB/SmolLM2 135M".to_owned()]);
        assert_eq!(p.url, None);
        assert_eq!((p.parameters, p.file_bytes), (135, 98));
    }

    #[test]
    fn default_model_is_first_gguf() {
        let dir = std::env::temp_dir().join(format!("rempart-engine-test-{}", std::process::id()));
        let models = dir.join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("b.gguf"), b"").unwrap();
        std::fs::write(models.join("a.gguf"), b"").unwrap();
        std::fs::write(models.join("PROVENANCE.txt"), b"").unwrap();
        assert_eq!(find_default_model(&dir), Some(models.join("a.gguf")));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(find_default_model(&dir), None);
    }
}
