//! A resolved, ready-to-call deployment endpoint.

use std::fmt;
use std::time::Duration;

use rempart_policy::DeploymentId;
use secrecy::SecretString;

use crate::kind::Kind;
use crate::providers::azure;

/// Everything needed to call one deployment. Built by the gateway from the
/// validated configuration, with secrets resolved.
#[derive(Clone)]
pub struct Endpoint {
    /// The deployment.
    pub id: DeploymentId,
    /// Its kind.
    pub kind: Kind,
    /// Base URL including the API prefix (e.g. `https://api.mistral.ai/v1`;
    /// for Azure the resource root `https://NAME.openai.azure.com`).
    pub base_url: String,
    /// Model name sent upstream (Azure: the deployment name).
    pub model: String,
    /// Azure `api-version`.
    pub api_version: Option<String>,
    /// API key, if any.
    pub api_key: Option<SecretString>,
    /// Whether `reasoning_effort` is forwarded.
    pub reasoning: bool,
    /// Time allowed until response headers arrive.
    pub timeout: Duration,
    /// Time allowed between two stream chunks.
    pub stream_idle_timeout: Duration,
}

impl Endpoint {
    fn root(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// URL of the chat completions operation.
    pub fn chat_url(&self) -> String {
        self.operation_url("chat/completions")
    }

    /// URL of the embeddings operation.
    pub fn embeddings_url(&self) -> String {
        self.operation_url("embeddings")
    }

    fn operation_url(&self, op: &str) -> String {
        match self.kind {
            Kind::AzureOpenai => {
                let v = self
                    .api_version
                    .as_deref()
                    .unwrap_or(azure::DEFAULT_API_VERSION);
                format!("{}{}", self.root(), azure::path(&self.model, op, v))
            }
            Kind::Mistral
            | Kind::Ovh
            | Kind::Scaleway
            | Kind::Vllm
            | Kind::LlamaCpp
            | Kind::Tgi
            | Kind::Ollama
            | Kind::OpenaiCompat
            | Kind::Embedded => format!("{}/{op}", self.root()),
        }
    }

    /// URL of the active health probe, if the kind has one. Probes go to the
    /// server root (the base URL without its `/v1` suffix).
    pub fn health_url(&self) -> Option<String> {
        let path = self.kind.health_path()?;
        let root = self.root();
        let root = root.strip_suffix("/v1").unwrap_or(root);
        Some(format!("{root}{path}"))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<secret>"))
            .finish_non_exhaustive()
    }
}
