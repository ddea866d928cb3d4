//! The request path of `POST /v1/chat/completions`, top to bottom as in
//! DESIGN.md: authenticate, locate, inspect, retrieve, decide, pseudonymise,
//! call, re-identify, record. Each step is one call into a lower crate.
//! Retrieval runs just before inspection, so retrieved sources are inspected,
//! classified and pseudonymised like the caller's own text.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rempart_audit::{AuditRecord, DecisionRecord, Outcome, RejectedCandidate};
use rempart_policy::{Admitted, Decision, Refusal, RequestFacts, RouteInput, decide};
use rempart_upstream::wire::{ChatChunk, ChatRequest, ChatResponse};
use rempart_upstream::{ChatReply, ChunkStream, UpstreamError, prepare_chat};
use sha2::{Digest, Sha256};

use crate::conversation::{Exchange, Memory};
use crate::error::ApiError;
use crate::inspect::{Inspection, Outbound, inspect, prepare_outbound};
use crate::reidentify::Reidentifier;
use crate::request::RequestCtx;
use crate::state::{AppState, Backend};
use crate::stream::{StreamJob, spawn_stream};
use crate::telemetry::Trace;

/// What the handler turns into a response.
pub enum ChatOutcome {
    /// A whole completion, encoded (JSON).
    Json(bytes::Bytes, ResponseMeta),
    /// An SSE body fed by a tracked task.
    Stream(tokio::sync::mpsc::Receiver<bytes::Bytes>, ResponseMeta),
}

/// Facts for the response headers.
#[derive(Debug, Clone, Default)]
pub struct ResponseMeta {
    /// Deployment that served.
    pub deployment: String,
    /// Audit record id.
    pub audit_id: String,
    /// Warnings (dropped options).
    pub warnings: Vec<String>,
    /// PII summary.
    pub pii: String,
    /// Routing rule.
    pub route: String,
}

/// Serve one chat request. Every outcome, refusals included, is recorded
/// in the audit log before the client hears of it.
pub async fn chat(
    state: &Arc<AppState>,
    ctx: RequestCtx,
    req: ChatRequest,
) -> Result<ChatOutcome, ApiError> {
    let mut rec = ctx.audit_draft(&state.config, "chat", &req.model);
    if let Some(ext) = &req.rempart {
        rec.purpose = ext.purpose.clone();
        rec.subject_ref = ext.subject_ref.clone();
    }
    // The whole-request timeout bounds every step, failover included; for a
    // stream, until its first chunk.
    let limit = state.config.server.request_timeout;
    let mut trace = Trace::default();
    let steps = tokio::time::timeout(limit, steps(state, &ctx, req, &mut rec, &mut trace)).await;
    match steps.unwrap_or_else(|_| {
        Err(ApiError::RequestTimeout {
            secs: limit.as_secs(),
        })
    }) {
        Ok(Served::Json(resp, meta)) => {
            rec.outcome = Outcome::Served;
            rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
            price(state, &mut rec);
            // The record goes to the writer first; the answer is encoded
            // while it is written, and released only once it is durable.
            let traced = state.telemetry.enabled().then(|| rec.clone());
            let durable = state.auditor.submit(rec);
            let body = serde_json::to_vec(&resp).map_err(|_| ApiError::Internal {
                what: "cannot encode the answer".into(),
            });
            let durable = durable.await;
            if let Some(rec) = traced {
                state.telemetry.request(state, ctx.started, &rec, &trace);
            }
            durable?;
            Ok(ChatOutcome::Json(body?.into(), meta))
        }
        Ok(Served::Stream(job)) => {
            let meta = job.meta.clone();
            let rx = spawn_stream(state.clone(), ctx, rec, trace, *job);
            Ok(ChatOutcome::Stream(rx, meta))
        }
        Err(e) => {
            rec.outcome = outcome_of(&e);
            rec.error_code = Some(e.code().to_owned());
            rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
            record(state, &ctx, rec, &trace).await?;
            Err(e)
        }
    }
}

/// Step 9: the record, durable before the answer is released; then the
/// request's trace, when traces are on (built from the record: no text).
pub(crate) async fn record(
    state: &AppState,
    ctx: &RequestCtx,
    rec: AuditRecord,
    trace: &Trace,
) -> Result<String, ApiError> {
    let traced = state.telemetry.enabled().then(|| rec.clone());
    let id = state.auditor.submit(rec).await;
    if let Some(rec) = traced {
        state.telemetry.request(state, ctx.started, &rec, trace);
    }
    id
}

