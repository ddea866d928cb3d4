//! One conformance suite, run for every HTTP upstream kind (TensorZero's
//! `generate_provider_tests!`): each kind's recorded fixtures in
//! `tests/fixtures/<kind>/` are replayed by `MockUpstream`.
//!
//! - `request.json`: what an OpenAI SDK client sends (every quirky option);
//! - `expected.json`: what must reach the provider (method, path, query,
//!   auth header, exact body, warnings), the body's additions when streamed,
//!   and what the client must parse out of the replies;
//! - `response.json` / `stream.sse`: the provider's reply in its own style.
//!
//! Calls go through `rempart_policy::decide`: `Admitted` cannot be forged.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use rempart_policy::{
    Admitted, Candidate, Country, DeploymentFacts, DeploymentId, Health, Hosting, Provenance,
    RequestFacts, Retention, Strategy, TenantPolicy, decide,
};
use rempart_test::MockUpstream;
use rempart_upstream::wire::{ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest};
use rempart_upstream::{ChatReply, Client, Endpoint, Kind, UpstreamError, prepare_chat};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

// === fixtures ===

struct Fixture {
    kind: Kind,
    request: Value,
    expected: Value,
    response: String,
    stream: String,
}

fn fixture(kind: Kind) -> Fixture {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind.as_str());
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
    };
    let json = |name: &str| -> Value {
        serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    Fixture {
        kind,
        request: json("request.json"),
        expected: json("expected.json"),
        response: read("response.json"),
        stream: read("stream.sse"),
    }
}

fn deployment(kind: Kind) -> DeploymentId {
    DeploymentId(format!("{}-eu", kind.as_str()))
}

/// An endpoint of `kind` pointing at the mock, as `expected.json` describes.
fn endpoint(kind: Kind, mock: &MockUpstream, expected: &Value) -> Endpoint {
    let e = &expected["endpoint"];
    Endpoint {
        id: deployment(kind),
        kind,
        base_url: format!("{}{}", mock.url(), e["base_path"].as_str().unwrap()),
        model: e["model"].as_str().unwrap().to_owned(),
        api_version: None,
        api_key: e["api_key"]
            .as_str()
            .map(|k| SecretString::from(k.to_owned())),
        reasoning: kind.supports_reasoning(),
        timeout: Duration::from_secs(5),
        stream_idle_timeout: Duration::from_secs(5),
    }
}

/// The policy's proof for `id`: an EU-sovereign managed deployment under the
/// default (strict) tenant policy.
fn admit(id: &DeploymentId) -> Admitted {
    let fr = Country::parse("FR").unwrap();
    let facts = DeploymentFacts {
        id: id.clone(),
        operator: "Opérateur Test SAS".into(),
        operator_country: fr,
        parent_jurisdiction: fr,
        dc_country: fr,
        region: "fr-par".into(),
        hosting: Hosting::Managed,
        retention: Retention::Zero,
        dpa_signed: true,
        provenance: Provenance {
            trained_by: "Mistral AI".into(),
            licence: "Apache-2.0".into(),
        },
    };
    let decision = decide(
        &RequestFacts::default(),
        &TenantPolicy::default(),
        &[Candidate {
            facts: &facts,
            price_eur_per_mtok: 1.0,
        }],
        Strategy::Priority,
        |_| Health::UP,
    );
    decision
        .chosen()
        .cloned()
        .expect("an EU deployment is admitted")
}

fn chat_request(v: &Value) -> ChatRequest {
    serde_json::from_value(v.clone()).expect("request.json is a chat request")
}

