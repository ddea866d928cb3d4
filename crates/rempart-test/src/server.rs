//! The HTTP side: one fallback handler that records, then routes on the
//! path's suffix, so any provider prefix works (`/v1`, `/openai/deployments/x`,
//! `/{project}/v1`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use crate::record::{RecordedRequest, content_text, last_user_text};
use crate::script::{DEFAULT_REPLY, Script};
use crate::wire;

/// State shared by the handler and the [`crate::MockUpstream`] handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub script: Mutex<Arc<Script>>,
    pub sequence: Mutex<VecDeque<u16>>,
    pub record: AtomicBool,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub count: AtomicUsize,
    pub count_route: bool,
    next_id: AtomicU64,
}

/// Lock, ignoring poisoning: a panicking test thread must not hide the
/// requests from the next assertion.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(script: Script, sequence: Vec<u16>, record: bool, count_route: bool) -> Self {
        Shared {
            script: Mutex::new(Arc::new(script)),
            sequence: Mutex::new(sequence.into()),
            record: AtomicBool::new(record),
            count_route,
            ..Shared::default()
        }
    }
}

/// The optional, uncounted route reporting the request count.
const COUNT_PATH: &str = "/__requests/count";
/// Its companion: the recorded request bodies (JSON, or text when not
/// JSON), in arrival order; empty while recording is off. Not counted.
const BODIES_PATH: &str = "/__requests/bodies";

/// What a request asks for, by method and path suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chat,
    Embeddings,
    Models,
    OllamaTags,
    Health,
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    let path = path.trim_end_matches('/');
    match *method {
        Method::POST if path.ends_with("/chat/completions") => Route::Chat,
        Method::POST if path.ends_with("/embeddings") => Route::Embeddings,
        Method::GET if path.ends_with("/models") => Route::Models,
        Method::GET if path == "/api/tags" => Route::OllamaTags,
        Method::GET if path == "/health" || path == "/healthz" => Route::Health,
        _ => Route::NotFound,
    }
}

/// The only handler: record, pick the status, wait, answer.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if shared.count_route && parts.method == Method::GET && parts.uri.path() == COUNT_PATH {
        let count = shared.count.load(Ordering::SeqCst);
        return json_response(&serde_json::json!({ "count": count }));
    }
    if shared.count_route && parts.method == Method::GET && parts.uri.path() == BODIES_PATH {
        let bodies: Vec<Value> = lock(&shared.requests)
            .iter()
            .map(|r| {
                r.json
                    .clone()
                    .unwrap_or_else(|| Value::String(r.body_text()))
            })
            .collect();
        return json_response(&Value::Array(bodies));
    }
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return error(400),
    };
    let json: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    let route = route(&parts.method, parts.uri.path());
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    shared.count.fetch_add(1, Ordering::SeqCst);
    let script = Arc::clone(&lock(&shared.script));

    let inference = matches!(route, Route::Chat | Route::Embeddings);
    // Probes do not consume the sequence: a background health checker
    // would otherwise eat statuses scripted for the request under test.
    let status = if inference {
        lock(&shared.sequence).pop_front().or(script.status)
    } else {
        script.status
    };

    // Record after the sequence is consumed and before any wait, so a test
    // sees the request as soon as the mock has it.
    if shared.record.load(Ordering::Relaxed) {
        let recorded = RecordedRequest {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            json: json.clone(),
        };
        lock(&shared.requests).push(recorded);
    }

    if inference && !script.delay.is_zero() {
        tokio::time::sleep(script.delay).await;
    }
    if let Some(s) = status.filter(|s| *s != 200) {
        return error(s);
    }

    let model = |default: &str| -> String {
        script
            .model
            .clone()
            .or_else(|| json.as_ref()?.get("model")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    };
    match route {
        Route::Chat => match &json {
            Some(body) => chat(&script, body, n, model("mock-model")),
            None => error(400),
        },
        Route::Embeddings => match &json {
            Some(body) => embeddings(&script, body, &model("mock-embedding")),
            None => error(400),
        },
        Route::Models => json_response(&wire::models(&model("mock-model"))),
        Route::OllamaTags => json_response(&wire::ollama_tags(&model("mock-model"))),
        Route::Health => json_response(&serde_json::json!({"status": "ok"})),
        Route::NotFound => error(404),
    }
}

fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