/// A short code for an upstream failure (span attribute `error.type`).
pub(crate) fn upstream_error_code(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::Setup(_) => "setup",
        UpstreamError::NotAdmitted { .. } => "not_admitted",
        UpstreamError::Connect { .. } => "connect",
        UpstreamError::Timeout { .. } => "timeout",
        UpstreamError::Status { .. } => "http_status",
        UpstreamError::Broken { .. } => "broken",
        UpstreamError::Protocol { .. } => "protocol",
        _ => "other",
    }
}

// Made and moved once per request: boxing the common variant would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
enum Served {
    Json(ChatResponse, ResponseMeta),
    Stream(Box<StreamJob>),
}

async fn steps(
    state: &Arc<AppState>,
    ctx: &RequestCtx,
    mut req: ChatRequest,
    rec: &mut AuditRecord,
    trace: &mut Trace,
) -> Result<Served, ApiError> {
    // 1. Authenticate: done by the auth layer; the principal names the tenant.
    let tenant = state
        .config
        .tenants
        .get(&ctx.principal.tenant)
        .ok_or_else(|| ApiError::Internal {
            what: "the key's tenant is not in the configuration".into(),
        })?;
    let route = state
        .config
        .aliases
        .get(&req.model)
        .ok_or_else(|| ApiError::ModelNotFound {
            model: req.model.clone(),
        })?;
    if req.messages.is_empty() {
        return Err(ApiError::BadRequest {
            message: "`messages` must not be empty".into(),
            param: Some("messages".into()),
        });
    }

    // 2. Locate: the region was resolved by the request layer (pinned,
    //    trusted edge header or GeoIP).
    let region = ctx.region;

    // 4. Retrieve (before inspection, so the sources are inspected and
    //    pseudonymised like any prompt text): eligibility is checked inside
    //    the retriever; no admissible evidence → refusal, nothing contacted.
    let citations = retrieve(state, ctx, &mut req, rec).await?;

    // 3. Inspect every text part for personal data; classify sensitivity.
    let t_inspect = Instant::now();
    let inspection = inspect(&req, state.inspector.as_ref(), state.config.pii_budget)?;
    trace.inspected(t_inspect);
    rec.pii_counts = inspection.counts_by_name();
    rec.sensitivity = inspection.sensitivity.as_str().to_owned();

    // 5. Decide: candidates of the alias's matching rule, filtered by the
    //    tenant's policy, ordered by strategy and health.
    let input = RouteInput {
        prompt_tokens: req.estimated_prompt_tokens(),
        task: req.task(),
        has_images: req.has_images(),
        has_tools: req.tools.as_ref().is_some_and(|t| !t.is_empty()),
    };
    let selection = route.select(&input);
    let candidates = state.config.candidates(selection.candidates, |_| true);
    let facts = RequestFacts {
        region,
        sensitivity: inspection.sensitivity,
    };
    let decision = decide(&facts, &tenant.policy, &candidates, route.strategy, |id| {
        state.health(id)
    });
    rec.decision = decision_record(&selection.label, &decision);
    refusal(&decision, &req.model, &ctx.principal.tenant)?;

    // Conversation memory, when the request names a conversation: the
    // placeholders of its earlier turns.
    let memory =
        crate::conversation::open(state, &ctx.principal.tenant, req.rempart.as_ref()).await?;
    let no_memory = rempart_pii::Mapping::new();
    let known = memory.as_ref().map_or(&no_memory, |m| &m.known);

    // 6–7. Pseudonymise for each admitted deployment's tier and call it,
    //      failing over only within the admitted list.
    let mut failures = Vec::new();
    for admitted in decision.admitted() {
        // The request's own deadline bounds failover.
        if ctx.started.elapsed() >= state.config.server.request_timeout {
            failures.push(UpstreamError::Timeout {
                deployment: admitted.id().0.clone(),
            });
            break;
        }
        let outbound = prepare_outbound(&req, &inspection, tenant, admitted, known)?;
        rec.decision.attempted.push(admitted.id().0.clone());
        let breaker = state.breakers.get(admitted.id());
        let t0 = Instant::now();
        let called = call(state, ctx, admitted, &outbound).await;
        trace.attempt(
            &admitted.id().0,
            t0,
            called.as_ref().err().map(upstream_error_code),
        );
        match called {
            Ok(reply) => {
                if let Some(b) = breaker {
                    b.success(t0.elapsed());
                }
                let meta = meta(
                    ctx,
                    admitted,
                    &inspection,
                    &selection.label,
                    &reply.warnings,
                );
                describe_deployment(state, admitted, rec);
                rec.request_hash = Some(reply.request_hash.clone());
                // 8–9. Re-identify the answer, remember the turn, record,
                //      release.
                let memory = match memory {
                    Some(m) => Some((m, exchange(&req, &outbound)?)),
                    None => None,
                };
                let wants_usage = req.wants_stream_usage();
                let (served, unsaved) =
                    finish(reply, outbound, meta, wants_usage, rec, memory, citations);
                // A whole answer is remembered here; a stream's at its end.
                if let Some((m, x, answer)) = unsaved {
                    m.save(state, &ctx.principal.tenant, &x, &answer).await?;
                }
                return Ok(served);
            }
            Err(e) => {
                let retry = e.is_retryable();
                if let Some(b) = breaker.filter(|_| e.counts_as_failure()) {
                    b.failure(Instant::now());
                }
                tracing::warn!(deployment = %admitted.id(), error = %e, retry, "Upstream call failed.");
                failures.push(e);
                if !retry {
                    break;
                }
            }
        }
    }
    Err(ApiError::Upstream { failures })
}

