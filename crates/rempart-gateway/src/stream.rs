//! Streaming answers: a tracked task pumps upstream chunks through
//! re-identification to the client, and records the audit entry when the
//! stream ends — even if the client hung up. `[DONE]` is sent only after the
//! record is durable; a broken upstream stream ends with an error event.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use rempart_audit::{AuditRecord, Outcome};
use rempart_upstream::ChunkStream;
use rempart_upstream::wire::{ChatChunk, ErrorBody, ErrorDetail, Usage};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::chat::ResponseMeta;
use crate::conversation::{Exchange, Memory};
use crate::reidentify::Reidentifier;
use crate::request::RequestCtx;
use crate::state::AppState;
use crate::telemetry::Trace;

/// A stream ready to pump.
pub struct StreamJob {
    /// The first chunk (already received).
    pub first: ChatChunk,
    /// The rest.
    pub rest: ChunkStream,
    /// Re-identification state.
    pub reid: Reidentifier,
    /// Response facts.
    pub meta: ResponseMeta,
    /// Whether the client asked for the usage chunk.
    pub wants_usage: bool,
    /// Prompt tokens to record if the upstream reports no usage.
    pub prompt_tokens_estimate: u64,
    /// The conversation to remember this turn in, if any.
    pub memory: Option<(Memory, Exchange)>,
    /// Citations of the retrieved sources, sent in a last chunk with no
    /// choices (as the usage chunk is) before `[DONE]`.
    pub citations: Option<serde_json::Value>,
}

/// A chunk with no choices after the answer (usage, citations): one field
/// besides the stream's id, creation time and model.
fn closing_chunk(
    id: &str,
    created: u64,
    rec: &AuditRecord,
    field: &str,
    value: serde_json::Value,
) -> Bytes {
    let mut chunk = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": rec.upstream_model.as_deref().unwrap_or_default(),
        "choices": [],
    });
    chunk[field] = value;
    event(&chunk)
}

fn event(json: &impl serde::Serialize) -> Bytes {
    let mut v = b"data: ".to_vec();
    let _ = serde_json::to_writer(&mut v, json);
    v.extend_from_slice(b"\n\n");
    Bytes::from(v)
}

/// Whether a delta carries generated text (content, reasoning or tool-call
/// arguments), i.e. at least one token.
fn carries_tokens(delta: &serde_json::Value) -> bool {
    let nonempty =
        |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).is_some_and(|s| !s.is_empty());
    nonempty(delta.get("content"))
        || nonempty(delta.get("reasoning_content"))
        || delta
            .get("tool_calls")
            .and_then(|t| t.as_array())
            .is_some_and(|calls| {
                calls
                    .iter()
                    .any(|c| nonempty(c.pointer("/function/arguments")))
            })
}

/// Append a chunk's first-choice content (already re-identified).
fn collect_answer(chunk: &ChatChunk, answer: &mut String) {
    if let Some(text) = chunk
        .choices
        .iter()
        .find(|c| c.get("index").and_then(|i| i.as_u64()).unwrap_or(0) == 0)
        .and_then(|c| c.pointer("/delta/content"))
        .and_then(|v| v.as_str())
    {
        answer.push_str(text);
    }
}

/// Start pumping; returns the body's receiver.
pub fn spawn_stream(
    state: Arc<AppState>,
    ctx: RequestCtx,
    rec: AuditRecord,
    trace: Trace,
    job: StreamJob,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let tracker = state.tracker.clone();
    tracker.spawn(pump(state, ctx, rec, trace, job, tx));
    rx
}

