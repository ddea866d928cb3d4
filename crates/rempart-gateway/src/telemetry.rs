//! OpenTelemetry traces over OTLP/HTTP (protobuf), following the GenAI
//! semantic conventions. Optional: the `otlp` cargo feature compiles the
//! exporter in, `[telemetry] otlp_endpoint` turns it on; without either,
//! [`Telemetry`] is a no-op and the request path only keeps a few
//! `Instant`s.
//!
//! What a span carries is built here from the audit record and the step
//! times, never from the request: names, ids, counts, token numbers and
//! times — never prompt text, answer text or a detected value.
//!
//! Spans are made after the fact, with the real start and end times: one
//! `chat {model}` (or `embeddings {model}`) span per request, a child span
//! for PII inspection and one per upstream attempt. The SDK's batch
//! processor exports them from its own thread, off the request path;
//! [`Telemetry::shutdown`] flushes.

use std::time::Instant;

/// One upstream attempt, for its child span.
#[derive(Debug, Clone)]
pub struct UpstreamAttempt {
    /// Deployment id.
    pub deployment: String,
    /// When the call started.
    pub start: Instant,
    /// When it returned (headers, or the whole body when not streaming).
    pub end: Instant,
    /// The error's code when it failed (`upstream_timeout`, ...).
    pub error: Option<&'static str>,
}

/// Step times of one request, for its trace. No text of the request.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// PII inspection: start and end.
    pub inspect: Option<(Instant, Instant)>,
    /// Upstream attempts, in order.
    pub upstream: Vec<UpstreamAttempt>,
}

impl Trace {
    /// Time PII inspection from `start` to now.
    pub fn inspected(&mut self, start: Instant) {
        self.inspect = Some((start, Instant::now()));
    }

    /// One upstream attempt from `start` to now.
    pub fn attempt(&mut self, deployment: &str, start: Instant, error: Option<&'static str>) {
        self.upstream.push(UpstreamAttempt {
            deployment: deployment.to_owned(),
            start,
            end: Instant::now(),
            error,
        });
    }
}

#[cfg(feature = "otlp")]
pub use otlp::Telemetry;

/// Without the `otlp` feature: nothing is exported, nothing is linked.
#[cfg(not(feature = "otlp"))]
#[derive(Debug, Default)]
pub struct Telemetry;

#[cfg(not(feature = "otlp"))]
impl Telemetry {
    /// No exporter in this build (configuration validation already refused
    /// an `otlp_endpoint`).
    pub fn from_config(_: &crate::config::Config) -> Result<Telemetry, String> {
        Ok(Telemetry)
    }

    /// Never: no exporter in this build.
    #[inline]
    pub fn enabled(&self) -> bool {
        false
    }

    /// Nothing to record.
    #[inline]
    pub fn request(
        &self,
        _: &crate::state::AppState,
        _: Instant,
        _: &rempart_audit::AuditRecord,
        _: &Trace,
    ) {
    }

    /// Nothing to flush.
    pub fn shutdown(&self) {}
}

#[cfg(feature = "otlp")]
mod otlp {
    use std::time::{Instant, SystemTime};

    use opentelemetry::trace::{
        Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
    };
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
    use rempart_audit::{AuditRecord, Outcome};
    use rempart_policy::DeploymentId;
    use rempart_upstream::Kind;

    use super::Trace;
    use crate::config::Config;
    use crate::state::AppState;

    /// The OTLP trace pipeline, when configured.
    #[derive(Debug, Default)]
    pub struct Telemetry {
        inner: Option<(SdkTracerProvider, SdkTracer)>,
    }

    impl Telemetry {
        /// Build the exporter (nothing is contacted until spans are sent).
        pub fn from_config(config: &Config) -> Result<Telemetry, String> {
            let Some(endpoint) = &config.telemetry.otlp_endpoint else {
                return Ok(Telemetry::default());
            };
            use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(traces_url(endpoint))
                .with_timeout(std::time::Duration::from_secs(10))
                .with_headers(Default::default())
                .build()
                .map_err(|e| format!("telemetry.otlp_endpoint: {e}"))?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(Sampler::TraceIdRatioBased(config.telemetry.sample_ratio))
                .with_resource(
                    Resource::builder()
                        .with_service_name(config.telemetry.service_name.clone())
                        .build(),
                )
                .build();
            let tracer = provider.tracer("rempart");
            Ok(Telemetry {
                inner: Some((provider, tracer)),
            })
        }

        /// Whether spans are exported.
        pub fn enabled(&self) -> bool {
            self.inner.is_some()
        }

