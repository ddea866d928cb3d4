//! Per-request context: id, clock, principal, located region.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

use http::HeaderMap;
use rempart_audit::{AuditRecord, DecisionRecord, Outcome};
use rempart_policy::Country;

use crate::config::{Config, Tenant};

/// Who is calling: the tenant a key acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Tenant id.
    pub tenant: String,
    /// The key's public id.
    pub key_id: String,
    /// The key's groups (retrieval eligibility).
    pub groups: Vec<String>,
}

/// How the region was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionSource {
    /// The tenant's pinned region.
    Pinned,
    /// A trusted edge header.
    Header,
    /// The GeoIP database.
    GeoIp,
    /// Not located.
    Unknown,
}

/// Context of one request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Request id (UUIDv7), also the audit record id.
    pub request_id: String,
    /// Arrival time.
    pub started: Instant,
    /// Arrival time, RFC 3339.
    pub ts: String,
    /// Caller.
    pub principal: Principal,
    /// Located region.
    pub region: Option<Country>,
    /// How.
    pub region_source: RegionSource,
}

impl RequestCtx {
    /// A record with everything known before routing.
    pub fn audit_draft(&self, config: &Config, endpoint: &str, model: &str) -> AuditRecord {
        AuditRecord {
            id: self.request_id.clone(),
            ts: self.ts.clone(),
            endpoint: endpoint.to_owned(),
            tenant: self.principal.tenant.clone(),
            key_id: self.principal.key_id.clone(),
            purpose: None,
            subject_ref: None,
            region: self.region.map(|c| c.to_string()),
            legal_cluster: self.region.map(|c| c.legal_cluster().to_string()),
            policy_hash: config.policy_hash.clone(),
            model_alias: model.to_owned(),
            decision: DecisionRecord::default(),
            deployment: None,
            operator: None,
            dc_country: None,
            trust_tier: None,
            model: None,
            upstream_model: None,
            pii_counts: BTreeMap::new(),
            sensitivity: "none".into(),
            retrieved_chunks: Vec::new(),
            denied_chunks: 0,
            tokens_in: 0,
            tokens_out: 0,
            tokens_estimated: false,
            cost_micro_eur: 0,
            latency_ms: 0,
            ttft_ms: None,
            outcome: Outcome::Served,
            error_code: None,
            request_hash: None,
            output_hash: None,
            documents: Vec::new(),
            document_chunks: 0,
            linked_subjects: 0,
        }
    }
}

/// Step 2 of the path: locate the request. The tenant's pinned region wins;
/// then a trusted edge header (only those configured: an untrusted client
/// could claim any country); then GeoIP on the peer address.
pub fn locate(
    config: &Config,
    tenant: Option<&Tenant>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    geoip: Option<&maxminddb::Reader<Vec<u8>>>,
) -> (Option<Country>, RegionSource) {
    if let Some(c) = tenant.and_then(|t| t.region) {
        return (Some(c), RegionSource::Pinned);
    }
    for name in &config.server.trusted_region_headers {
        if let Some(v) = headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
            // Cloudflare sends XX (unknown) and T1 (Tor): not countries.
            if let Some(c) = Country::parse(v).filter(|c| !matches!(c.as_str(), "XX" | "T1")) {
                return (Some(c), RegionSource::Header);
            }
        }
    }
    if let (Some(reader), Some(ip)) = (geoip, peer)
        && let Ok(Some(country)) = reader.lookup::<maxminddb::geoip2::Country>(ip)
        && let Some(code) = country
            .country
            .and_then(|c| c.iso_code)
            .and_then(Country::parse)
    {
        return (Some(code), RegionSource::GeoIp);
    }
    (None, RegionSource::Unknown)
}
