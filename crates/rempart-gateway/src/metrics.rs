//! Prometheus metrics, derived from the audit record of each request so
//! that metrics and the audit log always agree. Served at `/metrics` in the
//! Prometheus text format 0.0.4, or in OpenMetrics 1.0 when the scraper asks
//! for `application/openmetrics-text`.

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rempart_audit::{AuditRecord, Outcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    endpoint: String,
    deployment: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabels {
    tenant: String,
    deployment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    tenant: String,
    deployment: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    tenant: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PiiLabels {
    entity_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    deployment: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 17,
    ))
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<DeploymentLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    latency: Family<DeploymentLabels, Histogram, fn() -> Histogram>,
    ttft: Family<DeploymentLabels, Histogram, fn() -> Histogram>,
    refusals: Family<RefusalLabels, Counter>,
    pii: Family<PiiLabels, Counter>,
    upstream_errors: Family<DeploymentLabels, Counter>,
    breaker: Family<BreakerLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("rempart");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            requests: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ttft: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            refusals: Family::default(),
            pii: Family::default(),
            upstream_errors: Family::default(),
            breaker: Family::default(),
        };
        r.register(
            "requests",
            "Requests by tenant, endpoint, deployment and outcome",
            m.requests.clone(),
        );
        r.register(
            "tokens",
            "Tokens by tenant, deployment and direction (in/out)",
            m.tokens.clone(),
        );
        r.register(
            "cost_eur",
            "Cost in EUR from the catalogue's prices",
            m.cost.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Request latency",
            m.latency.clone(),
        );
        r.register(
            "time_to_first_token_seconds",
            "Time to first token of streamed answers",
            m.ttft.clone(),
        );
        r.register(
            "refusals",
            "Refused requests by reason (policy, pii, no_healthy)",
            m.refusals.clone(),
        );
        r.register(
            "pii_entities",
            "Personal-data entities detected, by type",
            m.pii.clone(),
        );
        r.register(
            "upstream_errors",
            "Requests whose admitted upstreams all failed",
            m.upstream_errors.clone(),
        );
        r.register(
            "circuit_breaker_state",
            "0 closed, 1 open, 2 half-open",
            m.breaker.clone(),
        );
        *m.registry.lock().unwrap_or_else(|p| p.into_inner()) = r;
        m
    }

    /// Count one request from its audit record.
    pub fn observe(&self, rec: &AuditRecord) {
        let deployment = rec.deployment.clone().unwrap_or_else(|| "none".into());
        let outcome = rec.outcome.as_str().to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                tenant: rec.tenant.clone(),
                endpoint: rec.endpoint.clone(),
                deployment: deployment.clone(),
                outcome,
            })
            .inc();
        let dl = DeploymentLabels {
            tenant: rec.tenant.clone(),
            deployment: deployment.clone(),
        };
        for (direction, n) in [("in", rec.tokens_in), ("out", rec.tokens_out)] {
            if n > 0 {
                self.tokens
                    .get_or_create(&TokenLabels {
                        tenant: rec.tenant.clone(),
                        deployment: deployment.clone(),
                        direction: direction.into(),
                    })
                    .inc_by(n);
            }
        }
        if rec.cost_micro_eur > 0 {
            self.cost
                .get_or_create(&dl)
                .inc_by(rec.cost_micro_eur as f64 / 1e6);
        }
        self.latency
            .get_or_create(&dl)
            .observe(rec.latency_ms as f64 / 1000.0);
        if let Some(t) = rec.ttft_ms {
            self.ttft.get_or_create(&dl).observe(t as f64 / 1000.0);
        }
        let refusal = match rec.outcome {
            Outcome::RefusedPolicy => Some("policy"),
            Outcome::RefusedPii => Some("pii"),
            Outcome::Unavailable => Some("no_healthy"),
            Outcome::RefusedNoEvidence => Some("no_evidence"),
            _ => None,
        };
        if let Some(reason) = refusal {
            self.refusals
                .get_or_create(&RefusalLabels {
                    tenant: rec.tenant.clone(),
                    reason: reason.into(),
                })
                .inc();
        }
        if rec.outcome == Outcome::UpstreamError {
            self.upstream_errors.get_or_create(&dl).inc();
        }
        for (t, n) in &rec.pii_counts {
            self.pii
                .get_or_create(&PiiLabels {
                    entity_type: t.clone(),
                })
                .inc_by(u64::from(*n));
        }
    }

    /// Render the text exposition, with breaker states read now.
    pub fn render(
        &self,
        breakers: &std::collections::HashMap<
            rempart_policy::DeploymentId,
            rempart_upstream::Breaker,
        >,
    ) -> String {
        let now = Instant::now();
        for (id, b) in breakers {
            self.breaker
                .get_or_create(&BreakerLabels {
                    deployment: id.0.clone(),
                })
                .set(b.state(now).as_gauge() as i64);
        }
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }
}

/// The Prometheus text format 0.0.4 of an OpenMetrics exposition (what
/// `prometheus_client` encodes): a counter family `x` is named by its
/// sample name `x_total` in `# HELP`/`# TYPE`, `# UNIT` and `# EOF` go.
/// Histograms and gauges are the same in both formats.
pub fn openmetrics_to_prometheus_text(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len() + 64);
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|kw| {
            let rest = line.strip_prefix(kw)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{kw}{name}_total {tail}").trim_end().to_owned())
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_their_samples_in_the_prometheus_text_format() {
        let om = "# HELP rempart_requests Requests.\n# TYPE rempart_requests counter\n\
                  rempart_requests_total{tenant=\"a\"} 1\n# HELP rempart_x X.\n\
                  # TYPE rempart_x gauge\nrempart_x 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus_text(om),
            "# HELP rempart_requests_total Requests.\n# TYPE rempart_requests_total counter\n\
             rempart_requests_total{tenant=\"a\"} 1\n# HELP rempart_x X.\n\
             # TYPE rempart_x gauge\nrempart_x 2\n"
        );
    }
}