fn merge(base: &Value, adds: &Value) -> Value {
    let mut out = base.clone();
    for (k, v) in adds.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

// === what the client parsed ===

/// A reply folded the way a gateway folds it: content concatenated,
/// tool-call deltas merged by index, the last finish_reason and usage seen.
#[derive(Debug, Default, PartialEq)]
struct Folded {
    content: String,
    tool_calls: Vec<(String, String, String)>,
    finish_reason: Option<String>,
    usage: Option<(u64, u64, u64)>,
}

impl Folded {
    fn from_response(r: &ChatResponse) -> Folded {
        let choice = &r.choices[0];
        let msg = &choice["message"];
        let tool_calls = msg["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        (
                            c["id"].as_str().unwrap_or_default().to_owned(),
                            c["function"]["name"].as_str().unwrap().to_owned(),
                            c["function"]["arguments"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Folded {
            content: msg["content"].as_str().unwrap_or_default().to_owned(),
            tool_calls,
            finish_reason: choice["finish_reason"].as_str().map(str::to_owned),
            usage: r
                .usage
                .map(|u| (u.prompt_tokens, u.completion_tokens, u.total_tokens)),
        }
    }

    fn push(&mut self, chunk: &ChatChunk) {
        if let Some(u) = chunk.usage {
            self.usage = Some((u.prompt_tokens, u.completion_tokens, u.total_tokens));
        }
        for choice in &chunk.choices {
            if let Some(f) = choice["finish_reason"].as_str() {
                self.finish_reason = Some(f.to_owned());
            }
            let delta = &choice["delta"];
            if let Some(t) = delta["content"].as_str() {
                self.content.push_str(t);
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let i = usize::try_from(call["index"].as_u64().unwrap_or(0)).unwrap();
                if self.tool_calls.len() <= i {
                    self.tool_calls.resize(i + 1, Default::default());
                }
                let slot = &mut self.tool_calls[i];
                let id = call["id"].as_str().filter(|s| !s.is_empty());
                if let (Some(id), true) = (id, slot.0.is_empty()) {
                    slot.0 = id.to_owned();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    slot.1.push_str(name);
                }
                if let Some(args) = call["function"]["arguments"].as_str() {
                    slot.2.push_str(args);
                }
            }
        }
    }

    /// What `expected.json` says the client must see.
    fn expected(v: &Value) -> Folded {
        let usage = v["usage"].as_array().map(|u| {
            let n = |i: usize| u[i].as_u64().unwrap();
            (n(0), n(1), n(2))
        });
        Folded {
            content: v["content"].as_str().unwrap_or_default().to_owned(),
            tool_calls: v["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap().to_owned();
                    (s("id"), s("name"), s("arguments"))
                })
                .collect(),
            finish_reason: v["finish_reason"].as_str().map(str::to_owned),
            usage,
        }
    }
}

/// Every item of a stream, chunks and the terminal error if any.
async fn drain(reply: ChatReply) -> (Vec<ChatChunk>, Option<UpstreamError>) {
    let ChatReply::Stream(mut s) = reply else {
        panic!("expected a stream");
    };
    let mut chunks = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(c) => chunks.push(c),
            Err(e) => {
                assert!(s.next().await.is_none(), "nothing after an error item");
                return (chunks, Some(e));
            }
        }
    }
    (chunks, None)
}

// === the suite ===

/// What reached the provider is exactly `expected.json`.
fn assert_request(kind: Kind, mock: &MockUpstream, expected: &Value, body: &Value) {
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1, "{kind:?}: one request");
    let r = &reqs[0];
    assert_eq!(r.method.as_str(), expected["method"].as_str().unwrap());
    assert_eq!(r.path, expected["path"].as_str().unwrap(), "{kind:?} path");
    assert_eq!(
        r.query.as_deref(),
        expected["query"].as_str(),
        "{kind:?} query"
    );
    match expected["auth"].as_object() {
        Some(auth) => {
            let header = auth["header"].as_str().unwrap();
            assert_eq!(
                r.header(header),
                auth["value"].as_str(),
                "{kind:?} {header}"
            );
            // The key travels in one header only.
            for other in ["authorization", "api-key"] {
                if other != header {
                    assert_eq!(r.header(other), None, "{kind:?}: no {other}");
                }
            }
        }
        None => {
            assert_eq!(r.header("authorization"), None, "{kind:?}: keyless");
            assert_eq!(r.header("api-key"), None, "{kind:?}: keyless");
        }
    }
    assert_eq!(
        r.json.as_ref(),
        Some(body),
        "{kind:?}: body sent upstream\n got: {}\nwant: {}",
        r.json.as_ref().map(Value::to_string).unwrap_or_default(),
        body
    );
}