/// Step 4: when the request names collections, the admissible chunks for
/// its last user message become a system message of numbered sources,
/// placed before the caller's messages; returns the citations. Records the
/// retrieved chunk ids and the denied count.
async fn retrieve(
    state: &AppState,
    ctx: &RequestCtx,
    req: &mut ChatRequest,
    rec: &mut AuditRecord,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(ext) = &req.rempart else {
        return Ok(None);
    };
    let Some(collections) = ext.collections.clone() else {
        return Ok(None);
    };
    if collections.is_empty() {
        return Err(ApiError::BadRequest {
            message: "`rempart.collections` is empty: name at least one collection".into(),
            param: Some("rempart.collections".into()),
        });
    }
    if collections
        .iter()
        .any(|c| rempart_store::check_collection(c).is_err())
    {
        return Err(ApiError::BadRequest {
            message: "`rempart.collections`: a collection name is not 1 to 128 ASCII letters, digits, `-`, `_` or `.`".into(),
            param: Some("rempart.collections".into()),
        });
    }
    let question = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.text())
        .unwrap_or_default();
    let principal = crate::collections::principal_of(&ctx.principal, ext.purpose.as_deref());
    let found = state
        .retriever
        .search(
            &principal,
            &collections,
            &question,
            crate::collections::CHAT_K,
        )
        .await
        .map_err(crate::collections::api_error)?;
    rec.retrieved_chunks = found.hits.iter().map(|h| h.chunk.clone()).collect();
    rec.denied_chunks = u32::try_from(found.denied).unwrap_or(u32::MAX);
    if found.hits.is_empty() {
        return Err(ApiError::NoEvidence {
            collections,
            denied: found.denied,
        });
    }
    let at = req
        .messages
        .iter()
        .position(|m| m.role != "system" && m.role != "developer")
        .unwrap_or(0);
    req.messages.insert(
        at,
        rempart_upstream::wire::Message {
            role: "system".into(),
            content: Some(rempart_upstream::wire::Content::Text(
                crate::collections::sources_message(&found.hits),
            )),
            tool_calls: None,
            extra: serde_json::Map::new(),
        },
    );
    Ok(Some(crate::collections::citations(&found.hits)))
}

/// A successful call: the reply, with the first stream chunk already read
/// (so a stream that fails before its first chunk fails over).
struct Called {
    reply: Reply,
    warnings: Vec<String>,
    request_hash: String,
}

enum Reply {
    Json(ChatResponse),
    Stream(ChatChunk, ChunkStream),
}

