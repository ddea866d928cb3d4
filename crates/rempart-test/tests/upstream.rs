//! `MockUpstream` driven over real sockets by reqwest, as the gateway will.

use std::time::{Duration, Instant};

use rempart_test::MockUpstream;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    rempart_test::install_tls_provider();
    reqwest::Client::new()
}

async fn post(url: String, body: Value) -> reqwest::Response {
    client()
        .post(url)
        .header("Authorization", "Bearer sk-test")
        .json(&body)
        .send()
        .await
        .expect("send")
}

fn chat_body(text: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": text},
        ],
        "stream": stream,
        "stream_options": {"include_usage": true},
    })
}

/// The JSON payloads of `data:` events; `[DONE]` as `Value::Null`.
fn sse_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|ev| ev.strip_prefix("data: "))
        .map(|d| {
            if d == "[DONE]" {
                Value::Null
            } else {
                serde_json::from_str(d).expect("event JSON")
            }
        })
        .collect()
}

fn streamed_content(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| e.pointer("/choices/0/delta/content")?.as_str())
        .collect()
}

// === chat, non-streaming ===

#[tokio::test]
async fn non_streaming_reply_is_a_full_completion() {
    let mock = MockUpstream::builder()
        .reply("Bonjour.")
        .usage(11, 2)
        .start()
        .await;
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", false),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 0);
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["choices"][0]["index"], 0);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Bonjour.");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13})
    );
}

#[tokio::test]
async fn defaults_and_model_override() {
    let mock = MockUpstream::builder().model("mistral-large").start().await;
    let v: Value = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("one two three", false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["model"], "mistral-large");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        rempart_test::DEFAULT_REPLY
    );
    // Default usage counts words: "Be brief." + "one two three".
    assert_eq!(v["usage"]["prompt_tokens"], 5);
}

// === chat, streaming ===