async fn chat_matches_fixture(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::builder()
        .raw_json(f.response.clone())
        .start()
        .await;
    let ep = endpoint(kind, &mock, &f.expected);
    let prepared = prepare_chat(&ep, &chat_request(&f.request));
    assert!(!prepared.stream);
    let warnings: Vec<String> = serde_json::from_value(f.expected["warnings"].clone()).unwrap();
    assert_eq!(prepared.warnings, warnings, "{kind:?} warnings");

    let reply = Client::new()
        .unwrap()
        .chat(&admit(&ep.id), &ep, &prepared)
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    assert_request(f.kind, &mock, &f.expected, &f.expected["body"]);

    let ChatReply::Json(resp) = reply else {
        panic!("{kind:?}: expected a JSON reply");
    };
    assert_eq!(
        Folded::from_response(&resp),
        Folded::expected(&f.expected["response"]),
        "{kind:?}: parsed completion"
    );
    // Provider extras are kept, not lost (llama.cpp `timings`, Azure
    // `prompt_filter_results`, TGI `system_fingerprint`, ...).
    let raw: Map<String, Value> = serde_json::from_str(&f.response).unwrap();
    for k in raw.keys() {
        let known = ["id", "object", "created", "model", "choices", "usage"];
        if !known.contains(&k.as_str()) {
            assert!(resp.extra.contains_key(k), "{kind:?}: extra field {k} kept");
        }
    }
}

async fn stream_matches_fixture(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::builder()
        .raw_sse(f.stream.clone())
        .start()
        .await;
    let ep = endpoint(kind, &mock, &f.expected);
    let request = merge(&f.request, &json!({"stream": true}));
    let prepared = prepare_chat(&ep, &chat_request(&request));
    assert!(prepared.stream);
    let reply = Client::new()
        .unwrap()
        .chat(&admit(&ep.id), &ep, &prepared)
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    let body = merge(&f.expected["body"], &f.expected["stream_body_adds"]);
    assert_request(f.kind, &mock, &f.expected, &body);

    let (chunks, err) = drain(reply).await;
    assert_eq!(err, None, "{kind:?}: the stream ends at [DONE]");
    let events = f.stream.matches("data: {").count();
    assert_eq!(chunks.len(), events, "{kind:?}: one item per event");
    let mut folded = Folded::default();
    chunks.iter().for_each(|c| folded.push(c));
    assert_eq!(
        folded,
        Folded::expected(&f.expected["stream"]),
        "{kind:?}: folded stream"
    );
}

