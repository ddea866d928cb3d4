//! Issue 4 item 6: OpenTelemetry traces over OTLP/HTTP (feature `otlp`).
//! A mock OTLP/HTTP collector (an axum route decoding
//! `ExportTraceServiceRequest`) receives the spans of requests through the
//! gateway; their GenAI attributes are checked, and a personal-data canary
//! of the prompt appears in none of them.
//!
//! Run: `cargo test -p rempart-gateway --features otlp --test otlp`.

#![cfg(feature = "otlp")]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::routing::post;
use common::{Dep, Gateway, Toml, chat_body};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use rempart_test::MockUpstream;

/// A collector on `127.0.0.1:0` keeping every span it receives (and the
/// raw bodies, to search for the canary in bytes too).
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Collector {
    async fn start() -> Collector {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let raw: Arc<Mutex<Vec<u8>>> = Arc::default();
        let (s, r) = (spans.clone(), raw.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let (s, r) = (s.clone(), r.clone());
                async move {
                    r.lock().unwrap().extend_from_slice(&body);
                    let req = ExportTraceServiceRequest::decode(body.as_ref())
                        .expect("the gateway sends a valid ExportTraceServiceRequest");
                    for rs in req.resource_spans {
                        for ss in rs.scope_spans {
                            s.lock().unwrap().extend(ss.spans);
                        }
                    }
                    // An empty ExportTraceServiceResponse.
                    (
                        [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, spans, raw }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr<'a>(span: &'a Span, key: &str) -> &'a str {
    match attr(span, key) {
        Some(Any::StringValue(s)) => s,
        other => panic!("span `{}`: attribute {key} is {other:?}", span.name),
    }
}

fn int_attr(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(Any::IntValue(n)) => *n,
        other => panic!("span `{}`: attribute {key} is {other:?}", span.name),
    }
}

/// Every string anywhere in a span: name, attribute keys and values, events.
fn all_text(span: &Span) -> String {
    let mut out = format!("{}\n", span.name);
    for kv in &span.attributes {
        out.push_str(&format!("{} = {:?}\n", kv.key, kv.value));
    }
    for e in &span.events {
        out.push_str(&format!("{} {:?}\n", e.name, e.attributes));
    }
    out.push_str(&format!("{:?}\n", span.status));
    out
}

const CANARY_EMAIL: &str = "zoe.canary-7f3a@example.org";
const CANARY_IBAN: &str = "FR7630006000011234567890189";
const CANARY_WORD: &str = "Quuxwobble";

async fn gateway(mock: &MockUpstream, collector: &Collector) -> Gateway {
    let toml = Toml::new()
        .deployment("paris-vllm", Dep::eu(mock).kind("vllm"))
        .alias("assistant", &["paris-vllm"])
        .default_tenant()
        .build();
    let toml = format!(
        "{toml}\n[telemetry]\notlp_endpoint = \"{}\"\nservice_name = \"rempart-test\"\n",
        collector.url
    );
    Gateway::start(&toml).await
}

#[tokio::test]
async fn a_chat_request_is_one_genai_span_with_children_and_no_prompt_text() {
    let mock = MockUpstream::start().await;
    mock.set_reply(format!("Answer mentioning {CANARY_WORD}."));
    let collector = Collector::start().await;
    let gw = gateway(&mock, &collector).await;

    let prompt =
        format!("{CANARY_WORD}: write to {CANARY_EMAIL} about the transfer from {CANARY_IBAN}.");
    let resp = gw.chat(&chat_body("assistant", &prompt)).await;
    assert_eq!(resp.status(), 200);
    let audit_id = resp.headers()["x-rempart-audit-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // Shutdown flushes the batch exporter.
    gw.stop().await.expect("serve returns");

    let spans = collector.spans();
    let root = spans
        .iter()
        .find(|s| s.name == "chat assistant")
        .unwrap_or_else(|| panic!("no `chat assistant` span in {:?}", names(&spans)));
    assert!(root.parent_span_id.is_empty(), "the request span is a root");
    assert_eq!(str_attr(root, "gen_ai.operation.name"), "chat");
    assert_eq!(str_attr(root, "gen_ai.provider.name"), "vllm");
    assert_eq!(str_attr(root, "gen_ai.request.model"), "assistant");
    assert!(!str_attr(root, "gen_ai.response.model").is_empty());
    assert!(int_attr(root, "gen_ai.usage.input_tokens") > 0);
    assert!(int_attr(root, "gen_ai.usage.output_tokens") > 0);
    assert_eq!(str_attr(root, "server.address"), "127.0.0.1");
    assert_eq!(int_attr(root, "server.port"), i64::from(mock.addr().port()));
    assert_eq!(str_attr(root, "rempart.tenant"), common::TENANT);
    assert_eq!(str_attr(root, "rempart.deployment"), "paris-vllm");
    assert_eq!(str_attr(root, "rempart.outcome"), "served");
    assert_eq!(str_attr(root, "rempart.audit_id"), audit_id);
    assert_eq!(int_attr(root, "rempart.pii.email"), 1);
    assert_eq!(int_attr(root, "rempart.pii.iban"), 1);

    let children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id && s.parent_span_id == root.span_id)
        .collect();
    let upstream = children
        .iter()
        .find(|s| s.name == "chat served-model")
        .unwrap_or_else(|| panic!("no upstream child span in {:?}", names(&spans)));
    assert_eq!(str_attr(upstream, "gen_ai.request.model"), "served-model");
    assert_eq!(str_attr(upstream, "rempart.deployment"), "paris-vllm");
    assert!(upstream.start_time_unix_nano >= root.start_time_unix_nano);
    assert!(upstream.end_time_unix_nano <= root.end_time_unix_nano);
    let inspect = children
        .iter()
        .find(|s| s.name == "rempart.pii.inspect")
        .expect("a PII inspection child span");
    assert_eq!(int_attr(inspect, "rempart.pii.entities"), 2);

    for s in &spans {
        let text = all_text(s);
        for canary in [CANARY_EMAIL, CANARY_IBAN, CANARY_WORD, "zoe.canary"] {
            assert!(
                !text.contains(canary),
                "span `{}` carries prompt or answer text",
                s.name
            );
        }
    }
    let raw = String::from_utf8_lossy(&collector.raw.lock().unwrap()).into_owned();
    for canary in [CANARY_EMAIL, CANARY_IBAN, CANARY_WORD] {
        assert!(
            !raw.contains(canary),
            "an export body carries prompt or answer text"
        );
    }
}

#[tokio::test]
async fn a_refused_request_is_a_span_with_an_error_status_and_no_upstream_child() {
    let mock = MockUpstream::start().await;
    let collector = Collector::start().await;
    let gw = gateway(&mock, &collector).await;
    // An unknown model: refused before any routing (404, outcome
    // `bad_request`), recorded, and traced.
    let resp = gw.chat(&chat_body("no-such-model", "hello")).await;
    assert_eq!(resp.status(), 404);
    gw.stop().await.expect("serve returns");
    let spans = collector.spans();
    let root = spans
        .iter()
        .find(|s| s.name == "chat no-such-model")
        .unwrap_or_else(|| panic!("no span for the refused request in {:?}", names(&spans)));
    assert_eq!(str_attr(root, "rempart.outcome"), "bad_request");
    assert_eq!(str_attr(root, "error.type"), "model_not_found");
    assert_eq!(
        root.status.as_ref().map(|s| s.code),
        Some(2),
        "status ERROR"
    );
    assert!(
        !spans
            .iter()
            .any(|s| s.parent_span_id == root.span_id && s.name.starts_with("chat ")),
        "nothing was contacted"
    );
    // (Health probes may reach the mock; no chat request does.)
    assert!(mock.chat_requests().is_empty());
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}
