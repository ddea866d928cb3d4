//! The audit record: what one request did, with no content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One audit record per request (chat, embeddings, retrieval).
///
/// Field order is the canonical encoding order; never reorder fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Time-ordered id (UUIDv7, hyphenated lower-case).
    pub id: String,
    /// RFC 3339 UTC timestamp of the request's arrival.
    pub ts: String,
    /// Endpoint: `chat`, `embeddings`, `search`.
    pub endpoint: String,
    /// Tenant id.
    pub tenant: String,
    /// Id of the API key used (never the key).
    pub key_id: String,
    /// Purpose of processing, when the caller gave one.
    pub purpose: Option<String>,
    /// Data-subject reference, when the caller gave one.
    pub subject_ref: Option<String>,
    /// Request region (ISO 3166-1 alpha-2) and how it was located.
    pub region: Option<String>,
    /// Legal cluster of the request (`EU-GDPR`, `UK-GDPR`, ...).
    pub legal_cluster: Option<String>,
    /// Hash of the policy (config) version in force.
    pub policy_hash: String,
    /// Requested model alias.
    pub model_alias: String,
    /// The routing decision.
    pub decision: DecisionRecord,
    /// Deployment that served the request.
    pub deployment: Option<String>,
    /// Operator of that deployment.
    pub operator: Option<String>,
    /// Data-centre country of that deployment.
    pub dc_country: Option<String>,
    /// Trust tier of that deployment.
    pub trust_tier: Option<String>,
    /// Upstream model name sent.
    pub model: Option<String>,
    /// Model version the upstream reported.
    pub upstream_model: Option<String>,
    /// Detected personal-data entities by type.
    pub pii_counts: BTreeMap<String, u32>,
    /// Sensitivity: `none`, `personal`, `special_category`.
    pub sensitivity: String,
    /// Retrieved chunk ids (retrieval).
    pub retrieved_chunks: Vec<String>,
    /// Number of chunks denied by eligibility (retrieval).
    pub denied_chunks: u32,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// True when the upstream reported no usage and Rempart estimated the
    /// token counts (completion: one per streamed delta; prompt: text bytes
    /// / 4), so the cost is an estimate too.
    pub tokens_estimated: bool,
    /// Cost in micro-euros (integer, so the encoding is canonical).
    pub cost_micro_eur: u64,
    /// Total latency, milliseconds.
    pub latency_ms: u64,
    /// Time to first token, milliseconds (streaming).
    pub ttft_ms: Option<u64>,
    /// What happened.
    pub outcome: Outcome,
    /// Error code when not served.
    pub error_code: Option<String>,
    /// SHA-256 (hex) of the request as sent upstream (pseudonymised).
    pub request_hash: Option<String>,
    /// SHA-256 (hex) of the output as received from upstream.
    pub output_hash: Option<String>,
}

/// The routing decision as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Which rule of the alias selected the candidates.
    pub route: String,
    /// Admitted candidates, in the order they would be tried.
    pub admitted: Vec<String>,
    /// Every rejected candidate with its reasons.
    pub rejected: Vec<RejectedCandidate>,
    /// Admitted but unavailable (circuit open).
    pub unavailable: Vec<String>,
    /// Deployments actually attempted, in order.
    pub attempted: Vec<String>,
}

/// A candidate the policy rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedCandidate {
    /// Deployment id.
    pub deployment: String,
    /// Machine-readable reasons (`cluster_not_admitted`, ...).
    pub reasons: Vec<String>,
}

/// The outcome of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered.
    Served,
    /// Refused: no candidate admitted by the tenant's policy.
    RefusedPolicy,
    /// Refused: PII inspection failed or exceeded its budget (fail-closed).
    RefusedPii,
    /// Admitted candidates exist but none is healthy.
    Unavailable,
    /// Every admitted upstream failed.
    UpstreamError,
    /// Refused by retrieval: no admissible evidence.
    RefusedNoEvidence,
    /// Client error (bad request) after authentication.
    BadRequest,
}

impl Outcome {
    /// The wire name (as serialised): `served`, `refused_policy`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Served => "served",
            Outcome::RefusedPolicy => "refused_policy",
            Outcome::RefusedPii => "refused_pii",
            Outcome::Unavailable => "unavailable",
            Outcome::UpstreamError => "upstream_error",
            Outcome::RefusedNoEvidence => "refused_no_evidence",
            Outcome::BadRequest => "bad_request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn outcome_names_are_the_serialised_ones() {
        for o in [
            Outcome::Served,
            Outcome::RefusedPolicy,
            Outcome::RefusedPii,
            Outcome::Unavailable,
            Outcome::UpstreamError,
            Outcome::RefusedNoEvidence,
            Outcome::BadRequest,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
