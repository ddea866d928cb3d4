//! Export and reports: pure functions over records.

/// A complete example record, as JSON (docs and tests).
pub const EXAMPLE_RECORD_JSON: &str = r#"{"id":"0190c5a0-0000-7000-8000-000000000001","ts":"2026-11-01T10:00:00Z","endpoint":"chat","tenant":"acme","key_id":"k1","purpose":"support","subject_ref":null,"region":"FR","legal_cluster":"EU-GDPR","policy_hash":"ab","model_alias":"chat-default","decision":{"route":"default","admitted":["ovh-eu"],"rejected":[],"unavailable":[],"attempted":["ovh-eu"]},"deployment":"ovh-eu","operator":"OVHcloud","dc_country":"FR","trust_tier":"eu_sovereign","model":"m","upstream_model":"m-1","pii_counts":{"EMAIL":1},"sensitivity":"personal","retrieved_chunks":[],"denied_chunks":0,"tokens_in":10,"tokens_out":20,"tokens_estimated":false,"cost_micro_eur":5,"latency_ms":100,"ttft_ms":null,"outcome":"served","error_code":null,"request_hash":null,"output_hash":null}"#;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::{AuditRecord, Outcome};

// === export ===

/// Writes one canonical JSON record per line; returns the count.
pub fn write_jsonl<'a, W: Write>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut out: W,
) -> io::Result<u64> {
    let mut n = 0;
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

/// Writes RFC 4180 CSV: a header of the record's field names in canonical
/// order, then one row per record. Nested values (decision, pii_counts,
/// retrieved_chunks) are compact JSON in their cell; `null` is empty. A text
/// cell starting with `=`, `+`, `-` or `@` is prefixed with `'` so
/// spreadsheets do not evaluate it (CSV injection).
pub fn write_csv<'a, W: Write>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    mut out: W,
) -> io::Result<u64> {
    let mut n = 0;
    for r in records {
        let serde_json::Value::Object(encoded) = serde_json::to_value(r)? else {
            return Err(io::Error::other("record is not an object"));
        };
        // Fields added later are left out of a record's encoding when at
        // their default: every row gets every column, in canonical order.
        let later = crate::record::LATER_FIELDS;
        let mut map = serde_json::Map::new();
        let mut found = Vec::new();
        for (k, v) in encoded {
            if later.iter().any(|(f, _)| *f == k) {
                found.push((k, v));
            } else {
                map.insert(k, v);
            }
        }
        for (field, default) in later {
            let v = match found.iter().position(|(k, _)| k == field) {
                Some(i) => found.swap_remove(i).1,
                None => default(),
            };
            map.insert(field.to_owned(), v);
        }
        if n == 0 {
            let header: Vec<String> = map.keys().map(|k| csv_cell(k)).collect();
            writeln!(out, "{}", header.join(","))?;
        }
        let row: Vec<String> = map
            .values()
            .map(|v| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => {
                    if s.starts_with(['=', '+', '-', '@']) {
                        csv_cell(&format!("'{s}"))
                    } else {
                        csv_cell(s)
                    }
                }
                other => csv_cell(&other.to_string()),
            })
            .collect();
        writeln!(out, "{}", row.join(","))?;
        n += 1;
    }
    Ok(n)
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

// === jurisdictions ===

/// EU member states and the EEA states where the GDPR applies (ISO 3166-1).
const EU_EEA: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// The legal cluster of a data-centre country: `EU-GDPR` for the EU/EEA,
/// `UK-GDPR`, `CH`, else `OTHER:<country>`.
pub fn cluster_of_country(country: &str) -> String {
    let c = country.to_ascii_uppercase();
    if EU_EEA.contains(&c.as_str()) {
        "EU-GDPR".into()
    } else if c == "GB" || c == "UK" {
        "UK-GDPR".into()
    } else if c == "CH" {
        "CH".into()
    } else {
        format!("OTHER:{c}")
    }
}

fn is_refusal(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::RefusedPolicy | Outcome::RefusedPii | Outcome::RefusedNoEvidence
    )
}

