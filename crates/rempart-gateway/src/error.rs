//! The one mapping from failures to the wire: status code plus the OpenAI
//! error shape `{"error": {"message", "type", "code", "param"}}`.
//!
//! Messages name models, deployments, fields and reasons — never prompt
//! text, detected values or secrets.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rempart_policy::Rejected;
use rempart_upstream::UpstreamError;
use rempart_upstream::wire::{ErrorBody, ErrorDetail};

/// A failed request, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the body or a parameter is wrong.
    BadRequest {
        /// What is wrong (no values).
        message: String,
        /// Offending parameter path.
        param: Option<String>,
    },
    /// 401: missing or unknown API key.
    Unauthorized,
    /// 404: a named resource (a data subject...) does not exist or is gone.
    Missing {
        /// What is missing (no personal data).
        what: String,
    },
    /// 404: no such model alias.
    ModelNotFound {
        /// The alias asked for.
        model: String,
    },
    /// 404: unknown route.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 413: body over the limit.
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 403: every candidate is rejected by the tenant's policy.
    PolicyRefusal {
        /// The alias.
        model: String,
        /// The tenant.
        tenant: String,
        /// Every rejected candidate with its reasons.
        rejected: Vec<Rejected>,
    },
    /// 403: PII inspection failed or exceeded its budget (fail-closed).
    PiiRefusal {
        /// Why.
        reason: String,
    },
    /// 422: the request names collections and no admissible chunk (for the
    /// caller's groups and purpose) matched: refused rather than guessed.
    NoEvidence {
        /// The collections searched.
        collections: Vec<String>,
        /// Candidates eligibility denied.
        denied: usize,
    },
    /// 503: admitted candidates exist but none is healthy.
    NoneHealthy {
        /// The alias.
        model: String,
        /// The unavailable deployments.
        unavailable: Vec<String>,
    },
    /// 502/504: every admitted deployment failed.
    Upstream {
        /// Failures in the order tried.
        failures: Vec<UpstreamError>,
    },
    /// 504: no answer within `server.request_timeout_secs`.
    RequestTimeout {
        /// The limit, seconds.
        secs: u64,
    },
    /// 500.
    Internal {
        /// What failed (no content).
        what: String,
    },
}