fn chat(script: &Script, body: &Value, n: u64, model: String) -> Response {
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    match (stream, &script.raw_json, &script.raw_sse) {
        (false, Some(raw), _) => return raw_json_response(raw),
        (true, _, Some(raw)) => {
            return sse_response(
                split_sse(raw),
                script.chunk_delay,
                script.stream_break_after,
            );
        }
        _ => {}
    }
    let content: String = if script.echo {
        last_user_text(body).unwrap_or_default()
    } else if let Some(r) = &script.reply {
        r.clone()
    } else if let Some(c) = &script.chunks {
        c.concat()
    } else {
        DEFAULT_REPLY.to_owned()
    };
    let (prompt, completion) = script.usage.unwrap_or_else(|| {
        let prompt = body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(0, |ms| {
                ms.iter()
                    .filter_map(|m| m.get("content"))
                    .map(|c| words(&content_text(c)))
                    .sum()
            });
        let completion = if script.tool_calls.is_empty() {
            words(&content)
        } else {
            script.tool_calls.iter().map(|t| words(&t.arguments)).sum()
        };
        (prompt, completion)
    });
    let meta = wire::Meta::new(n, model);
    let usage = wire::usage(prompt, completion);

    if !stream {
        return json_response(&wire::completion(
            &meta,
            &content,
            &script.tool_calls,
            usage,
        ));
    }

    let deltas: Vec<String> = match (&script.chunks, script.echo) {
        (Some(chunks), false) => chunks.clone(),
        _ => match script.split_chars {
            Some(k) => wire::split_chars(&content, k),
            None => wire::split_words(&content),
        }
        .into_iter()
        .map(str::to_owned)
        .collect(),
    };
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let events = wire::stream_events(
        &meta,
        &deltas,
        &script.tool_calls,
        include_usage.then_some(usage),
    );
    sse_response(events, script.chunk_delay, script.stream_break_after)
}

fn sse_response(events: Vec<Bytes>, gap: Duration, break_after: Option<usize>) -> Response {
    let body = if gap.is_zero() && break_after.is_none() {
        Body::from_stream(futures::stream::iter(
            events.into_iter().map(Ok::<_, Infallible>),
        ))
    } else {
        // State: remaining events and how many were sent; `None` once over.
        let state = Some((events.into_iter(), 0usize));
        Body::from_stream(futures::stream::unfold(state, move |state| async move {
            let (mut events, sent) = state?;
            if break_after == Some(sent) {
                // Let hyper flush what was sent, then abort the body: the
                // connection is dropped without the final chunk.
                tokio::time::sleep(Duration::from_millis(5)).await;
                let e = std::io::Error::other("mock upstream: scripted stream break");
                return Some((Err(e), None));
            }
            let ev = events.next()?;
            if sent > 0 && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            Some((Ok(ev), Some((events, sent + 1))))
        }))
    };
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

fn embeddings(script: &Script, body: &Value, model: &str) -> Response {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        // Token arrays: hash their JSON text.
        Some(Value::Array(a)) if a.iter().all(Value::is_array) => {
            a.iter().map(Value::to_string).collect()
        }
        Some(other) => vec![other.to_string()],
        None => return error(400),
    };
    let prompt = script
        .usage
        .map_or_else(|| inputs.iter().map(|s| words(s)).sum(), |u| u.0);
    json_response(&wire::embeddings(
        &inputs,
        script.embedding_dims,
        model,
        prompt,
    ))
}

/// Cut an SSE transcript into events, each keeping its blank-line
/// terminator, so the bytes sent are exactly the transcript's.
fn split_sse(raw: &str) -> Vec<Bytes> {
    let normalised = raw.replace("\r\n", "\n");
    normalised
        .split_inclusive("\n\n")
        .map(|ev| Bytes::from(ev.to_owned()))
        .collect()
}

fn raw_json_response(raw: &str) -> Response {
    let mut res = Response::new(Body::from(raw.to_owned()));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn json_response(v: &Value) -> Response {
    // Serialising a `Value` cannot fail.
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut res = Response::new(Body::from(bytes));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn error(status: u16) -> Response {
    let mut res = json_response(&wire::error(status));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == 429 {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_suffix() {
        let p = Method::POST;
        let g = Method::GET;
        assert_eq!(route(&p, "/v1/chat/completions"), Route::Chat);
        assert_eq!(
            route(&p, "/openai/deployments/gpt-4o/chat/completions"),
            Route::Chat
        );
        assert_eq!(route(&p, "/proj-123/v1/chat/completions"), Route::Chat);
        assert_eq!(route(&p, "/v1/embeddings"), Route::Embeddings);
        assert_eq!(route(&g, "/v1/models"), Route::Models);
        assert_eq!(route(&g, "/api/tags"), Route::OllamaTags);
        assert_eq!(route(&g, "/health"), Route::Health);
        assert_eq!(route(&g, "/healthz"), Route::Health);
        assert_eq!(route(&g, "/v1/chat/completions"), Route::NotFound);
        assert_eq!(route(&p, "/v1/completions"), Route::NotFound);
    }

    #[test]
    fn raw_sse_is_split_per_event_and_kept_whole() {
        let raw = "data: {\"a\":1}\n\n: keep-alive\n\ndata: [DONE]\n\n";
        let events = split_sse(raw);
        assert_eq!(events.len(), 3);
        assert_eq!(events.concat(), raw.as_bytes());
        // CRLF transcripts are sent with LF line ends.
        assert_eq!(split_sse("data: x\r\n\r\n").concat(), b"data: x\n\n");
    }
}
