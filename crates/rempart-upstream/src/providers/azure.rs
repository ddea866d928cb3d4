//! Azure OpenAI (<https://learn.microsoft.com/azure/ai-services/openai/reference>).
//!
//! Quirks: the deployment is in the path
//! (`/openai/deployments/{deployment}/chat/completions?api-version=…`), the
//! key goes in an `api-key` header (not `Authorization`), and the body's
//! `model` is not used. Azure rejects arguments its `api-version` does not
//! define ("Unrecognized request argument supplied", or "Unknown parameter:
//! 'store'"): the GA `2024-10-21` schema
//! (<https://learn.microsoft.com/azure/ai-services/openai/reference#chat-completions>)
//! has no `store`/`metadata` (stored completions are preview-only), nor
//! `prediction`, `modalities`, `audio` or `web_search_options`.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "azure_openai";
/// API version used when the deployment does not set one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    body.remove("model");
    super::drop_openai_platform_fields(body);
}

/// Path of an operation for a deployment.
pub(crate) fn path(deployment: &str, operation: &str, api_version: &str) -> String {
    format!("/openai/deployments/{deployment}/{operation}?api-version={api_version}")
}