fn outcome_name(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A calendar month `YYYY-MM` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    year: i32,
    month: u8,
}

impl std::str::FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("period must be YYYY-MM, got {s:?}"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Period {
    /// Whether an RFC 3339 timestamp falls in this month, in UTC.
    /// Unparseable timestamps are outside every period.
    pub fn contains(&self, ts: &str) -> bool {
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
            .map(|t| t.to_offset(time::UtcOffset::UTC))
            .is_ok_and(|t| t.year() == self.year && u8::from(t.month()) == self.month)
    }
}

// === residency report ===

/// Requests and tokens for one value of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// The value (`(none)` when absent, e.g. refused requests).
    pub key: String,
    /// Requests with this value.
    pub requests: u64,
    /// Tokens in + out of those requests.
    pub tokens: u64,
    /// `requests / total requests` (0 when there are none).
    pub request_share: f64,
    /// `tokens / total tokens` (0 when there are none).
    pub token_share: f64,
}

/// A request the report must list: refused, or served outside its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    /// Audit id.
    pub id: String,
    /// Timestamp.
    pub ts: String,
    /// Tenant.
    pub tenant: String,
    /// Outcome.
    pub outcome: String,
    /// Deployment, when one served.
    pub deployment: Option<String>,
    /// Data-centre country, when one served.
    pub dc_country: Option<String>,
    /// Why it is listed (`refused_policy`, `served_outside_cluster:...`).
    pub reasons: Vec<String>,
}

/// Residency report for one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResidencyReport {
    /// `YYYY-MM`.
    pub period: String,
    /// Requests in the period.
    pub total_requests: u64,
    /// Tokens in + out in the period.
    pub total_tokens: u64,
    /// By the request's legal cluster.
    pub by_legal_cluster: Vec<Share>,
    /// By the serving deployment's operator.
    pub by_operator: Vec<Share>,
    /// By data-centre country.
    pub by_dc_country: Vec<Share>,
    /// By trust tier.
    pub by_trust_tier: Vec<Share>,
    /// Every exception, in input order.
    pub exceptions: Vec<Exception>,
}

const NONE: &str = "(none)";

fn shares(m: BTreeMap<String, (u64, u64)>, total_r: u64, total_t: u64) -> Vec<Share> {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut v: Vec<Share> = m
        .into_iter()
        .map(|(key, (requests, tokens))| Share {
            key,
            requests,
            tokens,
            request_share: ratio(requests, total_r),
            token_share: ratio(tokens, total_t),
        })
        .collect();
    v.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.key.cmp(&b.key)));
    v
}

