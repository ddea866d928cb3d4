//! Scaleway Generative APIs (<https://www.scaleway.com/en/docs/generative-apis/>).
//!
//! Quirks: the project id is part of the path (`/{project_id}/v1`, set it in
//! `base_url`; without it the default project is used); OpenAI-platform fields
//! are dropped.

use serde_json::{Map, Value};

/// Provider type name.
pub const PROVIDER_TYPE: &str = "scaleway";
/// Public endpoint (fr-par), default project.
pub const DEFAULT_BASE_URL: &str = "https://api.scaleway.ai/v1";

pub(crate) fn adapt_chat(body: &mut Map<String, Value>) {
    super::drop_openai_platform_fields(body);
}
