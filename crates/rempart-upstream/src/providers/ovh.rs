//! OVHcloud AI Endpoints (<https://endpoints.ai.cloud.ovh.net>), an
//! OpenAI-compatible API served from OVHcloud's French data centres.
//!
//! Quirks: only `max_tokens` (not `max_completion_tokens`); OpenAI-platform
//! fields (`store`, `metadata`, ...) rejected.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "ovh";
/// Public endpoint.
pub const DEFAULT_BASE_URL: &str = "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    super::completion_tokens_to_max_tokens(body);
    super::drop_openai_platform_fields(body);
}
