//! The HTTP client for OpenAI-compatible upstreams.
//!
//! Every call takes the policy's [`Admitted`] proof for the deployment it
//! contacts: a deployment the policy did not admit for this request cannot be
//! called — not for fallback, retry or shadow traffic.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use rempart_policy::Admitted;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use crate::endpoint::Endpoint;
use crate::error::UpstreamError;
use crate::kind::Kind;
use crate::wire::{
    ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, ErrorBody,
};

/// A chat body ready for one deployment, with the warnings its adaptation
/// produced (e.g. `reasoning_effort` dropped).
#[derive(Debug, Clone)]
pub struct PreparedChat {
    /// The JSON body to send.
    pub body: Map<String, Value>,
    /// Whether it streams.
    pub stream: bool,
    /// Options dropped or changed, for the `X-Rempart-Warning` header.
    pub warnings: Vec<String>,
    /// `body` encoded once: the exact bytes sent (and hashed for the audit
    /// record).
    pub encoded: bytes::Bytes,
}

/// Turn a client request into the body for one deployment (pure).
pub fn prepare_chat(endpoint: &Endpoint, req: &ChatRequest) -> PreparedChat {
    let mut warnings = Vec::new();
    let stream = req.is_stream();
    let mut body = match serde_json::to_value(req) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    body.remove("rempart");
    body.insert("model".into(), Value::from(endpoint.model.clone()));
    if body.contains_key("reasoning_effort") && !endpoint.reasoning {
        body.remove("reasoning_effort");
        warnings.push(format!(
            "reasoning_effort dropped: deployment {} has no reasoning budget",
            endpoint.id
        ));
    }
    if stream {
        // Always ask for usage, to count tokens and cost; the gateway strips
        // the usage chunk when the client did not ask for it.
        let opts = body
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(o) = opts {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    endpoint.kind.adapt_chat(&mut body, stream, &mut warnings);
    let encoded = serde_json::to_vec(&body).unwrap_or_default().into();
    PreparedChat {
        encoded,
        body,
        stream,
        warnings,
    }
}

/// A stream of chunks from an upstream.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, UpstreamError>> + Send>>;

/// What an upstream answered.
pub enum ChatReply {
    /// A whole completion.
    Json(ChatResponse),
    /// SSE chunks; ends after `[DONE]`, or with an error item.
    Stream(ChunkStream),
}

thread_local! {
    /// This thread's own pool, when [`Client::use_pool_per_thread`] set one.
    static THREAD_POOL: std::cell::OnceCell<reqwest::Client> = const { std::cell::OnceCell::new() };
}

/// The one place the HTTP client's settings live.
fn build() -> Result<reqwest::Client, UpstreamError> {
    // Several crates may race to install it; either outcome is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        // Never follow a redirect: a 307/308 would re-send the prompt
        // to a host the policy engine never admitted. A 3xx is an
        // upstream status error like any other.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| UpstreamError::Setup(e.to_string()))
}

/// The upstream client (one connection pool for all deployments, or one
/// per serving thread).
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    /// A client with rustls (ring) and the platform's trust roots.
    pub fn new() -> Result<Client, UpstreamError> {
        Ok(Client { http: build()? })
    }

    /// Gives the calling thread a connection pool of its own, used by every
    /// call this thread makes from now on. A thread-per-core server calls
    /// it once on each serving thread: a pooled connection is driven by the
    /// event loop that opened it, so sharing one pool across single-threaded
    /// event loops would hand every reused connection's I/O to another
    /// thread and back.
    pub fn use_pool_per_thread(&self) -> Result<(), UpstreamError> {
        let http = build()?;
        THREAD_POOL.with(|p| {
            let _ = p.set(http);
        });
        Ok(())
    }

    fn http(&self) -> reqwest::Client {
        THREAD_POOL
            .with(|p| p.get().cloned())
            .unwrap_or_else(|| self.http.clone())
    }

    fn request(&self, endpoint: &Endpoint, url: String) -> reqwest::RequestBuilder {
        let mut rb = self.http().post(url);
        if let Some(key) = &endpoint.api_key {
            rb = match endpoint.kind {
                Kind::AzureOpenai => rb.header("api-key", key.expose_secret()),
                _ => rb.bearer_auth(key.expose_secret()),
            };
        }
        rb
    }

    /// Call the chat endpoint of an admitted deployment.
    pub async fn chat(
        &self,
        admitted: &Admitted,
        endpoint: &Endpoint,
        prepared: &PreparedChat,
    ) -> Result<ChatReply, UpstreamError> {
        check_admitted(admitted, endpoint)?;
        let id = endpoint.id.0.clone();
        let rb = self
            .request(endpoint, endpoint.chat_url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(prepared.encoded.clone());
        let resp = send(rb, endpoint.timeout, &id).await?;
        if !prepared.stream {
            let body = with_timeout(resp.bytes(), endpoint.timeout, &id).await?;
            let parsed: ChatResponse =
                serde_json::from_slice(&body).map_err(|_| UpstreamError::Protocol {
                    deployment: id,
                    what: "chat completion is not valid JSON",
                })?;
            return Ok(ChatReply::Json(parsed));
        }
        Ok(ChatReply::Stream(sse_chunks(
            resp,
            endpoint.stream_idle_timeout,
            id,
        )))
    }

    /// Call the embeddings endpoint of an admitted deployment.
    pub async fn embeddings(
        &self,
        admitted: &Admitted,
        endpoint: &Endpoint,
        req: &EmbeddingsRequest,
    ) -> Result<EmbeddingsResponse, UpstreamError> {
        check_admitted(admitted, endpoint)?;
        let id = endpoint.id.0.clone();
        let mut body = match serde_json::to_value(req) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        body.insert("model".into(), Value::from(endpoint.model.clone()));
        endpoint.kind.adapt_embeddings(&mut body);
        let rb = self
            .request(endpoint, endpoint.embeddings_url())
            .json(&body);
        let resp = send(rb, endpoint.timeout, &id).await?;
        let bytes = with_timeout(resp.bytes(), endpoint.timeout, &id).await?;
        serde_json::from_slice(&bytes).map_err(|_| UpstreamError::Protocol {
            deployment: id,
            what: "embeddings response is not valid JSON",
        })
    }

    /// Active health probe (self-hosted kinds). Only call it for deployments
    /// some tenant's policy can admit: a probe is a contact too.
    pub async fn probe(&self, endpoint: &Endpoint) -> Result<Duration, UpstreamError> {
        let Some(url) = endpoint.health_url() else {
            return Ok(Duration::ZERO);
        };
        let id = endpoint.id.0.clone();
        let start = std::time::Instant::now();
        let mut rb = self.http().get(url);
        if let Some(key) = &endpoint.api_key {
            rb = rb.bearer_auth(key.expose_secret());
        }
        let _ = send(rb, Duration::from_secs(3), &id).await?;
        Ok(start.elapsed())
    }
}

fn check_admitted(admitted: &Admitted, endpoint: &Endpoint) -> Result<(), UpstreamError> {
    if admitted.id() != &endpoint.id {
        return Err(UpstreamError::NotAdmitted {
            deployment: endpoint.id.0.clone(),
        });
    }
    if endpoint.kind == Kind::Embedded {
        return Err(UpstreamError::Protocol {
            deployment: endpoint.id.0.clone(),
            what: "embedded is not HTTP",
        });
    }
    Ok(())
}

async fn with_timeout<T>(
    fut: impl Future<Output = Result<T, reqwest::Error>>,
    timeout: Duration,
    id: &str,
) -> Result<T, UpstreamError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(UpstreamError::Timeout {
            deployment: id.to_owned(),
        }),
        Ok(Err(e)) => Err(classify(e, id)),
        Ok(Ok(v)) => Ok(v),
    }
}

