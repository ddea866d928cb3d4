//! The OpenAI surface passes through: SSE with or without the usage chunk,
//! tool calls, image parts; `reasoning_effort` reaches only providers with a
//! reasoning budget, and dropping it is said in `X-Rempart-Warning`.

use rempart_test::MockUpstream;
use serde_json::{Value, json};

use crate::common::*;

async fn one(mock: &MockUpstream) -> Gateway {
    let toml = Toml::new()
        .deployment("eu-paris", Dep::eu(mock))
        .alias("assistant", &["eu-paris"])
        .default_tenant()
        .build();
    Gateway::start(&toml).await
}

async fn stream_text(gw: &Gateway, body: &Value) -> String {
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "content-type"),
        "text/event-stream",
        "an SSE response"
    );
    resp.text().await.expect("body")
}

#[tokio::test]
async fn include_usage_gives_a_final_usage_chunk_then_done() {
    let mock = MockUpstream::builder().usage(11, 7).start().await;
    let gw = one(&mock).await;
    let mut body = stream_body("assistant", "Bonjour");
    body["stream_options"] = json!({"include_usage": true});
    let text = stream_text(&gw, &body).await;

    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    assert_eq!(data.iter().filter(|d| *d == "[DONE]").count(), 1);
    let events = sse_json(&text);
    let last = events.last().expect("events");
    assert_eq!(
        last["choices"],
        json!([]),
        "usage chunk has no choices: {text}"
    );
    assert_eq!(last.pointer("/usage/prompt_tokens"), Some(&json!(11)));
    assert_eq!(last.pointer("/usage/completion_tokens"), Some(&json!(7)));
    assert_eq!(
        events.iter().filter(|e| e.get("usage").is_some()).count(),
        1,
        "exactly one usage chunk: {text}"
    );
    assert_eq!(streamed_text(&events), rempart_test::DEFAULT_REPLY);
}

#[tokio::test]
async fn an_upstream_without_stream_usage_gets_an_estimate_marked_as_such() {
    // As llama-cpp-python 0.3.16 does: `stream_options` ignored, no usage.
    let mut sse = String::new();
    for piece in ["Bon", "jour", " !"] {
        sse.push_str(&format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m-1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{piece}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    sse.push_str("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    let mock = MockUpstream::builder().raw_sse(sse).start().await;
    let toml = Toml::new()
        .deployment(
            "eu-paris",
            Dep::eu(&mock)
                .set("price = { input_eur_per_mtok = 1000.0, output_eur_per_mtok = 2000.0 }"),
        )
        .alias("assistant", &["eu-paris"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;
    let prompt = "x".repeat(400);
    let mut body = stream_body("assistant", &prompt);
    body["stream_options"] = json!({"include_usage": true});
    let text = stream_text(&gw, &body).await;
    let events = sse_json(&text);
    assert_eq!(streamed_text(&events), "Bonjour !");
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    let last = events.last().expect("events");
    assert_eq!(last["choices"], json!([]), "{text}");
    assert_eq!(last["usage"]["estimated"], json!(true), "{text}");
    assert_eq!(
        last["usage"]["completion_tokens"],
        json!(3),
        "one per delta"
    );
    assert_eq!(last["usage"]["prompt_tokens"], json!(100), "400 bytes / 4");
    assert_eq!(last["usage"]["total_tokens"], json!(103));
    assert_eq!(last["model"], json!("m-1"));

    let dir = gw.stop_keeping_data().await;
    let recs = audit_records(dir.path());
    assert_eq!(recs.len(), 1);
    assert!(recs[0].tokens_estimated);
    assert_eq!((recs[0].tokens_in, recs[0].tokens_out), (100, 3));
    // 100 × 1000 €/M + 3 × 2000 €/M = 0.106 € = 106,000 µ€.
    assert_eq!(recs[0].cost_micro_eur, 106_000, "priced from the estimate");
}

#[tokio::test]
async fn reported_usage_is_not_an_estimate() {
    let mock = MockUpstream::builder().usage(11, 7).start().await;
    let gw = one(&mock).await;
    let text = stream_text(&gw, &stream_body("assistant", "Bonjour")).await;
    assert!(!text.contains("estimated"), "{text}");
    let dir = gw.stop_keeping_data().await;
    let recs = audit_records(dir.path());
    assert!(!recs[0].tokens_estimated);
    assert_eq!((recs[0].tokens_in, recs[0].tokens_out), (11, 7));
}

#[tokio::test]
async fn without_include_usage_there_is_no_usage_chunk() {
    let mock = MockUpstream::start().await;
    let gw = one(&mock).await;
    let text = stream_text(&gw, &stream_body("assistant", "Bonjour")).await;

    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    let events = sse_json(&text);
    assert!(
        events
            .iter()
            .all(|e| e.get("usage").is_none_or(Value::is_null)),
        "no usage unless asked: {text}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["choices"].as_array().is_some_and(|c| !c.is_empty())),
        "no empty-choices chunk: {text}"
    );
    assert_eq!(streamed_text(&events), rempart_test::DEFAULT_REPLY);
    // The gateway still asked upstream for usage (cost accounting).
    let sent = mock.chat_requests()[0].json.clone().expect("JSON");
    assert_eq!(
        sent.pointer("/stream_options/include_usage"),
        Some(&json!(true))
    );
}

fn weather_tool() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }
    }])
}

const ARGS: &str = r#"{"city":"Lyon","unit":"celsius"}"#;

