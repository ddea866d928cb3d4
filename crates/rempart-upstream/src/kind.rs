//! Upstream kinds and their wire quirks. Closed enum, matched exhaustively:
//! adding a provider means the compiler shows every place to decide.
//!
//! Facts (operator, country, retention) never come from the kind: they are
//! declared per deployment in the catalogue.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::providers::{azure, llamacpp, mistral, ollama, ovh, scaleway, tgi, vllm};

/// The kinds of upstream Rempart speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Mistral La Plateforme (`api.mistral.ai`).
    Mistral,
    /// OVHcloud AI Endpoints.
    Ovh,
    /// Scaleway Generative APIs.
    Scaleway,
    /// vLLM's OpenAI-compatible server.
    Vllm,
    /// llama.cpp's `llama-server`.
    LlamaCpp,
    /// Hugging Face Text Generation Inference, Messages API.
    Tgi,
    /// Ollama's OpenAI-compatible API.
    Ollama,
    /// Azure OpenAI (deployment paths, `api-version`, `api-key`).
    AzureOpenai,
    /// Any other OpenAI-compatible server.
    OpenaiCompat,
    /// Rempart's embedded engine (in-process, no HTTP).
    Embedded,
}

impl Kind {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mistral => "mistral",
            Kind::Ovh => "ovh",
            Kind::Scaleway => "scaleway",
            Kind::Vllm => "vllm",
            Kind::LlamaCpp => "llama_cpp",
            Kind::Tgi => "tgi",
            Kind::Ollama => "ollama",
            Kind::AzureOpenai => "azure_openai",
            Kind::OpenaiCompat => "openai_compat",
            Kind::Embedded => "embedded",
        }
    }

    /// The provider's public base URL, when it has one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Kind::Mistral => Some(mistral::DEFAULT_BASE_URL),
            Kind::Ovh => Some(ovh::DEFAULT_BASE_URL),
            Kind::Scaleway => Some(scaleway::DEFAULT_BASE_URL),
            Kind::Vllm
            | Kind::LlamaCpp
            | Kind::Tgi
            | Kind::Ollama
            | Kind::AzureOpenai
            | Kind::OpenaiCompat
            | Kind::Embedded => None,
        }
    }

    /// Whether the kind needs an API key.
    pub fn requires_api_key(self) -> bool {
        match self {
            Kind::Mistral | Kind::Ovh | Kind::Scaleway | Kind::AzureOpenai => true,
            Kind::Vllm
            | Kind::LlamaCpp
            | Kind::Tgi
            | Kind::Ollama
            | Kind::OpenaiCompat
            | Kind::Embedded => false,
        }
    }

    /// Whether the kind accepts a reasoning budget (`reasoning_effort`) by
    /// default; a deployment may override it (it depends on the model).
    pub fn supports_reasoning(self) -> bool {
        match self {
            Kind::AzureOpenai | Kind::Ollama | Kind::Vllm | Kind::OpenaiCompat => true,
            Kind::Mistral
            | Kind::Ovh
            | Kind::Scaleway
            | Kind::LlamaCpp
            | Kind::Tgi
            | Kind::Embedded => false,
        }
    }

    /// Path of the active health probe, relative to the server root, for
    /// self-hosted engines; managed APIs are watched passively.
    pub fn health_path(self) -> Option<&'static str> {
        match self {
            Kind::Vllm | Kind::LlamaCpp | Kind::Tgi => Some("/health"),
            Kind::Ollama => Some("/api/tags"),
            Kind::Mistral
            | Kind::Ovh
            | Kind::Scaleway
            | Kind::AzureOpenai
            | Kind::OpenaiCompat
            | Kind::Embedded => None,
        }
    }

    /// Adapt an OpenAI chat body to the provider: field renames, fields it
    /// rejects, model naming. Pushes a warning for every dropped option the
    /// client would care about.
    pub fn adapt_chat(
        self,
        body: &mut Map<String, Value>,
        stream: bool,
        warnings: &mut Vec<String>,
    ) {
        // vLLM, TGI and others reject `stream_options` without `stream`.
        if !stream {
            body.remove("stream_options");
        }
        match self {
            Kind::Mistral => mistral::adapt_chat(body, warnings),
            Kind::Ovh => ovh::adapt_chat(body),
            Kind::Scaleway => scaleway::adapt_chat(body),
            Kind::Vllm => vllm::adapt_chat(body),
            Kind::LlamaCpp => llamacpp::adapt_chat(body, warnings),
            Kind::Tgi => tgi::adapt_chat(body),
            Kind::Ollama => ollama::adapt_chat(body),
            Kind::AzureOpenai => azure::adapt_chat(body),
            Kind::OpenaiCompat | Kind::Embedded => {}
        }
    }

    /// Adapt an embeddings body.
    pub fn adapt_embeddings(self, body: &mut Map<String, Value>) {
        match self {
            Kind::AzureOpenai => {
                body.remove("model");
            }
            Kind::Mistral => {
                // Mistral names the output encoding differently and rejects `user`.
                body.remove("user");
                if let Some(f) = body.remove("encoding_format")
                    && f != "float"
                {
                    body.insert("encoding_format".into(), f);
                }
            }
            Kind::Ovh
            | Kind::Scaleway
            | Kind::Vllm
            | Kind::LlamaCpp
            | Kind::Tgi
            | Kind::Ollama
            | Kind::OpenaiCompat
            | Kind::Embedded => {}
        }
    }
}