async fn send(
    rb: reqwest::RequestBuilder,
    timeout: Duration,
    id: &str,
) -> Result<reqwest::Response, UpstreamError> {
    let resp = with_timeout(rb.send(), timeout, id).await?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    // The upstream's error code is kept; its message is not (it may quote
    // the prompt).
    let code = match tokio::time::timeout(Duration::from_secs(2), resp.bytes()).await {
        Ok(Ok(b)) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| error_code(&v)),
        _ => None,
    };
    Err(UpstreamError::Status {
        deployment: id.to_owned(),
        status: status.as_u16(),
        code,
        retry_after,
    })
}

fn classify(e: reqwest::Error, id: &str) -> UpstreamError {
    let deployment = id.to_owned();
    if e.is_timeout() {
        UpstreamError::Timeout { deployment }
    } else if e.is_connect() {
        UpstreamError::Connect { deployment }
    } else {
        UpstreamError::Broken { deployment }
    }
}

/// Whether an SSE payload is an error report rather than a chunk: OpenAI,
/// vLLM and Ollama send `{"error": {...}}`, TGI `{"error": "...",
/// "error_type": "..."}`, Mistral a top-level `{"object": "error", ...}`.
fn is_error_event(v: &Value) -> bool {
    v.get("error").is_some_and(|e| !e.is_null())
        || v.get("object").and_then(Value::as_str) == Some("error")
}