/// Step 7: one call to one admitted deployment.
async fn call(
    state: &AppState,
    ctx: &RequestCtx,
    admitted: &Admitted,
    outbound: &Outbound,
) -> Result<Called, UpstreamError> {
    let request = outbound
        .request_for(admitted)
        .map_err(|_| UpstreamError::NotAdmitted {
            deployment: admitted.id().0.clone(),
        })?;
    let id = admitted.id().0.clone();
    let (reply, warnings, request_hash) = match state.backends.get(admitted.id()) {
        Some(Backend::Http(endpoint)) => {
            let prepared = prepare_chat(endpoint, request);
            let hash = hex::encode(Sha256::digest(&prepared.encoded));
            let reply = state.client.chat(admitted, endpoint, &prepared).await?;
            (reply, prepared.warnings, hash)
        }
        Some(Backend::Embedded(engine)) => {
            let mut warnings = Vec::new();
            if crate::embedded::messages(request).1 {
                warnings.push(format!(
                    "image parts dropped: deployment {id} reads text only"
                ));
            }
            if crate::embedded::tools_not_forced(request) {
                warnings.push(format!(
                    "tools offered with tool_choice auto: deployment {id} answers in text; force a call with tool_choice \"required\" or a named function"
                ));
            }
            if request.reasoning_effort.is_some() {
                warnings.push(format!(
                    "reasoning_effort dropped: deployment {id} has no reasoning budget"
                ));
            }
            let hash = sha256_json(request);
            let reply =
                crate::embedded::chat(engine.clone(), request, &id, &ctx.request_id).await?;
            (reply, warnings, hash)
        }
        None => return Err(UpstreamError::NotAdmitted { deployment: id }),
    };
    let reply = match reply {
        ChatReply::Json(r) => Reply::Json(r),
        ChatReply::Stream(mut s) => match s.next().await {
            Some(Ok(first)) => Reply::Stream(first, s),
            Some(Err(e)) => return Err(e),
            None => return Err(UpstreamError::Broken { deployment: id }),
        },
    };
    Ok(Called {
        reply,
        warnings,
        request_hash,
    })
}

/// What this turn adds to its conversation: the mapping after the request
/// and the caller's newest message.
fn exchange(req: &ChatRequest, outbound: &Outbound) -> Result<Exchange, ApiError> {
    Ok(Exchange {
        mapping_json: crate::conversation::mapping_json(&outbound.mapping)?,
        asked: req.messages.last().map(|m| m.text()).unwrap_or_default(),
    })
}

