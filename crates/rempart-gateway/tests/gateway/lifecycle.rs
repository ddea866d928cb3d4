//! What every response carries, and how the server stops.

use std::collections::BTreeSet;
use std::time::Duration;

use rempart_test::MockUpstream;
use serde_json::json;

use crate::common::*;

const REQUEST_ID: &str = "x-rempart-request-id";

#[tokio::test]
async fn every_response_carries_a_request_id_and_served_ones_the_rest() {
    let ok = MockUpstream::start().await;
    let down = MockUpstream::builder().status(503).start().await;
    let us = MockUpstream::start().await;
    let toml = Toml::new()
        .server("max_body_bytes = 2048")
        .deployment("eu-paris", Dep::eu(&ok))
        .deployment("eu-down", Dep::eu(&down))
        .deployment("us-east", Dep::us(&us))
        .alias("assistant", &["eu-paris"])
        .alias("broken", &["eu-down"])
        .alias("us-only", &["us-east"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;

    let mut ids = BTreeSet::new();
    let mut check_id = |resp: &reqwest::Response, what: &str| {
        let id = resp
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no request id; {:?}", resp.headers()))
            .to_owned();
        assert!(!id.is_empty(), "{what}");
        assert!(ids.insert(id), "{what}: request ids are unique");
    };

    // Served, JSON and SSE.
    for body in [
        chat_body("assistant", "Bonjour"),
        stream_body("assistant", "Bonjour"),
    ] {
        let resp = gw.chat(&body).await;
        assert_eq!(resp.status(), 200);
        check_id(&resp, "served");
        assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris");
        assert_eq!(header(&resp, "x-rempart-region"), "FR; source=pinned");
        let audit = header(&resp, "x-rempart-audit-id");
        assert!(!audit.is_empty());
        // The request id is also the audit record's id.
        assert_eq!(audit, header(&resp, REQUEST_ID));
        let _ = resp.text().await;
    }
    let resp = gw
        .post("/v1/embeddings")
        .json(&json!({"model": "assistant", "input": "Bonjour"}))
        .send()
        .await
        .expect("reachable");
    check_id(&resp, "embeddings (no embeddings deployment)");

    // Refused or failed: still an id, and no deployment named.
    let cases = [
        (gw.chat(&chat_body("us-only", "Bonjour")).await, 403),
        (gw.chat(&chat_body("broken", "Bonjour")).await, 502),
        (gw.chat(&chat_body("nope", "Bonjour")).await, 404),
        (gw.chat(&json!({"model": "assistant"})).await, 400),
        (
            gw.chat(&chat_body("assistant", &"a".repeat(4096))).await,
            413,
        ),
        (
            gw.post_as("rk_wrong", "/v1/chat/completions")
                .json(&chat_body("assistant", "Bonjour"))
                .send()
                .await
                .expect("reachable"),
            401,
        ),
        (
            gw.get("/v1/nothing-here").send().await.expect("reachable"),
            404,
        ),
    ];
    for (resp, status) in cases {
        assert_eq!(resp.status().as_u16(), status);
        check_id(&resp, &format!("HTTP {status}"));
        assert!(
            resp.headers().get("x-rempart-deployment").is_none(),
            "HTTP {status}: nothing served"
        );
    }

    // Unauthenticated routes too.
    for path in ["/healthz", "/readyz"] {
        let resp = gw
            .http
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .expect("reachable");
        check_id(&resp, path);
    }
    let resp = gw.get("/v1/models").send().await.expect("reachable");
    assert_eq!(resp.status(), 200);
    check_id(&resp, "models");
    assert_eq!(us.request_count(), 0);
}

#[tokio::test]
async fn graceful_shutdown_lets_the_in_flight_request_finish() {
    let slow = MockUpstream::builder()
        .delay(Duration::from_secs(1))
        .reply("enfin")
        .start()
        .await;
    let toml = Toml::new()
        .deployment("eu-paris", Dep::eu(&slow))
        .alias("assistant", &["eu-paris"])
        .default_tenant()
        .build();
    let mut gw = Gateway::start(&toml).await;
    let url = gw.url.clone();

    let in_flight = {
        let req = gw.chat_request(&chat_body("assistant", "Bonjour"));
        tokio::spawn(async move { req.send().await })
    };
    let streaming = {
        let req = gw.chat_request(&stream_body("assistant", "Bonjour"));
        tokio::spawn(async move {
            let resp = req.send().await?;
            let status = resp.status();
            let text = resp.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        })
    };
    assert!(
        slow.wait_for_requests(2, Duration::from_secs(5)).await,
        "both requests reached the upstream"
    );
    gw.trigger_shutdown();
    // New connections are refused once shutdown began.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .send()
        .await;
    assert!(late.is_err(), "accepting after shutdown: {late:?}");

    let resp = in_flight
        .await
        .expect("task")
        .expect("in-flight request completes");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(
        body.pointer("/choices/0/message/content"),
        Some(&json!("enfin"))
    );
    let (status, text) = streaming.await.expect("task").expect("stream completes");
    assert_eq!(status, 200);
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    assert_eq!(streamed_text(&sse_json(&text)), "enfin");

    gw.stop().await.expect("serve returns cleanly");
}