#[tokio::test]
async fn streaming_sends_role_deltas_finish_usage_done() {
    let mock = MockUpstream::builder()
        .stream(vec!["Bon", "jour", " [PERSON_1]"])
        .usage(5, 3)
        .start()
        .await;
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", true),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = res.text().await.unwrap();
    let ev = sse_events(&text);
    // role, 3 content, finish, usage, [DONE]
    assert_eq!(ev.len(), 7, "{text}");
    assert_eq!(ev[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(ev[0]["object"], "chat.completion.chunk");
    assert_eq!(streamed_content(&ev), "Bonjour [PERSON_1]");
    assert_eq!(ev[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(ev[5]["choices"], json!([]));
    assert_eq!(ev[5]["usage"]["total_tokens"], 8);
    assert_eq!(ev[6], Value::Null);
    assert!(text.ends_with("data: [DONE]\n\n"));
    // All chunks share id and model.
    assert!(ev[..6].iter().all(|e| e["id"] == ev[0]["id"]));

    // Without include_usage: no usage chunk. Non-streamed: concatenation.
    let mut body = chat_body("Hi", true);
    body.as_object_mut().unwrap().remove("stream_options");
    let url = format!("{}/v1/chat/completions", mock.url());
    let ev = sse_events(&post(url.clone(), body).await.text().await.unwrap());
    assert_eq!(ev.len(), 6);
    assert!(ev.iter().all(|e| e.get("usage").is_none()));
    let v: Value = post(url, chat_body("Hi", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Bonjour [PERSON_1]");
}

#[tokio::test]
async fn reply_is_streamed_word_by_word() {
    let mock = MockUpstream::builder().reply("a bb  ccc").start().await;
    let text = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", true),
    )
    .await
    .text()
    .await
    .unwrap();
    let ev = sse_events(&text);
    let deltas: Vec<&str> = ev[1..4]
        .iter()
        .map(|e| e["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, vec!["a ", "bb  ", "ccc"]);
}

#[tokio::test]
async fn chunk_delay_spaces_events() {
    let mock = MockUpstream::builder()
        .stream(vec!["a", "b", "c"])
        .chunk_delay(Duration::from_millis(40))
        .start()
        .await;
    let t = Instant::now();
    let text = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", true),
    )
    .await
    .text()
    .await
    .unwrap();
    // 7 events, 6 gaps.
    assert!(
        t.elapsed() >= Duration::from_millis(240),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(streamed_content(&sse_events(&text)), "abc");
}

#[tokio::test]
async fn stream_break_drops_the_connection_without_done() {
    use futures::StreamExt;

    let mock = MockUpstream::builder()
        .stream(vec!["one ", "two ", "three"])
        .stream_break_after(2)
        .start()
        .await;
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", true),
    )
    .await;
    assert_eq!(res.status(), 200);
    let mut got = Vec::new();
    let mut stream = res.bytes_stream();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error, not cleanly");
    let text = String::from_utf8(got).unwrap();
    let ev = sse_events(&text);
    assert_eq!(ev.len(), 2, "{text}");
    assert_eq!(streamed_content(&ev), "one ");
    assert!(!text.contains("[DONE]"));
}

// === raw replay ===

#[tokio::test]
async fn raw_json_and_raw_sse_are_replayed_verbatim() {
    let json_body =
        r#"{"id":"x","object":"chat.completion","choices":[],"timings":{"prompt_n":3}}"#;
    let sse = "data: {\"id\":\"\",\"choices\":[]}\n\n: ping\n\ndata: {\"id\":\"a\"}\n\n";
    let mock = MockUpstream::builder()
        .raw_json(json_body)
        .raw_sse(sse)
        .start()
        .await;
    let url = format!("{}/v1/chat/completions", mock.url());
    let res = post(url.clone(), chat_body("Hi", false)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), json_body);
    let res = post(url, chat_body("Hi", true)).await;
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // Nothing added: no `[DONE]` unless the transcript has it.
    assert_eq!(res.text().await.unwrap(), sse);
    assert_eq!(mock.chat_requests().len(), 2);
}

#[tokio::test]
async fn raw_sse_honours_stream_break() {
    use futures::StreamExt;

    let sse = "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n";
    let mock = MockUpstream::builder()
        .raw_sse(sse)
        .stream_break_after(1)
        .start()
        .await;
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", true),
    )
    .await;
    let mut got = Vec::new();
    let mut stream = res.bytes_stream();
    let mut failed = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed);
    assert_eq!(got, b"data: {\"n\":1}\n\n");
}

// === tool calls ===

#[tokio::test]
async fn tool_call_non_streaming_and_streaming() {
    let args = r#"{"city":"Lyon","unit":"celsius"}"#;
    let mock = MockUpstream::builder()
        .tool_call("get_weather", args)
        .start()
        .await;
    let url = format!("{}/v1/chat/completions", mock.url());

    let v: Value = post(url.clone(), chat_body("Weather?", false))
        .await
        .json()
        .await
        .unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], args);

    let text = post(url, chat_body("Weather?", true))
        .await
        .text()
        .await
        .unwrap();
    let ev = sse_events(&text);
    let deltas: Vec<&Value> = ev
        .iter()
        .filter_map(|e| e.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert!(deltas.len() >= 3, "name then several argument deltas");
    assert_eq!(deltas[0]["function"]["name"], "get_weather");
    assert_eq!(deltas[0]["id"], call["id"]);
    let streamed: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    assert_eq!(streamed, args);
    assert!(
        ev.iter()
            .any(|e| e["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert_eq!(ev.last(), Some(&Value::Null));
}

// === statuses and delays ===

#[tokio::test]
async fn status_fails_every_request_with_openai_error() {
    let mock = MockUpstream::builder().status(503).start().await;
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", false),
    )
    .await;
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("503"));
    assert!(v["error"].get("param").is_some());
    // Probes fail too: the upstream is down.
    let res = client()
        .get(format!("{}/health", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);

    let mock = MockUpstream::builder().status(429).start().await;
    let res = post(
        format!("{}/v1/embeddings", mock.url()),
        json!({"input": "x"}),
    )
    .await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
}

#[tokio::test]
async fn status_sequence_is_per_inference_request() {
    let mock = MockUpstream::builder()
        .status_sequence([503, 429, 200, 500])
        .start()
        .await;
    let url = format!("{}/v1/chat/completions", mock.url());
    let mut seen = Vec::new();
    for i in 0..5 {
        if i == 1 {
            // A probe in between does not eat a scripted status.
            let r = client()
                .get(format!("{}/v1/models", mock.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        seen.push(
            post(url.clone(), chat_body("Hi", false))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(seen, vec![503, 429, 200, 500, 200]);
    assert_eq!(mock.request_count(), 6);
}

#[tokio::test]
async fn delay_holds_headers() {
    let mock = MockUpstream::builder()
        .delay(Duration::from_millis(200))
        .start()
        .await;
    let t = Instant::now();
    let res = post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("Hi", false),
    )
    .await;
    assert!(t.elapsed() >= Duration::from_millis(200));
    assert_eq!(res.status(), 200);

    // A client timeout shorter than the delay sees a timeout, yet the mock
    // recorded the request.
    mock.set_delay(Duration::from_secs(5));
    mock.reset();
    let err = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body("Hi", false))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn runtime_status_and_reply_changes() {
    let mock = MockUpstream::builder().start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    assert_eq!(
        post(url.clone(), chat_body("Hi", false)).await.status(),
        200
    );
    mock.set_status(Some(502));
    assert_eq!(
        post(url.clone(), chat_body("Hi", false)).await.status(),
        502
    );
    mock.set_status(None);
    mock.set_reply("healed");
    let v: Value = post(url.clone(), chat_body("Hi", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "healed");
    mock.set_status_sequence([500]);
    assert_eq!(
        post(url.clone(), chat_body("Hi", false)).await.status(),
        500
    );
    assert_eq!(post(url, chat_body("Hi", false)).await.status(), 200);
}

// === echo ===

#[tokio::test]
async fn echo_returns_the_last_user_message() {
    let mock = MockUpstream::builder().echo().split_chars(3).start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "Call [PERSON_1] now"}]},
        ],
    });
    let v: Value = post(url.clone(), body.clone()).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Call [PERSON_1] now");

    let mut body = body;
    body["stream"] = json!(true);
    let ev = sse_events(&post(url, body).await.text().await.unwrap());
    assert_eq!(streamed_content(&ev), "Call [PERSON_1] now");
    assert_eq!(ev[1]["choices"][0]["delta"]["content"], "Cal");
    assert_eq!(ev[2]["choices"][0]["delta"]["content"], "l [");
}

// === embeddings ===

#[tokio::test]
async fn embeddings_are_deterministic() {
    let mock = MockUpstream::builder().embedding_dims(16).start().await;
    let url = format!("{}/v1/embeddings", mock.url());
    let v: Value = post(
        url.clone(),
        json!({"model": "bge-m3", "input": ["alpha beta", "gamma", "alpha beta"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "bge-m3");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["object"], "embedding");
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(data[0]["embedding"], data[2]["embedding"]);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(v["usage"]["prompt_tokens"], 5); // words
    assert_eq!(v["usage"]["total_tokens"], 5);

    // A single string gives the same vector as in the batch.
    let one: Value = post(url, json!({"model": "bge-m3", "input": "alpha beta"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"][0]["embedding"], data[0]["embedding"]);
}

// === recording ===

#[tokio::test]
async fn records_every_request_on_any_prefix() {
    let mock = MockUpstream::builder().start().await;
    assert_eq!(mock.request_count(), 0);
    assert!(mock.requests().is_empty());

    let azure = format!(
        "{}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        mock.url()
    );
    let res = client()
        .post(azure)
        .header("api-key", "azure-key")
        .header("X-Custom", "v")
        .json(&chat_body("Jean Dupont, né le 1er mai", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let scaleway = format!("{}/proj-1/v1/chat/completions", mock.url());
    assert_eq!(post(scaleway, chat_body("Hi", false)).await.status(), 200);
    for path in ["/health", "/healthz", "/api/tags", "/v1/models"] {
        let r = client()
            .get(format!("{}{path}", mock.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = client()
        .get(format!("{}/nope", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );

    assert_eq!(mock.request_count(), 7);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 7);
    let first = &reqs[0];
    assert_eq!(first.method, http::Method::POST);
    assert_eq!(first.path, "/openai/deployments/gpt-4o/chat/completions");
    assert_eq!(first.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(
        first.path_and_query(),
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(first.header("api-key"), Some("azure-key"));
    assert_eq!(first.header("x-custom"), Some("v"));
    assert!(first.headers.contains_key("content-type"));
    assert_eq!(first.model(), Some("gpt-test"));
    assert!(first.is_chat() && !first.is_stream());
    assert_eq!(
        first.last_user_message().as_deref(),
        Some("Jean Dupont, né le 1er mai")
    );
    assert_eq!(
        first.json.as_ref().unwrap()["messages"][0]["role"],
        "system"
    );
    assert!(first.body_text().contains("Dupont"));
    assert!(mock.received("Jean Dupont"));
    assert!(!mock.received("Marie Curie"));
    assert_eq!(mock.chat_requests().len(), 2);
    assert_eq!(mock.last_request().unwrap().path, "/nope");
    assert_eq!(reqs[1].path, "/proj-1/v1/chat/completions");
    assert_eq!(reqs[1].header("authorization"), Some("Bearer sk-test"));

    mock.reset();
    assert_eq!(mock.request_count(), 0);
    assert!(mock.requests().is_empty());
    assert!(!mock.wait_for_requests(1, Duration::from_millis(20)).await);
    client()
        .get(format!("{}/healthz", mock.url()))
        .send()
        .await
        .unwrap();
    assert!(mock.wait_for_requests(1, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn recording_off_still_counts() {
    let mock = MockUpstream::builder().record(false).start().await;
    post(
        format!("{}/v1/chat/completions", mock.url()),
        chat_body("secret", false),
    )
    .await;
    assert_eq!(mock.request_count(), 1);
    assert!(mock.requests().is_empty());
    assert!(!mock.received("secret"));
}

#[tokio::test]
async fn received_matches_json_escaped_text() {
    let mock = MockUpstream::builder().start().await;
    // Send a body with an escaped non-ASCII character.
    let raw = r#"{"model":"m","messages":[{"role":"user","content":"Ren\u00e9e"}]}"#;
    client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert!(mock.received("Renée"));
}

// === lifecycle ===

#[tokio::test]
async fn drop_and_shutdown_stop_serving() {
    let mock = MockUpstream::builder().start().await;
    let url = format!("{}/healthz", mock.url());
    let c = client();
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    mock.shutdown().await;
    assert!(c.get(&url).send().await.is_err());

    let mock = MockUpstream::start().await;
    let url = format!("{}/healthz", mock.url());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    drop(mock);
    // Shutdown is asynchronous after a drop; allow it a moment.
    let mut down = false;
    for _ in 0..50 {
        if c.get(&url).send().await.is_err() {
            down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(down, "mock still serving after drop");
}

// === the binary ===

#[tokio::test]
async fn binary_prints_its_url_and_serves() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
        .args([
            "--port",
            "0",
            "--reply",
            "from the binary",
            "--delay-ms",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn mock-upstream");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("ready line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let v: Value = post(format!("{url}/v1/chat/completions"), chat_body("Hi", false))
        .await
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(v["choices"][0]["message"]["content"], "from the binary");
}