/// The first choice's answer text, as the caller receives it.
fn answer_text(resp: &ChatResponse) -> String {
    resp.choices
        .first()
        .and_then(|c| c.pointer("/message/content"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The served reply: re-identified, with its citations. A stream takes the
/// conversation turn to save when it ends; a whole answer gives it back
/// with the answer text, for the caller to save before releasing it.
fn finish(
    called: Called,
    outbound: Outbound,
    meta: ResponseMeta,
    wants_usage: bool,
    rec: &mut AuditRecord,
    memory: Option<(Memory, Exchange)>,
    citations: Option<serde_json::Value>,
) -> (Served, Option<(Memory, Exchange, String)>) {
    let prompt_bytes = outbound.prompt_bytes();
    let reid = Reidentifier::new(outbound.mapping);
    match called.reply {
        Reply::Json(mut resp) => {
            let output = serde_json::to_vec(&resp.choices).unwrap_or_default();
            rec.output_hash = Some(hex::encode(Sha256::digest(&output)));
            rec.upstream_model = Some(resp.model.clone());
            if let Some(u) = resp.usage {
                rec.tokens_in = u.prompt_tokens;
                rec.tokens_out = u.completion_tokens;
            } else {
                rec.tokens_in = estimate_tokens(prompt_bytes);
                rec.tokens_out = estimate_tokens(output.len());
                rec.tokens_estimated = true;
            }
            reid.response(&mut resp);
            if let Some(c) = citations {
                resp.extra
                    .insert("rempart".into(), serde_json::json!({"citations": c}));
            }
            let unsaved = memory.map(|(m, x)| (m, x, answer_text(&resp)));
            (Served::Json(resp, meta), unsaved)
        }
        Reply::Stream(first, rest) => {
            let job = StreamJob {
                first,
                rest,
                reid,
                meta,
                wants_usage,
                prompt_tokens_estimate: estimate_tokens(prompt_bytes),
                memory,
                citations,
            };
            (Served::Stream(Box::new(job)), None)
        }
    }
}

/// A token-count estimate for text of `bytes` bytes, used only when the
/// upstream reports no usage (about four bytes per token for European
/// languages with BPE vocabularies; the record says it is an estimate).
pub(crate) fn estimate_tokens(bytes: usize) -> u64 {
    bytes.div_ceil(4) as u64
}

/// The served deployment's facts, into the record.
pub(crate) fn describe_deployment(state: &AppState, admitted: &Admitted, rec: &mut AuditRecord) {
    if let Some(d) = state.config.deployments.get(admitted.id()) {
        rec.deployment = Some(admitted.id().0.clone());
        rec.operator = Some(d.facts.operator.clone());
        rec.dc_country = Some(d.facts.dc_country.to_string());
        rec.trust_tier = Some(admitted.tier().as_str().to_owned());
        rec.model = Some(d.model.clone());
    }
}

fn meta(
    ctx: &RequestCtx,
    admitted: &Admitted,
    inspection: &Inspection,
    route: &str,
    warnings: &[String],
) -> ResponseMeta {
    ResponseMeta {
        deployment: admitted.id().0.clone(),
        audit_id: ctx.request_id.clone(),
        warnings: warnings.to_vec(),
        pii: inspection.header_value(),
        route: route.to_owned(),
    }
}

/// The decision as the audit record keeps it.
pub fn decision_record(route: &str, decision: &Decision) -> DecisionRecord {
    DecisionRecord {
        route: route.to_owned(),
        admitted: decision
            .admitted()
            .iter()
            .map(|a| a.id().0.clone())
            .collect(),
        rejected: decision
            .rejected
            .iter()
            .map(|r| RejectedCandidate {
                deployment: r.id.0.clone(),
                reasons: r.reasons.iter().map(|x| x.code().to_owned()).collect(),
            })
            .collect(),
        unavailable: decision.unavailable.iter().map(|d| d.0.clone()).collect(),
        attempted: Vec::new(),
    }
}

/// The client's error when nothing can serve: 403 for policy, 503 for none
/// healthy. Nothing has been contacted at this point.
pub fn refusal(decision: &Decision, model: &str, tenant: &str) -> Result<(), ApiError> {
    match decision.refusal() {
        None => Ok(()),
        Some(Refusal::Policy) => Err(ApiError::PolicyRefusal {
            model: model.to_owned(),
            tenant: tenant.to_owned(),
            rejected: decision.rejected.clone(),
        }),
        Some(Refusal::NoneHealthy) => Err(ApiError::NoneHealthy {
            model: model.to_owned(),
            unavailable: decision.unavailable.iter().map(|d| d.0.clone()).collect(),
        }),
        Some(Refusal::NoCandidates) => Err(ApiError::Internal {
            what: format!("alias `{model}` has no candidates"),
        }),
    }
}

/// Cost of the record's tokens at its deployment's catalogue price.
pub fn price(state: &AppState, rec: &mut AuditRecord) {
    let id = rec
        .deployment
        .as_ref()
        .map(|d| rempart_policy::DeploymentId(d.clone()));
    if let Some(d) = id.as_ref().and_then(|id| state.config.deployments.get(id)) {
        rec.cost_micro_eur = d.price.cost_micro_eur(rec.tokens_in, rec.tokens_out);
    }
}

/// SHA-256 (hex) of a value's JSON encoding.
pub fn sha256_json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The audit outcome of a refused or failed request.
pub fn outcome_of(e: &ApiError) -> Outcome {
    match e {
        ApiError::PolicyRefusal { .. } => Outcome::RefusedPolicy,
        ApiError::PiiRefusal { .. } => Outcome::RefusedPii,
        ApiError::NoEvidence { .. } => Outcome::RefusedNoEvidence,
        ApiError::NoneHealthy { .. } => Outcome::Unavailable,
        ApiError::Upstream { .. } | ApiError::RequestTimeout { .. } | ApiError::Internal { .. } => {
            Outcome::UpstreamError
        }
        ApiError::BadRequest { .. }
        | ApiError::Unauthorized
        | ApiError::ModelNotFound { .. }
        | ApiError::NotFound
        | ApiError::Missing { .. }
        | ApiError::MethodNotAllowed
        | ApiError::PayloadTooLarge { .. } => Outcome::BadRequest,
    }
}