/// Builds the residency report of `period` (`YYYY-MM`, UTC) over records.
///
/// An exception is a refused request (policy, PII fail-closed, no evidence),
/// or a served request whose data-centre country lies outside the request's
/// legal cluster (`EU-GDPR` when the request has none), or a served request
/// with no recorded data-centre country.
pub fn residency_report<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    period: &str,
) -> Result<ResidencyReport> {
    let p: Period = period.parse()?;
    let mut dims: [BTreeMap<String, (u64, u64)>; 4] = Default::default();
    let (mut total_r, mut total_t) = (0u64, 0u64);
    let mut exceptions = Vec::new();
    for r in records.into_iter().filter(|r| p.contains(&r.ts)) {
        let tokens = r.tokens_in + r.tokens_out;
        total_r += 1;
        total_t += tokens;
        let keys = [&r.legal_cluster, &r.operator, &r.dc_country, &r.trust_tier];
        for (d, k) in dims.iter_mut().zip(keys) {
            let e = d
                .entry(k.clone().unwrap_or_else(|| NONE.into()))
                .or_default();
            e.0 += 1;
            e.1 += tokens;
        }
        let mut reasons = Vec::new();
        if is_refusal(r.outcome) {
            reasons.push(outcome_name(r.outcome));
        }
        if r.outcome == Outcome::Served {
            let want = r.legal_cluster.clone().unwrap_or_else(|| "EU-GDPR".into());
            match &r.dc_country {
                Some(c) if cluster_of_country(c) != want => {
                    reasons.push(format!("served_outside_cluster:{}", cluster_of_country(c)));
                }
                Some(_) => {}
                None => reasons.push("served_without_dc_country".into()),
            }
        }
        if !reasons.is_empty() {
            exceptions.push(Exception {
                id: r.id.clone(),
                ts: r.ts.clone(),
                tenant: r.tenant.clone(),
                outcome: outcome_name(r.outcome),
                deployment: r.deployment.clone(),
                dc_country: r.dc_country.clone(),
                reasons,
            });
        }
    }
    let [c, o, d, t] = dims;
    Ok(ResidencyReport {
        period: p.to_string(),
        total_requests: total_r,
        total_tokens: total_t,
        by_legal_cluster: shares(c, total_r, total_t),
        by_operator: shares(o, total_r, total_t),
        by_dc_country: shares(d, total_r, total_t),
        by_trust_tier: shares(t, total_r, total_t),
        exceptions,
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl ResidencyReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// Markdown rendering (percentages with two decimals).
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "# Residency report {}\n\nRequests: {}. Tokens (in + out): {}.\n",
            self.period, self.total_requests, self.total_tokens
        );
        for (title, v) in [
            ("Legal cluster of the request", &self.by_legal_cluster),
            ("Operator", &self.by_operator),
            ("Data-centre country", &self.by_dc_country),
            ("Trust tier", &self.by_trust_tier),
        ] {
            s += &format!(
                "\n## {title}\n\n| value | requests | share | tokens | share |\n|---|---:|---:|---:|---:|\n"
            );
            for x in v {
                s += &format!(
                    "| {} | {} | {:.2} % | {} | {:.2} % |\n",
                    md_escape(&x.key),
                    x.requests,
                    x.request_share * 100.0,
                    x.tokens,
                    x.token_share * 100.0
                );
            }
        }
        s += &format!("\n## Exceptions ({})\n\n", self.exceptions.len());
        if self.exceptions.is_empty() {
            s += "None.\n";
        } else {
            s += "| id | ts | tenant | outcome | deployment | country | reasons |\n|---|---|---|---|---|---|---|\n";
            for e in &self.exceptions {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    md_escape(&e.id),
                    md_escape(&e.ts),
                    md_escape(&e.tenant),
                    e.outcome,
                    md_escape(e.deployment.as_deref().unwrap_or(NONE)),
                    md_escape(e.dc_country.as_deref().unwrap_or(NONE)),
                    md_escape(&e.reasons.join(", "))
                );
            }
        }
        s
    }
}

// === GDPR Art. 30 register ===

/// A count under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The name (a purpose, a PII type, ...).
    pub name: String,
    /// Requests concerned.
    pub requests: u64,
}

/// A recipient of personal data: a deployment that served requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// Deployment id.
    pub deployment: String,
    /// Operator.
    pub operator: String,
    /// Data-centre country.
    pub dc_country: String,
    /// Trust tier.
    pub trust_tier: String,
    /// Requests it served.
    pub requests: u64,
    /// Of which carried personal data (PII detected).
    pub requests_with_personal_data: u64,
}

/// GDPR Art. 30(1)-style record of processing, derived from the audit log:
/// purposes (b), categories of personal data (c), recipients (d), transfers
/// to third countries (e). Controller details and retention (a, f, g) come
/// from the organisation, not from the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Art30Register {
    /// `YYYY-MM`, or `None` for every record given.
    pub period: Option<String>,
    /// Requests considered.
    pub requests: u64,
    /// Purposes of processing given by callers (`(unspecified)` otherwise).
    pub purposes: Vec<Count>,
    /// Categories of personal data seen (PII types), requests containing each.
    pub data_categories: Vec<Count>,
    /// Requests with special-category data (GDPR Art. 9).
    pub special_category_requests: u64,
    /// Recipients: deployments that served requests.
    pub recipients: Vec<Recipient>,
    /// Recipients outside the EU/EEA (transfers, GDPR Chapter V); empty = none.
    pub transfers_outside_eu: Vec<Recipient>,
}

