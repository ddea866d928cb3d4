//! The audit record: what one request did, with no content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One audit record per request (chat, embeddings, retrieval, document
/// ingestion and deletion).
///
/// Field order is the canonical encoding order; never reorder fields. A
/// field added later goes last and is left out of the encoding when it
/// holds its default (`skip_serializing_if`), so a record written before it
/// existed decodes and re-encodes to the very bytes that were hashed: old
/// logs still verify. (A verifier older than a field cannot re-encode a
/// record that carries it, and reports it as non-canonical.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Time-ordered id (UUIDv7, hyphenated lower-case).
    pub id: String,
    /// RFC 3339 UTC timestamp of the request's arrival.
    pub ts: String,
    /// Endpoint: `chat`, `embeddings`, `search`, `ingest`,
    /// `delete_document`.
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
    /// Documents written, found already present, or deleted (ids, never
    /// names: `ingest`, `delete_document`). Not encoded when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<String>,
    /// Chunks written (`ingest`: zero for content already present) or
    /// removed (`delete_document`). Not encoded when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub document_chunks: u64,
    /// Registered data subjects linked to the ingested documents, named by
    /// the caller or found by the personal-data scan (a count, never who).
    /// Not encoded when zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub linked_subjects: u32,
}

/// A field added later: its name and its value when absent.
pub(crate) type LaterField = (&'static str, fn() -> serde_json::Value);

/// The fields added after the first version, in canonical order, with the
/// value they take when absent: tabular exports write every column.
pub(crate) const LATER_FIELDS: [LaterField; 3] = [
    ("documents", || serde_json::Value::Array(Vec::new())),
    ("document_chunks", || serde_json::Value::from(0u64)),
    ("linked_subjects", || serde_json::Value::from(0u32)),
];

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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
    use super::{AuditRecord, Outcome};
    use crate::report::EXAMPLE_RECORD_JSON;

    /// A record in the first version's encoding (no later field) decodes
    /// and re-encodes to the same bytes: what the verifier checks.
    #[test]
    fn records_without_the_later_fields_encode_as_before() {
        let r: AuditRecord = serde_json::from_str(EXAMPLE_RECORD_JSON).unwrap();
        assert!(r.documents.is_empty() && r.document_chunks == 0 && r.linked_subjects == 0);
        assert_eq!(serde_json::to_string(&r).unwrap(), EXAMPLE_RECORD_JSON);
    }

    #[test]
    fn later_fields_go_last_and_round_trip() {
        let mut r: AuditRecord = serde_json::from_str(EXAMPLE_RECORD_JSON).unwrap();
        r.endpoint = "ingest".into();
        r.documents = vec!["0190c5a0-0000-7000-8000-00000000000a".into()];
        r.document_chunks = 3;
        r.linked_subjects = 2;
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.ends_with(
                r#""output_hash":null,"documents":["0190c5a0-0000-7000-8000-00000000000a"],"document_chunks":3,"linked_subjects":2}"#
            ),
            "{line}"
        );
        let back: AuditRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
        assert_eq!(serde_json::to_string(&back).unwrap(), line);
        // Every later field is listed for the tabular exports, in order.
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let later: Vec<&str> = super::LATER_FIELDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys[keys.len() - later.len()..], later[..]);
    }

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