/// The provider's error code (or type) from an error body, whatever its
/// shape (see [`is_error_event`]); vLLM puts the HTTP status in `code` as a
/// number. The message is never kept: it may quote the prompt.
fn error_code(v: &Value) -> Option<String> {
    let text = |x: Option<&Value>| match x? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if let Ok(body) = serde_json::from_value::<ErrorBody>(v.clone()) {
        return body.error.code.or(Some(body.error.kind));
    }
    let obj = match v.get("error") {
        Some(e @ Value::Object(_)) => e,
        // TGI: `{"error": "message", "error_type": "validation"}`.
        Some(Value::String(_)) => return text(v.get("error_type")),
        _ => v,
    };
    text(obj.get("code")).or_else(|| text(obj.get("type")))
}

fn sse_chunks(resp: reqwest::Response, idle: Duration, id: String) -> ChunkStream {
    let events = resp.bytes_stream().eventsource();
    // State: the event stream, or None once a terminal item was yielded.
    let s = futures::stream::unfold(Some(events), move |state| {
        let id = id.clone();
        async move {
            let mut events = state?;
            loop {
                let next = match tokio::time::timeout(idle, events.next()).await {
                    Err(_) => return Some((Err(UpstreamError::Timeout { deployment: id }), None)),
                    Ok(n) => n,
                };
                let ev = match next {
                    // Ended or failed without `[DONE]`: the stream broke.
                    None | Some(Err(_)) => {
                        return Some((Err(UpstreamError::Broken { deployment: id }), None));
                    }
                    Some(Ok(ev)) => ev,
                };
                let data = ev.data.trim();
                if data == "[DONE]" {
                    return None;
                }
                if data.is_empty() {
                    continue;
                }
                let Ok(value) = serde_json::from_str::<Value>(data) else {
                    let err = UpstreamError::Protocol {
                        deployment: id,
                        what: "stream chunk is not valid JSON",
                    };
                    return Some((Err(err), None));
                };
                // Servers report a failure mid-stream as an error event, not a
                // chunk. It must be checked first: every `ChatChunk` field has
                // a default, so `{"error": ...}` would parse as an empty chunk.
                if is_error_event(&value) {
                    let err = UpstreamError::Status {
                        deployment: id,
                        status: 502,
                        code: error_code(&value),
                        retry_after: None,
                    };
                    return Some((Err(err), None));
                }
                return match serde_json::from_value::<ChatChunk>(value) {
                    Ok(chunk) => Some((Ok(chunk), Some(events))),
                    Err(_) => Some((
                        Err(UpstreamError::Protocol {
                            deployment: id,
                            what: "stream chunk is not a chat completion chunk",
                        }),
                        None,
                    )),
                };
            }
        }
    });
    Box::pin(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_shapes_of_each_server() {
        let cases = [
            // OpenAI, Ollama, Azure.
            (
                json!({"error": {"message": "m", "type": "server_error", "param": null, "code": "internal_error"}}),
                Some("internal_error"),
            ),
            (
                json!({"error": {"message": "m", "type": "invalid_request_error", "param": null, "code": null}}),
                Some("invalid_request_error"),
            ),
            // vLLM: numeric code.
            (
                json!({"error": {"object": "error", "message": "m", "type": "BadRequestError", "param": null, "code": 400}}),
                Some("400"),
            ),
            // TGI: a string and `error_type`.
            (
                json!({"error": "m", "error_type": "validation"}),
                Some("validation"),
            ),
            // Mistral: top-level error object (422 validation).
            (
                json!({"object": "error", "message": {"detail": []}, "type": "invalid_request_message_error", "param": null, "code": null}),
                Some("invalid_request_message_error"),
            ),
        ];
        for (v, code) in cases {
            assert!(is_error_event(&v), "{v}");
            assert_eq!(error_code(&v).as_deref(), code, "{v}");
        }
        // A chunk is not an error, even with `usage: null` and odd fields.
        let chunk = json!({"id": "", "choices": [], "usage": null, "error": null});
        assert!(!is_error_event(&chunk));
        // Mistral's 429 body has only a message: no code, never the text.
        assert_eq!(
            error_code(&json!({"message": "Requests rate limit exceeded"})),
            None
        );
    }
}