/// Builds the Art. 30 register over the records of `period` (all if `None`).
pub fn art30_register<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    period: Option<&str>,
) -> Result<Art30Register> {
    let p: Option<Period> = period.map(str::parse).transpose()?;
    let mut n = 0;
    let mut purposes: BTreeMap<String, u64> = BTreeMap::new();
    let mut cats: BTreeMap<String, u64> = BTreeMap::new();
    let mut special = 0;
    let mut recips: BTreeMap<(String, String, String, String), (u64, u64)> = BTreeMap::new();
    for r in records
        .into_iter()
        .filter(|r| p.is_none_or(|p| p.contains(&r.ts)))
    {
        n += 1;
        *purposes
            .entry(r.purpose.clone().unwrap_or_else(|| "(unspecified)".into()))
            .or_default() += 1;
        for (k, &c) in &r.pii_counts {
            if c > 0 {
                *cats.entry(k.clone()).or_default() += 1;
            }
        }
        if r.sensitivity == "special_category" {
            special += 1;
        }
        if let (Outcome::Served, Some(d)) = (r.outcome, &r.deployment) {
            let o = |x: &Option<String>| x.clone().unwrap_or_else(|| NONE.into());
            let e = recips
                .entry((
                    d.clone(),
                    o(&r.operator),
                    o(&r.dc_country),
                    o(&r.trust_tier),
                ))
                .or_default();
            e.0 += 1;
            if r.pii_counts.values().any(|&c| c > 0) {
                e.1 += 1;
            }
        }
    }
    let counts = |m: BTreeMap<String, u64>| {
        m.into_iter()
            .map(|(name, requests)| Count { name, requests })
            .collect()
    };
    let recipients: Vec<Recipient> = recips
        .into_iter()
        .map(
            |((deployment, operator, dc_country, trust_tier), (requests, pd))| Recipient {
                deployment,
                operator,
                dc_country,
                trust_tier,
                requests,
                requests_with_personal_data: pd,
            },
        )
        .collect();
    let transfers_outside_eu = recipients
        .iter()
        .filter(|r| cluster_of_country(&r.dc_country) != "EU-GDPR")
        .cloned()
        .collect();
    Ok(Art30Register {
        period: p.map(|p| p.to_string()),
        requests: n,
        purposes: counts(purposes),
        data_categories: counts(cats),
        special_category_requests: special,
        recipients,
        transfers_outside_eu,
    })
}

impl Art30Register {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("register serializes")
    }

    /// Markdown rendering.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "# Record of processing activities (GDPR Art. 30) — {}\n\nRequests: {}.\n\n## Purposes (Art. 30(1)(b))\n\n",
            self.period.as_deref().unwrap_or("all retained records"),
            self.requests
        );
        for c in &self.purposes {
            s += &format!("- {}: {} requests\n", md_escape(&c.name), c.requests);
        }
        s += "\n## Categories of personal data (Art. 30(1)(c))\n\n";
        if self.data_categories.is_empty() {
            s += "None detected.\n";
        }
        for c in &self.data_categories {
            s += &format!("- {}: in {} requests\n", md_escape(&c.name), c.requests);
        }
        s += &format!(
            "- Special categories (Art. 9): {} requests\n",
            self.special_category_requests
        );
        s += "\n## Recipients (Art. 30(1)(d))\n\n| deployment | operator | country | tier | requests | with personal data |\n|---|---|---|---|---:|---:|\n";
        for r in &self.recipients {
            s += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                md_escape(&r.deployment),
                md_escape(&r.operator),
                md_escape(&r.dc_country),
                md_escape(&r.trust_tier),
                r.requests,
                r.requests_with_personal_data
            );
        }
        s += "\n## Transfers outside the EU/EEA (Art. 30(1)(e))\n\n";
        if self.transfers_outside_eu.is_empty() {
            s += "None.\n";
        }
        for r in &self.transfers_outside_eu {
            s += &format!(
                "- {} ({}, {}): {} requests\n",
                md_escape(&r.deployment),
                md_escape(&r.operator),
                md_escape(&r.dc_country),
                r.requests
            );
        }
        s
    }
}