/// The model calls a tool, the client answers with its result: both turns
/// reach the provider intact (ids, arguments as JSON text, tool role).
async fn tool_call_round_trip(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::builder()
        .tool_call("get_weather", r#"{"city":"Lyon"}"#)
        .start()
        .await;
    let ep = endpoint(kind, &mock, &f.expected);
    let client = Client::new().unwrap();
    let admitted = admit(&ep.id);

    let first = chat_request(&f.request);
    let reply = client
        .chat(&admitted, &ep, &prepare_chat(&ep, &first))
        .await
        .unwrap();
    let ChatReply::Json(resp) = reply else {
        panic!("{kind:?}: JSON expected");
    };
    let message = resp.choices[0]["message"].clone();
    let call = &message["tool_calls"][0];
    assert_eq!(call["function"]["arguments"], r#"{"city":"Lyon"}"#);
    let call_id = call["id"].as_str().unwrap().to_owned();

    let mut second = f.request.clone();
    let messages = second["messages"].as_array_mut().unwrap();
    messages.push(message.clone());
    messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": "14 °C, couvert"}));
    second["tool_choice"] = json!("auto");
    let prepared = prepare_chat(&ep, &chat_request(&second));
    client.chat(&admitted, &ep, &prepared).await.unwrap();

    let sent = mock.requests()[1].json.clone().unwrap();
    let sent_messages = sent["messages"].as_array().unwrap();
    assert_eq!(sent_messages.len(), 4, "{kind:?}");
    assert_eq!(sent_messages[2]["tool_calls"], message["tool_calls"]);
    assert_eq!(sent_messages[3]["role"], "tool");
    assert_eq!(sent_messages[3]["tool_call_id"], json!(call_id));
    assert_eq!(sent["tool_choice"], "auto", "{kind:?}: auto is universal");
}

async fn embeddings_url_and_body(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let req: EmbeddingsRequest = serde_json::from_value(json!({
        "model": "embed-eu",
        "input": ["Bonjour", "Lyon"],
        "encoding_format": "float",
        "user": "user-7f3a",
    }))
    .unwrap();
    let resp = Client::new()
        .unwrap()
        .embeddings(&admit(&ep.id), &ep, &req)
        .await
        .unwrap();
    assert_eq!(resp.data.len(), 2);

    let r = &mock.requests()[0];
    let model = ep.model.as_str();
    let (path, query, body) = match kind {
        // The deployment is in the path; the body names no model.
        Kind::AzureOpenai => (
            format!("/openai/deployments/{model}/embeddings"),
            Some("api-version=2024-10-21"),
            json!({"input": ["Bonjour", "Lyon"], "encoding_format": "float", "user": "user-7f3a"}),
        ),
        // Mistral rejects `user`; float is its default encoding.
        Kind::Mistral => (
            "/v1/embeddings".to_owned(),
            None,
            json!({"model": model, "input": ["Bonjour", "Lyon"]}),
        ),
        _ => (
            "/v1/embeddings".to_owned(),
            None,
            json!({"model": model, "input": ["Bonjour", "Lyon"], "encoding_format": "float", "user": "user-7f3a"}),
        ),
    };
    assert_eq!(r.path, path, "{kind:?}");
    assert_eq!(r.query.as_deref(), query, "{kind:?}");
    assert_eq!(r.json.as_ref(), Some(&body), "{kind:?}");
    if kind == Kind::AzureOpenai {
        assert_eq!(r.header("api-key"), Some("azure-test-key"));
    }
}

async fn health_url(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let root = mock.url();
    let want = match kind {
        // Self-hosted engines are probed at the server root, not under /v1.
        Kind::Vllm | Kind::LlamaCpp | Kind::Tgi => Some(format!("{root}/health")),
        Kind::Ollama => Some(format!("{root}/api/tags")),
        // Managed APIs are watched passively.
        _ => None,
    };
    assert_eq!(ep.health_url(), want, "{kind:?}");
    if want.is_some() {
        Client::new().unwrap().probe(&ep).await.unwrap();
        assert_eq!(mock.requests()[0].method.as_str(), "GET");
    }
}

async fn status_429_is_retryable_with_retry_after(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::builder().status(429).start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let prepared = prepare_chat(&ep, &chat_request(&f.request));
    let err = match Client::new()
        .unwrap()
        .chat(&admit(&ep.id), &ep, &prepared)
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("{kind:?}: 429 must fail"),
    };
    assert_eq!(
        err,
        UpstreamError::Status {
            deployment: ep.id.0.clone(),
            status: 429,
            code: Some("rate_limit_exceeded".into()),
            retry_after: Some(1),
        }
    );
    assert!(err.is_retryable());
    // The provider's message (which may quote the prompt) is not kept.
    assert!(!err.to_string().contains("scripted"));
}

async fn status_400_is_not_retryable(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::builder().status(400).start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let prepared = prepare_chat(&ep, &chat_request(&f.request));
    let err = match Client::new()
        .unwrap()
        .chat(&admit(&ep.id), &ep, &prepared)
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("{kind:?}: 400 must fail"),
    };
    assert!(
        matches!(err, UpstreamError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

/// The first content chunk of the kind's own stream, as a raw SSE event.
fn first_content_event(f: &Fixture) -> String {
    f.stream
        .split("\n\n")
        .find(|ev| ev.contains("\"content\":\"Il fait\"") || ev.contains("\"tool_calls\""))
        .map(|ev| format!("{ev}\n\n"))
        .expect("a content or tool-call event")
}

async fn mid_stream_error_is_an_error_item(kind: Kind) {
    let f = fixture(kind);
    // Each server's error event shape: OpenAI/vLLM/Ollama nest an object
    // (vLLM with a numeric code), TGI sends a string and `error_type`.
    let (event, code) = match kind {
        Kind::Tgi => (
            r#"{"error":"Request failed during generation: CUDA out of memory","error_type":"generation"}"#,
            "generation",
        ),
        Kind::Vllm | Kind::Ovh | Kind::Scaleway => (
            r#"{"error":{"object":"error","message":"boom","type":"InternalServerError","param":null,"code":500}}"#,
            "500",
        ),
        _ => (
            r#"{"error":{"message":"boom","type":"server_error","param":null,"code":"internal_error"}}"#,
            "internal_error",
        ),
    };
    let sse = format!(
        "{}data: {event}\n\ndata: [DONE]\n\n",
        first_content_event(&f)
    );
    let mock = MockUpstream::builder().raw_sse(sse).start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let req = merge(&f.request, &json!({"stream": true}));
    let reply = Client::new()
        .unwrap()
        .chat(&admit(&ep.id), &ep, &prepare_chat(&ep, &chat_request(&req)))
        .await
        .unwrap();
    let (chunks, err) = drain(reply).await;
    assert_eq!(chunks.len(), 1, "{kind:?}: the chunk before the error");
    assert_eq!(
        err,
        Some(UpstreamError::Status {
            deployment: ep.id.0.clone(),
            status: 502,
            code: Some(code.into()),
            retry_after: None,
        }),
        "{kind:?}"
    );
}

async fn stream_without_done_is_broken(kind: Kind) {
    let f = fixture(kind);
    // The transcript ends cleanly, but before `[DONE]`.
    let cut = f.stream.replace("data: [DONE]\n\n", "");
    let mock = MockUpstream::builder().raw_sse(cut).start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let req = merge(&f.request, &json!({"stream": true}));
    let client = Client::new().unwrap();
    let admitted = admit(&ep.id);
    let reply = client
        .chat(&admitted, &ep, &prepare_chat(&ep, &chat_request(&req)))
        .await
        .unwrap();
    let (chunks, err) = drain(reply).await;
    assert!(!chunks.is_empty());
    let broken = UpstreamError::Broken {
        deployment: ep.id.0.clone(),
    };
    assert_eq!(err.as_ref(), Some(&broken), "{kind:?}");
    assert!(broken.is_retryable());

    // The connection dropped mid-stream (the body ends in an error).
    let mock = MockUpstream::builder()
        .raw_sse(f.stream.clone())
        .stream_break_after(2)
        .start()
        .await;
    let ep = endpoint(kind, &mock, &f.expected);
    let reply = client
        .chat(&admitted, &ep, &prepare_chat(&ep, &chat_request(&req)))
        .await
        .unwrap();
    let (chunks, err) = drain(reply).await;
    assert_eq!(chunks.len(), 2, "{kind:?}");
    assert_eq!(err, Some(broken), "{kind:?}");
}

async fn other_deployment_is_not_admitted(kind: Kind) {
    let f = fixture(kind);
    let mock = MockUpstream::start().await;
    let ep = endpoint(kind, &mock, &f.expected);
    let elsewhere = admit(&DeploymentId("another-eu".into()));
    let prepared = prepare_chat(&ep, &chat_request(&f.request));
    let err = match Client::new()
        .unwrap()
        .chat(&elsewhere, &ep, &prepared)
        .await
    {
        Err(e) => e,
        Ok(_) => panic!("{kind:?}: must be refused"),
    };
    assert_eq!(
        err,
        UpstreamError::NotAdmitted {
            deployment: ep.id.0.clone()
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(mock.request_count(), 0, "{kind:?}: never contacted");
}

// === one module per kind ===

macro_rules! provider_tests {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[tokio::test]
            async fn chat_matches_fixture() {
                super::chat_matches_fixture($kind).await;
            }
            #[tokio::test]
            async fn stream_matches_fixture() {
                super::stream_matches_fixture($kind).await;
            }
            #[tokio::test]
            async fn tool_call_round_trip() {
                super::tool_call_round_trip($kind).await;
            }
            #[tokio::test]
            async fn embeddings_url_and_body() {
                super::embeddings_url_and_body($kind).await;
            }
            #[tokio::test]
            async fn health_url() {
                super::health_url($kind).await;
            }
            #[tokio::test]
            async fn status_429_is_retryable_with_retry_after() {
                super::status_429_is_retryable_with_retry_after($kind).await;
            }
            #[tokio::test]
            async fn status_400_is_not_retryable() {
                super::status_400_is_not_retryable($kind).await;
            }
            #[tokio::test]
            async fn mid_stream_error_is_an_error_item() {
                super::mid_stream_error_is_an_error_item($kind).await;
            }
            #[tokio::test]
            async fn stream_without_done_is_broken() {
                super::stream_without_done_is_broken($kind).await;
            }
            #[tokio::test]
            async fn other_deployment_is_not_admitted() {
                super::other_deployment_is_not_admitted($kind).await;
            }
        }
    )*};
}

provider_tests! {
    mistral => Kind::Mistral,
    ovh => Kind::Ovh,
    scaleway => Kind::Scaleway,
    vllm => Kind::Vllm,
    llama_cpp => Kind::LlamaCpp,
    tgi => Kind::Tgi,
    ollama => Kind::Ollama,
    azure_openai => Kind::AzureOpenai,
    openai_compat => Kind::OpenaiCompat,
}

/// Every HTTP kind has fixtures; `embedded` is in-process and has none.
#[test]
fn every_http_kind_has_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut kinds: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kinds.sort();
    let mut want: Vec<&str> = [
        Kind::Mistral,
        Kind::Ovh,
        Kind::Scaleway,
        Kind::Vllm,
        Kind::LlamaCpp,
        Kind::Tgi,
        Kind::Ollama,
        Kind::AzureOpenai,
        Kind::OpenaiCompat,
    ]
    .map(Kind::as_str)
    .to_vec();
    want.sort_unstable();
    assert_eq!(kinds, want);
}

/// An admitted deployment that answers with a redirect does not move the
/// request elsewhere: the client never follows it (a 307/308 would re-send
/// the prompt to a host the policy never saw), the call fails with the
/// status, and the redirect's target receives nothing.
#[tokio::test]
async fn a_redirect_is_an_error_and_is_never_followed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let elsewhere = MockUpstream::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    for status in [307u16, 308, 302] {
        let location = format!("{}/v1/chat/completions", elsewhere.url());
        let serve = async {
            let (mut sock, _) = listener.accept().await.unwrap();
            // Read the whole request (head and body) before answering.
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"messages\"") {
                let n = sock.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection closed before the body");
                seen.extend_from_slice(&buf[..n]);
            }
            let reply = format!(
                "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            sock.write_all(reply.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
        };
        let ep = Endpoint {
            id: deployment(Kind::Vllm),
            kind: Kind::Vllm,
            base_url: format!("{base}/v1"),
            model: "m".into(),
            api_version: None,
            api_key: Some(SecretString::from("sk-upstream".to_owned())),
            reasoning: false,
            timeout: Duration::from_secs(5),
            stream_idle_timeout: Duration::from_secs(5),
        };
        let req = chat_request(&json!({
            "model": "m", "messages": [{"role": "user", "content": "canary-7f3a"}]
        }));
        let prepared = prepare_chat(&ep, &req);
        let client = Client::new().unwrap();
        let admitted = admit(&ep.id);
        let (_, got) = tokio::join!(serve, client.chat(&admitted, &ep, &prepared));
        match got {
            Err(UpstreamError::Status { status: s, .. }) => assert_eq!(s, status),
            Err(e) => panic!("{status}: expected a status error, got {e}"),
            Ok(_) => panic!("{status}: a redirect must not be an answer"),
        }
        assert_eq!(elsewhere.request_count(), 0, "{status}: redirect followed");
    }
}