        /// The spans of one finished request: built from its audit record
        /// and step times, queued for the batch exporter.
        pub fn request(
            &self,
            state: &AppState,
            started: Instant,
            rec: &AuditRecord,
            trace: &Trace,
        ) {
            let Some((_, tracer)) = &self.inner else {
                return;
            };
            let now_sys = SystemTime::now();
            let now = Instant::now();
            let at = |t: Instant| now_sys - now.saturating_duration_since(t);
            let deployment = rec
                .deployment
                .as_ref()
                .and_then(|d| state.config.deployments.get(&DeploymentId(d.clone())));
            let operation = operation_name(&rec.endpoint);
            let mut attrs = vec![
                KeyValue::new("gen_ai.operation.name", operation),
                KeyValue::new("gen_ai.request.model", rec.model_alias.clone()),
                KeyValue::new("rempart.tenant", rec.tenant.clone()),
                KeyValue::new("rempart.outcome", outcome_name(rec.outcome)),
                KeyValue::new("rempart.audit_id", rec.id.clone()),
                KeyValue::new("rempart.sensitivity", rec.sensitivity.clone()),
                KeyValue::new(
                    "rempart.pii.entities",
                    rec.pii_counts.values().map(|n| i64::from(*n)).sum::<i64>(),
                ),
            ];
            for (kind, n) in &rec.pii_counts {
                attrs.push(KeyValue::new(
                    format!("rempart.pii.{}", kind.to_ascii_lowercase()),
                    i64::from(*n),
                ));
            }
            if let Some(d) = &rec.deployment {
                attrs.push(KeyValue::new("rempart.deployment", d.clone()));
            }
            if let Some(dep) = deployment {
                deployment_attributes(dep, &mut attrs);
            }
            if let Some(m) = &rec.upstream_model {
                attrs.push(KeyValue::new("gen_ai.response.model", m.clone()));
            }
            if rec.outcome == Outcome::Served {
                attrs.push(KeyValue::new(
                    "gen_ai.usage.input_tokens",
                    rec.tokens_in as i64,
                ));
                attrs.push(KeyValue::new(
                    "gen_ai.usage.output_tokens",
                    rec.tokens_out as i64,
                ));
            }
            if let Some(code) = &rec.error_code {
                attrs.push(KeyValue::new("error.type", code.clone()));
            }
            let mut span = tracer
                .span_builder(format!("{operation} {}", rec.model_alias))
                .with_kind(SpanKind::Server)
                .with_start_time(at(started))
                .with_attributes(attrs)
                .start(tracer);
            if rec.outcome != Outcome::Served {
                span.set_status(Status::error(outcome_name(rec.outcome)));
            }
            let cx = Context::new().with_span(span);
            if let Some((s, e)) = trace.inspect {
                let mut child = tracer
                    .span_builder("rempart.pii.inspect")
                    .with_kind(SpanKind::Internal)
                    .with_start_time(at(s))
                    .with_attributes([KeyValue::new(
                        "rempart.pii.entities",
                        rec.pii_counts.values().map(|n| i64::from(*n)).sum::<i64>(),
                    )])
                    .start_with_context(tracer, &cx);
                child.end_with_timestamp(at(e));
            }
            for a in &trace.upstream {
                let dep = state
                    .config
                    .deployments
                    .get(&DeploymentId(a.deployment.clone()));
                let model = dep.map(|d| d.model.clone()).unwrap_or_default();
                let mut attrs = vec![
                    KeyValue::new("gen_ai.operation.name", operation),
                    KeyValue::new("gen_ai.request.model", model.clone()),
                    KeyValue::new("rempart.deployment", a.deployment.clone()),
                ];
                if let Some(dep) = dep {
                    deployment_attributes(dep, &mut attrs);
                }
                if let Some(code) = a.error {
                    attrs.push(KeyValue::new("error.type", code));
                }
                let mut child = tracer
                    .span_builder(format!("{operation} {model}"))
                    .with_kind(SpanKind::Client)
                    .with_start_time(at(a.start))
                    .with_attributes(attrs)
                    .start_with_context(tracer, &cx);
                if let Some(code) = a.error {
                    child.set_status(Status::error(code));
                }
                child.end_with_timestamp(at(a.end));
            }
            cx.span().end_with_timestamp(now_sys);
        }

        /// Export what is queued and stop the exporter (blocking: call it
        /// off the async runtime).
        pub fn shutdown(&self) {
            if let Some((provider, _)) = &self.inner
                && let Err(e) = provider.shutdown()
            {
                tracing::warn!(error = %e, "OTLP exporter shutdown failed.");
            }
        }
    }

    /// `http://host:4318` → `http://host:4318/v1/traces`; a URL already
    /// ending in `/v1/traces` is kept.
    pub(crate) fn traces_url(endpoint: &str) -> String {
        let base = endpoint.trim_end_matches('/');
        if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        }
    }

    fn operation_name(endpoint: &str) -> &'static str {
        match endpoint {
            "embeddings" => "embeddings",
            _ => "chat",
        }
    }

    /// `gen_ai.provider.name`: the spec's well-known values where one
    /// applies, else the kind's config name.
    fn provider_name(kind: Kind) -> &'static str {
        match kind {
            Kind::Mistral => "mistral_ai",
            Kind::AzureOpenai => "azure.ai.openai",
            other => other.as_str(),
        }
    }

    fn outcome_name(o: Outcome) -> &'static str {
        o.as_str()
    }

    /// The deployment's provider and address (`gen_ai.provider.name`,
    /// `server.address`, `server.port`).
    fn deployment_attributes(dep: &crate::config::Deployment, attrs: &mut Vec<KeyValue>) {
        attrs.push(KeyValue::new(
            "gen_ai.provider.name",
            provider_name(dep.kind),
        ));
        if let Some((host, port)) = server_address(&dep.base_url) {
            attrs.push(KeyValue::new("server.address", host));
            attrs.push(KeyValue::new("server.port", i64::from(port)));
        }
    }

    fn server_address(base_url: &str) -> Option<(String, u16)> {
        let uri: http::Uri = base_url.parse().ok()?;
        let host = uri.host()?.to_owned();
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        Some((host, port))
    }
}