impl ApiError {
    /// Status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::ModelNotFound { .. } | ApiError::NotFound | ApiError::Missing { .. } => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PolicyRefusal { .. } | ApiError::PiiRefusal { .. } => StatusCode::FORBIDDEN,
            ApiError::NoEvidence { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NoneHealthy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream { failures } => {
                let all_timeouts = !failures.is_empty()
                    && failures
                        .iter()
                        .all(|f| matches!(f, UpstreamError::Timeout { .. }));
                let client_error = failures.last().is_some_and(|f| !f.is_retryable());
                if all_timeouts {
                    StatusCode::GATEWAY_TIMEOUT
                } else if client_error {
                    match failures.last() {
                        Some(UpstreamError::Status { status, .. }) => {
                            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
                        }
                        _ => StatusCode::BAD_GATEWAY,
                    }
                } else {
                    StatusCode::BAD_GATEWAY
                }
            }
            ApiError::RequestTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Machine code (`policy_refusal`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "invalid_request",
            ApiError::Unauthorized => "invalid_api_key",
            ApiError::ModelNotFound { .. } => "model_not_found",
            ApiError::NotFound | ApiError::Missing { .. } => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::PolicyRefusal { .. } => "policy_refusal",
            ApiError::PiiRefusal { .. } => "pii_inspection_failed",
            ApiError::NoEvidence { .. } => "no_admissible_evidence",
            ApiError::NoneHealthy { .. } => "no_healthy_deployment",
            ApiError::Upstream { .. } => "upstream_error",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::Internal { .. } => "internal_error",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. }
            | ApiError::PayloadTooLarge { .. }
            | ApiError::ModelNotFound { .. }
            | ApiError::NoEvidence { .. } => "invalid_request_error",
            ApiError::NotFound | ApiError::Missing { .. } | ApiError::MethodNotAllowed => {
                "invalid_request_error"
            }
            ApiError::Unauthorized => "authentication_error",
            ApiError::PolicyRefusal { .. } | ApiError::PiiRefusal { .. } => "permission_error",
            ApiError::NoneHealthy { .. }
            | ApiError::Upstream { .. }
            | ApiError::RequestTimeout { .. }
            | ApiError::Internal { .. } => "api_error",
        }
    }

    /// Human-readable message.
    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest { message, .. } => message.clone(),
            ApiError::Unauthorized => {
                "missing or invalid API key: send `Authorization: Bearer rk_…` (create one with `rempart keys create --tenant T`)".into()
            }
            ApiError::ModelNotFound { model } => {
                format!("model `{model}` does not exist; GET /v1/models lists the aliases you can use")
            }
            ApiError::NotFound => "no such route".into(),
            ApiError::Missing { what } => what.clone(),
            ApiError::MethodNotAllowed => {
                "method not allowed on this route; the `Allow` header lists the allowed ones".into()
            }
            ApiError::PayloadTooLarge { limit } => format!("request body exceeds {limit} bytes"),
            ApiError::PolicyRefusal { model, tenant, rejected } => {
                let why: Vec<String> = rejected
                    .iter()
                    .map(|r| {
                        let reasons: Vec<String> = r.reasons.iter().map(ToString::to_string).collect();
                        format!("{} ({})", r.id, reasons.join("; "))
                    })
                    .collect();
                format!(
                    "no deployment for model `{model}` is admitted by tenant `{tenant}`'s jurisdiction policy; nothing was sent upstream. Rejected: {}",
                    why.join(", ")
                )
            }
            ApiError::PiiRefusal { reason } => {
                format!("personal-data inspection failed ({reason}); the request was refused, not forwarded in clear")
            }
            ApiError::NoEvidence { collections, denied } => format!(
                "no admissible evidence in collection(s) {} for this question (your key's groups and the declared purpose decide what you may retrieve; {denied} candidate chunk(s) were not admissible); the request was refused rather than answered without sources, and nothing was sent upstream",
                collections.join(", ")
            ),
            ApiError::NoneHealthy { model, unavailable } => format!(
                "no healthy deployment for model `{model}`: admitted deployments {} are unavailable (circuit open); retry later",
                unavailable.join(", ")
            ),
            ApiError::Upstream { failures } => {
                let f: Vec<String> = failures.iter().map(ToString::to_string).collect();
                format!("every admitted deployment failed: {}", f.join("; "))
            }
            ApiError::RequestTimeout { secs } => format!(
                "no answer within the gateway's request timeout of {secs} s (`server.request_timeout_secs`); the request was abandoned"
            ),
            ApiError::Internal { what } => format!("internal error: {what}"),
        }
    }

    /// The OpenAI error body.
    pub fn body(&self) -> ErrorBody {
        let param = match self {
            ApiError::BadRequest { param, .. } => param.clone(),
            ApiError::ModelNotFound { .. } => Some("model".into()),
            ApiError::NoEvidence { .. } => Some("rempart.collections".into()),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                message: self.message(),
                kind: self.kind().into(),
                code: Some(self.code().into()),
                param,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(
                code = self.code(),
                status = status.as_u16(),
                "Request failed."
            );
        } else {
            tracing::debug!(
                code = self.code(),
                status = status.as_u16(),
                "Request refused."
            );
        }
        let mut resp = (status, Json(self.body())).into_response();
        if let ApiError::Upstream { failures } = &self
            && let Some(UpstreamError::Status {
                retry_after: Some(s),
                ..
            }) = failures.last()
            && let Ok(v) = http::HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Describe a JSON body error without quoting the body: the field path and
/// the kind of problem, with any quoted value elided.
pub fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    let msg = elide_values(&e.to_string());
    let message = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!(
                "malformed JSON body at line {} column {}: {msg}",
                e.line(),
                e.column()
            )
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            if path.is_empty() || path == "." {
                format!("invalid request body: {msg}")
            } else {
                format!("invalid request body at `{path}`: {msg}")
            }
        }
    };
    ApiError::BadRequest {
        message,
        param: (!path.is_empty() && path != ".").then(|| path.to_owned()),
    }
}

