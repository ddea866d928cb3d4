//! Azure OpenAI (<https://learn.microsoft.com/azure/ai-services/openai/reference>).
//!
//! Quirks: the deployment is in the path
//! (`/openai/deployments/{deployment}/chat/completions?api-version=…`), the
//! key goes in an `api-key` header (not `Authorization`), and the body's
//! `model` is not used.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "azure_openai";
/// API version used when the deployment does not set one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    body.remove("model");
}

/// Path of an operation for a deployment.
pub(crate) fn path(deployment: &str, operation: &str, api_version: &str) -> String {
    format!("/openai/deployments/{deployment}/{operation}?api-version={api_version}")
}