async fn pump(
    state: Arc<AppState>,
    ctx: RequestCtx,
    mut rec: AuditRecord,
    trace: Trace,
    job: StreamJob,
    tx: mpsc::Sender<Bytes>,
) {
    let StreamJob {
        first,
        mut rest,
        mut reid,
        meta,
        wants_usage,
        prompt_tokens_estimate,
        memory,
        citations,
    } = job;
    // The answer as the client receives it (first choice), for the
    // conversation's stored turn.
    let mut answer = String::new();
    let mut usage_reported = false;
    // Servers stream one token per delta; counted in case no usage comes.
    let mut deltas = 0u64;
    let (mut last_id, mut last_created) = (String::new(), 0u64);
    let mut output = Sha256::new();
    let mut client_gone = false;
    let mut failure = None;
    let mut ttft = None;
    let mut next = Some(first);
    loop {
        let mut chunk = match next.take() {
            Some(c) => c,
            None => match rest.next().await {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    failure = Some(e);
                    break;
                }
            },
        };
        if ttft.is_none()
            && chunk.choices.iter().any(|c| {
                c.pointer("/delta/content")
                    .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            })
        {
            ttft = Some(ctx.started.elapsed().as_millis() as u64);
        }
        if let Some(u) = chunk.usage {
            rec.tokens_in = u.prompt_tokens;
            rec.tokens_out = u.completion_tokens;
            usage_reported = true;
        }
        if !chunk.model.is_empty() {
            rec.upstream_model = Some(chunk.model.clone());
        }
        if !chunk.id.is_empty() {
            last_id.clone_from(&chunk.id);
        }
        last_created = last_created.max(chunk.created);
        for c in &chunk.choices {
            if let Some(d) = c.get("delta") {
                output.update(serde_json::to_vec(d).unwrap_or_default());
                if carries_tokens(d) {
                    deltas += 1;
                }
            }
        }
        reid.chunk(&mut chunk);
        if memory.is_some() {
            collect_answer(&chunk, &mut answer);
        }
        if !wants_usage {
            if chunk.choices.is_empty() && chunk.usage.is_some() {
                continue;
            }
            chunk.usage = None;
        }
        if !client_gone && tx.send(event(&chunk)).await.is_err() {
            // Client hung up: stop reading upstream, still record.
            client_gone = true;
            break;
        }
    }
    let held = reid.flush();
    answer.push_str(&held);
    if !held.is_empty() && !client_gone && failure.is_none() {
        let _ = tx.send(event(&serde_json::json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": held}, "finish_reason": null}]}))).await;
    }
    if !usage_reported {
        rec.tokens_in = prompt_tokens_estimate;
        rec.tokens_out = deltas;
        rec.tokens_estimated = true;
        // The client asked for usage and the upstream sent none (e.g.
        // llama-cpp-python ignores `stream_options`): give the estimate,
        // marked as such, rather than nothing.
        if wants_usage && !client_gone && failure.is_none() {
            let usage = Usage {
                prompt_tokens: rec.tokens_in,
                completion_tokens: rec.tokens_out,
                total_tokens: rec.tokens_in + rec.tokens_out,
                estimated: true,
            };
            let tail = closing_chunk(&last_id, last_created, &rec, "usage", json!(usage));
            let _ = tx.send(tail).await;
        }
    }
    if let Some(c) = citations
        && !client_gone
        && failure.is_none()
    {
        let tail = closing_chunk(
            &last_id,
            last_created,
            &rec,
            "rempart",
            json!({"citations": c}),
        );
        let _ = tx.send(tail).await;
    }
    rec.ttft_ms = ttft;
    rec.latency_ms = ctx.started.elapsed().as_millis() as u64;
    rec.output_hash = Some(hex::encode(output.finalize()));
    if let Some(d) = rec.deployment.as_ref().and_then(|d| {
        state
            .config
            .deployments
            .get(&rempart_policy::DeploymentId(d.clone()))
    }) {
        rec.cost_micro_eur = d.price.cost_micro_eur(rec.tokens_in, rec.tokens_out);
    }
    match &failure {
        None => rec.outcome = Outcome::Served,
        Some(e) => {
            rec.outcome = Outcome::UpstreamError;
            rec.error_code = Some("upstream_stream_broken".into());
            if e.counts_as_failure()
                && let Some(b) = state
                    .breakers
                    .get(&rempart_policy::DeploymentId(meta.deployment.clone()))
            {
                b.failure(Instant::now());
            }
            tracing::warn!(deployment = %meta.deployment, error = %e, "Upstream stream broke.");
        }
    }
    if client_gone {
        rec.error_code = Some("client_disconnected".into());
    }
    // A complete answer is remembered before the record; if it cannot be,
    // the stream ends with the error instead of `[DONE]`.
    let mut remembered = Ok(());
    if let (Some((m, x)), None) = (&memory, &failure) {
        remembered = m.save(&state, &ctx.principal.tenant, x, &answer).await;
        if remembered.is_err() {
            rec.error_code = Some("conversation_not_saved".into());
        }
    }
    let recorded = crate::chat::record(&state, &ctx, rec, &trace).await;
    if client_gone {
        return;
    }
    let recorded = remembered.and(recorded.map(|_| ()));
    match (failure, recorded) {
        (None, Ok(())) => {
            let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
        }
        (Some(e), _) => {
            let body = ErrorBody {
                error: ErrorDetail {
                    message: format!(
                        "the upstream stream broke after the answer started ({e}); the answer is incomplete"
                    ),
                    kind: "api_error".into(),
                    code: Some("upstream_stream_broken".into()),
                    param: None,
                },
            };
            let _ = tx.send(event(&body)).await;
        }
        (None, Err(e)) => {
            let _ = tx.send(event(&e.body())).await;
        }
    }
}