/// Drop every value the client sent from a serde_json message, and serde's
/// position suffix (we report it separately). serde writes the offending
/// value in `invalid type: <kind> <value>, expected …` as `"…"` for strings
/// and in backticks for numbers, so those keep only the kind.
fn elide_values(s: &str) -> String {
    let s = s.split(" at line ").next().unwrap_or(s);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = s.strip_prefix(prefix) {
            // The expectation comes last and is ours; the value may itself
            // contain ", expected ", hence the last one.
            return match rest.rsplit_once(", expected ") {
                Some((unexpected, expected)) => {
                    format!("{prefix}{}, expected {expected}", kind_of(unexpected))
                }
                None => format!("{prefix}{}", kind_of(rest)),
            };
        }
    }
    if s.starts_with("unknown variant ") {
        return match s.rsplit_once(", expected ") {
            Some((_, expected)) => format!("unknown variant, expected {expected}"),
            None => "unknown variant".into(),
        };
    }
    elide_quoted(s)
}

/// `integer `5`` → `integer`, `string "x"` → `string`: serde's
/// `Unexpected` without its value.
fn kind_of(unexpected: &str) -> &str {
    unexpected
        .split(['"', '`', '\''])
        .next()
        .unwrap_or_default()
        .trim_end()
}

/// Replace the contents of double-quoted strings (escapes included) by `…`.
fn elide_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_q = false;
    let mut escaped = false;
    for ch in s.chars() {
        if in_q && escaped {
            escaped = false;
        } else if in_q && ch == '\\' {
            escaped = true;
        } else if ch == '"' {
            if in_q {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            in_q = !in_q;
        } else if !in_q {
            out.push(ch);
        }
    }
    out
}

/// The one mapping from the store's registry errors (subjects, collections,
/// conversations) to API errors; `service` names what is unavailable on an
/// internal failure, which is logged. Messages name fields and ids, never
/// values.
pub(crate) fn registry_error(e: rempart_store::registry::RegistryError, service: &str) -> ApiError {
    use rempart_store::registry::RegistryError;
    match e {
        RegistryError::NotFound(_) | RegistryError::Erased(_) => ApiError::Missing {
            what: e.to_string(),
        },
        RegistryError::Store(rempart_store::Error::Invalid { what, why }) => ApiError::BadRequest {
            message: format!("invalid {what}: {why}"),
            param: Some(what.into()),
        },
        RegistryError::Invalid(message) => ApiError::BadRequest {
            message,
            param: None,
        },
        other => {
            tracing::error!(error = %other, service, "Store failure.");
            ApiError::Internal {
                what: format!("the {service} is unavailable"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_do_not_quote_values() {
        let e = serde_json::from_str::<u32>("\"Jean Dupont 1 85 05 78 006 084 36\"").unwrap_err();
        let m = json_error("messages[0].content", &e).message();
        assert!(!m.contains("Dupont"), "{m}");
        assert!(m.contains("messages[0].content"), "{m}");
    }

    #[test]
    fn json_errors_do_not_quote_numbers_or_escaped_strings() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            role: String,
            stream: Option<bool>,
        }
        for (body, secret, kind) in [
            (r#"{"role": 33612345678}"#, "33612345678", "integer"),
            (r#"{"role": -33612345678}"#, "33612345678", "integer"),
            (r#"{"role": 48.85661}"#, "48.85661", "floating point"),
            (
                r#"{"role": "x", "stream": "a\" Jean Dupont, expected x"}"#,
                "Dupont",
                "string",
            ),
        ] {
            let e = serde_json::from_str::<T>(body).unwrap_err();
            let m = json_error("role", &e).message();
            assert!(!m.contains(secret), "{m}");
            assert!(
                m.contains(&format!("invalid type: {kind}, expected")),
                "{m}"
            );
        }
    }
}
