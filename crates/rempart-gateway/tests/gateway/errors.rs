//! Refusals and client errors as the client sees them: the right status, the
//! OpenAI error shape with a `code`, a message that says what to fix — and
//! never the offending value (it may be personal data).

use rempart_test::MockUpstream;
use serde_json::{Value, json};

use crate::common::*;

const MAX_BODY: usize = 4096;

struct Setup {
    gw: Gateway,
    us: MockUpstream,
    eu: MockUpstream,
}

async fn setup() -> Setup {
    let us = MockUpstream::start().await;
    let eu = MockUpstream::start().await;
    let toml = Toml::new()
        .server(&format!("max_body_bytes = {MAX_BODY}"))
        .deployment("us-east", Dep::us(&us).set("embeddings = true"))
        .deployment("eu-paris", Dep::eu(&eu))
        .alias("us-only", &["us-east"])
        .alias("assistant", &["eu-paris"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;
    Setup { gw, us, eu }
}

#[tokio::test]
async fn a_us_only_alias_is_refused_with_the_reasons_and_nothing_is_sent() {
    let s = setup().await;
    for body in [
        chat_body("us-only", "Bonjour"),
        stream_body("us-only", "Bonjour"),
    ] {
        let err = expect_error(s.gw.chat(&body).await, 403, "policy_refusal").await;
        assert_eq!(err["type"], "permission_error");
        let m = err["message"].as_str().unwrap_or_default();
        assert!(m.contains("us-east"), "names the deployment: {m}");
        assert!(m.contains("CLOUD Act"), "names the reasons: {m}");
        assert!(m.contains("US"), "names the cluster: {m}");
        assert!(m.contains("acme"), "names the tenant: {m}");
    }
    let resp =
        s.gw.post("/v1/embeddings")
            .json(&json!({"model": "us-only", "input": "Bonjour"}))
            .send()
            .await
            .expect("reachable");
    expect_error(resp, 403, "policy_refusal").await;
    assert_eq!(
        s.us.request_count(),
        0,
        "a refused deployment was contacted"
    );
}

#[tokio::test]
async fn an_unknown_model_is_404() {
    let s = setup().await;
    let err = expect_error(
        s.gw.chat(&chat_body("gpt-17", "Bonjour")).await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(err["param"], "model");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("gpt-17")
    );
    assert_eq!(s.us.request_count() + s.eu.request_count(), 0);
}

#[tokio::test]
async fn a_bad_key_is_401() {
    let s = setup().await;
    let body = chat_body("assistant", "Bonjour");
    let mut wrong = s.gw.key.clone();
    let last = wrong.pop().expect("non-empty key");
    wrong.push(if last == 'a' { 'b' } else { 'a' });
    for key in [wrong.as_str(), "rk_nope", "", "sk-openai-style-key"] {
        let resp =
            s.gw.post_as(key, "/v1/chat/completions")
                .json(&body)
                .send()
                .await
                .expect("reachable");
        let err = expect_error(resp, 401, "invalid_api_key").await;
        assert_eq!(err["type"], "authentication_error");
    }
    let resp =
        s.gw.http
            .post(format!("{}/v1/chat/completions", s.gw.url))
            .json(&body)
            .send()
            .await
            .expect("reachable");
    expect_error(resp, 401, "invalid_api_key").await;
    let resp =
        s.gw.http
            .get(format!("{}/v1/models", s.gw.url))
            .send()
            .await
            .expect("reachable");
    expect_error(resp, 401, "invalid_api_key").await;
    assert_eq!(s.eu.request_count(), 0);
}

async fn raw(s: &Setup, body: &str) -> reqwest::Response {
    s.gw.post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("reachable")
}

#[tokio::test]
async fn malformed_json_is_400_naming_line_and_column() {
    let s = setup().await;
    let body = "{\n  \"model\": \"assistant\",\n  \"messages\": [{\"role\": \"user\" \"content\": \"Bonjour\"}]\n}";
    let err = expect_error(raw(&s, body).await, 400, "invalid_request").await;
    let m = err["message"].as_str().unwrap_or_default();
    assert!(m.contains("line 3 column"), "names where: {m}");

    let err = expect_error(
        raw(&s, "{\"model\": \"assistant\", \"messages\": [").await,
        400,
        "invalid_request",
    )
    .await;
    let m = err["message"].as_str().unwrap_or_default();
    assert!(m.contains("line 1 column"), "names where: {m}");
    assert_eq!(s.eu.request_count(), 0);
}

/// Personal data a client might put in the wrong place.
const IBAN: &str = "FR76 3000 6000 0112 3456 7890 189";
const NAME: &str = "Marguerite Duvalier-Ponsonby";
const PHONE_DIGITS: &str = "33612345678";
const NIR_DIGITS: &str = "185057800608436";

#[tokio::test]
async fn a_wrong_type_is_400_naming_the_field_and_never_the_value() {
    let s = setup().await;
    let cases: Vec<(Value, &str, &[&str])> = vec![
        (
            json!({"model": "assistant", "messages": [{"role": "user", "content": {"iban": IBAN, "holder": NAME}}]}),
            "messages[0].content",
            &[IBAN, NAME],
        ),
        (
            json!({"model": "assistant", "messages": [{"role": "user", "content": 185057800608436u64}]}),
            "messages[0].content",
            &[NIR_DIGITS],
        ),
        (
            json!({"model": "assistant", "messages": [{"role": "user", "content": "ok"}, {"role": 33612345678u64, "content": "ok"}]}),
            "messages[1].role",
            &[PHONE_DIGITS],
        ),
        (
            json!({"model": "assistant", "stream": format!("{NAME} {IBAN}"), "messages": [{"role": "user", "content": "ok"}]}),
            "stream",
            &[IBAN, NAME],
        ),
        (
            // serde prints strings with escapes: a quote in the value must
            // not end the elision early.
            json!({"model": "assistant", "stream": format!("\" {NAME}, {IBAN}"), "messages": [{"role": "user", "content": "ok"}]}),
            "stream",
            &[IBAN, NAME],
        ),
        (
            json!({"model": 185057800608436u64, "messages": [{"role": "user", "content": "ok"}]}),
            "model",
            &[NIR_DIGITS],
        ),
        (
            json!({"model": "assistant", "stream": 48.85661, "messages": [{"role": "user", "content": "ok"}]}),
            "stream",
            &["48.85661"],
        ),
    ];
    for (body, path, secrets) in cases {
        let resp = s.gw.chat(&body).await;
        let text = {
            assert_eq!(resp.status(), 400, "{path}");
            resp.text().await.expect("body")
        };
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "the error body echoes the value `{secret}`: {text}"
            );
        }
        let err: Value = serde_json::from_str::<Value>(&text).expect("JSON")["error"].clone();
        assert_eq!(err["code"], "invalid_request", "{text}");
        assert_eq!(err["param"], path, "{text}");
        assert!(
            err["message"].as_str().unwrap_or_default().contains(path),
            "the message names `{path}`: {text}"
        );
    }
    assert_eq!(s.eu.request_count(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_openai_shape() {
    let s = setup().await;
    let big = "a".repeat(MAX_BODY * 2);
    let err = expect_error(
        s.gw.chat(&chat_body("assistant", &big)).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(err["type"], "invalid_request_error");
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&MAX_BODY.to_string()),
        "names the limit: {err}"
    );
    // Without a Content-Length (chunked), the limit holds too.
    let chunks = vec![Ok::<_, std::io::Error>(big.clone().into_bytes())];
    let resp =
        s.gw.post("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .expect("reachable");
    expect_error(resp, 413, "payload_too_large").await;
    // Just under the limit is served.
    let ok =
        s.gw.chat(&chat_body("assistant", &"a".repeat(MAX_BODY - 200)))
            .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(chats(&s.eu), 1);
}

#[tokio::test]
async fn a_wrong_method_is_405_in_the_openai_shape() {
    let s = setup().await;
    for (method, path) in [
        (reqwest::Method::GET, "/v1/chat/completions"),
        (reqwest::Method::PUT, "/v1/embeddings"),
        (reqwest::Method::POST, "/v1/models"),
    ] {
        let resp =
            s.gw.http
                .request(method.clone(), format!("{}{path}", s.gw.url))
                .bearer_auth(&s.gw.key)
                .send()
                .await
                .expect("reachable");
        assert!(
            resp.headers().get("allow").is_some(),
            "{method} {path}: says what is allowed"
        );
        let err = expect_error(resp, 405, "method_not_allowed").await;
        assert_eq!(err["type"], "invalid_request_error", "{method} {path}");
    }
}