#[tokio::test]
async fn tool_calls_pass_through_without_streaming() {
    let mock = MockUpstream::builder()
        .tool_call("get_weather", ARGS)
        .start()
        .await;
    let gw = one(&mock).await;
    let mut body = chat_body("assistant", "Quel temps fait-il ?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("auto");
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.expect("JSON");
    let call = got
        .pointer("/choices/0/message/tool_calls/0")
        .unwrap_or_else(|| panic!("a tool call: {got}"));
    assert_eq!(call["type"], "function");
    assert_eq!(call.pointer("/function/name"), Some(&json!("get_weather")));
    assert_eq!(call.pointer("/function/arguments"), Some(&json!(ARGS)));
    assert!(call["id"].is_string());
    assert_eq!(
        got.pointer("/choices/0/finish_reason"),
        Some(&json!("tool_calls"))
    );

    let sent = mock.chat_requests()[0].json.clone().expect("JSON");
    assert_eq!(sent["tools"], weather_tool(), "tools forwarded unchanged");
    assert_eq!(sent["tool_choice"], "auto");

    // The tool result goes back up on the next turn.
    let follow = json!({
        "model": "assistant",
        "tools": weather_tool(),
        "messages": [
            {"role": "user", "content": "Quel temps fait-il ?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\": 21}"}
        ]
    });
    assert_eq!(gw.chat(&follow).await.status(), 200);
    let sent = mock.chat_requests()[1].json.clone().expect("JSON");
    assert_eq!(sent["messages"][1]["tool_calls"][0], *call);
    assert_eq!(sent["messages"][2]["tool_call_id"], call["id"]);
}

#[tokio::test]
async fn tool_calls_pass_through_when_streaming() {
    let mock = MockUpstream::builder()
        .tool_call("get_weather", ARGS)
        .start()
        .await;
    let gw = one(&mock).await;
    let mut body = stream_body("assistant", "Quel temps fait-il ?");
    body["tools"] = weather_tool();
    let text = stream_text(&gw, &body).await;

    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    let events = sse_json(&text);
    let deltas: Vec<&Value> = events
        .iter()
        .filter_map(|e| e.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert!(!deltas.is_empty(), "tool-call deltas: {text}");
    let name = deltas
        .iter()
        .find_map(|d| d.pointer("/function/name")?.as_str());
    assert_eq!(name, Some("get_weather"));
    let args: String = deltas
        .iter()
        .filter_map(|d| d.pointer("/function/arguments")?.as_str())
        .collect();
    assert_eq!(args, ARGS, "arguments reassemble");
    assert!(
        events
            .iter()
            .any(|e| e.pointer("/choices/0/finish_reason") == Some(&json!("tool_calls"))),
        "{text}"
    );
    assert_eq!(
        mock.chat_requests()[0].json.as_ref().unwrap()["tools"],
        weather_tool()
    );
}

#[tokio::test]
async fn image_parts_reach_the_upstream_unchanged() {
    let mock = MockUpstream::start().await;
    let gw = one(&mock).await;
    let content = json!([
        {"type": "text", "text": "Que montre cette image ?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}}
    ]);
    let body = json!({"model": "assistant", "messages": [{"role": "user", "content": content}]});
    let resp = gw.chat(&body).await;
    assert_eq!(resp.status(), 200);
    let sent = mock.chat_requests()[0].json.clone().expect("JSON");
    assert_eq!(sent["messages"][0]["content"], content);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    stream_text(&gw, &streamed).await;
    let sent = mock.chat_requests()[1].json.clone().expect("JSON");
    assert_eq!(sent["messages"][0]["content"], content);
}

#[tokio::test]
async fn reasoning_effort_reaches_only_providers_with_a_reasoning_budget() {
    let tgi = MockUpstream::start().await;
    let mistral = MockUpstream::start().await;
    let vllm = MockUpstream::start().await;
    let toml = Toml::new()
        .deployment("tgi-paris", Dep::eu(&tgi).kind("tgi"))
        .deployment(
            "mistral-paris",
            Dep::eu(&mistral)
                .kind("mistral")
                .set("api_key = \"env:MISTRAL_API_KEY\""),
        )
        .deployment("vllm-paris", Dep::eu(&vllm).kind("vllm"))
        .alias("small-tgi", &["tgi-paris"])
        .alias("small-mistral", &["mistral-paris"])
        .alias("thinker", &["vllm-paris"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;

    for (alias, mock, stream) in [
        ("small-tgi", &tgi, false),
        ("small-mistral", &mistral, false),
        ("small-tgi", &tgi, true),
    ] {
        let mut body = chat_body(alias, "Réfléchis bien.");
        body["reasoning_effort"] = json!("high");
        body["stream"] = json!(stream);
        let resp = gw.chat(&body).await;
        assert_eq!(resp.status(), 200, "{alias}");
        let warning = header(&resp, "x-rempart-warning").to_owned();
        assert!(
            warning.contains("reasoning_effort"),
            "{alias}: says what was dropped: {warning}"
        );
        let _ = resp.text().await;
        let sent = mock.chat_requests().last().cloned().expect("sent");
        assert!(
            sent.json
                .as_ref()
                .unwrap()
                .get("reasoning_effort")
                .is_none(),
            "{alias}: dropped upstream: {}",
            sent.body_text()
        );
    }

    for stream in [false, true] {
        let mut body = chat_body("thinker", "Réfléchis bien.");
        body["reasoning_effort"] = json!("high");
        body["stream"] = json!(stream);
        let resp = gw.chat(&body).await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers().get("x-rempart-warning").is_none(),
            "nothing dropped: {:?}",
            resp.headers()
        );
        let _ = resp.text().await;
        let sent = vllm.chat_requests().last().cloned().expect("sent");
        assert_eq!(sent.json.as_ref().unwrap()["reasoning_effort"], "high");
    }
}
