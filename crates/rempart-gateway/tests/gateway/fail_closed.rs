//! Fault injection on the admitted EU deployments of an alias whose FIRST
//! candidate is a US deployment: whatever fails, and however often, the US
//! upstream receives zero requests — not for failover, retry, or once the
//! EU circuits are open.

use std::time::{Duration, Instant};

use rempart_test::MockUpstream;
use serde_json::Value;

use crate::common::*;

/// `timeout_ms` of the EU deployments.
const EU_TIMEOUT_MS: u64 = 300;
/// Consecutive failures that open a deployment's circuit.
const BREAKER_THRESHOLD: usize = 3;

/// US first in the alias, then two admitted EU deployments; tenant pinned
/// to France under the strict European default policy.
fn catalogue(us: &MockUpstream, eu1: &MockUpstream, eu2: &MockUpstream) -> String {
    Toml::new()
        // A self-hosted kind: it would be health-probed if anyone admitted it.
        .deployment("us-east", Dep::us(us).kind("vllm"))
        .deployment("eu-paris-1", Dep::eu(eu1).timeout_ms(EU_TIMEOUT_MS))
        .deployment("eu-paris-2", Dep::eu(eu2).timeout_ms(EU_TIMEOUT_MS))
        .alias("assistant", &["us-east", "eu-paris-1", "eu-paris-2"])
        .default_tenant()
        .build()
}

struct Setup {
    gw: Gateway,
    us: MockUpstream,
    eu1: MockUpstream,
    eu2: MockUpstream,
}

async fn setup(
    eu1: rempart_test::MockUpstreamBuilder,
    eu2: rempart_test::MockUpstreamBuilder,
) -> Setup {
    let us = MockUpstream::builder().reply("from the US").start().await;
    let eu1 = eu1.start().await;
    let eu2 = eu2.start().await;
    let gw = Gateway::start(&catalogue(&us, &eu1, &eu2)).await;
    Setup { gw, us, eu1, eu2 }
}

fn assert_us_untouched(us: &MockUpstream, when: &str) {
    assert_eq!(
        us.request_count(),
        0,
        "the US deployment was contacted {when}: {:?}",
        us.requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
}

/// Drive requests until the gateway answers 503 `no_healthy_deployment`,
/// asserting every earlier answer is `expect_status`; returns how many
/// requests it took (the 503 included).
async fn until_circuits_open(gw: &Gateway, body: &Value, expect_status: u16) -> usize {
    for n in 1..=BREAKER_THRESHOLD + 2 {
        let resp = gw.chat(body).await;
        if resp.status().as_u16() == 503 {
            let err = expect_error(resp, 503, "no_healthy_deployment").await;
            let m = err["message"].as_str().unwrap_or_default();
            assert!(
                m.contains("eu-paris-1") && m.contains("eu-paris-2"),
                "names the unavailable deployments: {m}"
            );
            assert!(
                !m.contains("us-east"),
                "the US one is not 'unavailable': {m}"
            );
            return n;
        }
        expect_error(resp, expect_status, "upstream_error").await;
    }
    panic!("the circuits never opened");
}

#[tokio::test]
async fn eu_timeouts_give_504_and_never_reach_the_us() {
    let slow = || MockUpstream::builder().delay(Duration::from_secs(3));
    let s = setup(slow(), slow()).await;
    let body = chat_body("assistant", "Bonjour");

    let t0 = Instant::now();
    let err = expect_error(s.gw.chat(&body).await, 504, "upstream_error").await;
    let took = t0.elapsed();
    let m = err["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("eu-paris-1") && m.contains("eu-paris-2") && m.contains("timed out"),
        "names both timed-out deployments: {m}"
    );
    assert!(
        took < Duration::from_millis(2 * EU_TIMEOUT_MS + 1500),
        "the deployment timeout was honoured ({took:?})"
    );
    assert_eq!((chats(&s.eu1), chats(&s.eu2)), (1, 1), "failover within EU");
    assert_us_untouched(&s.us, "after both EU deployments timed out");

    let n = until_circuits_open(&s.gw, &body, 504).await;
    assert_eq!(n, BREAKER_THRESHOLD, "first request already counted");
    assert_us_untouched(&s.us, "once the EU circuits are open");
}

#[tokio::test]
async fn eu_timeouts_on_a_stream_request_give_504_and_never_reach_the_us() {
    let slow = || MockUpstream::builder().delay(Duration::from_secs(3));
    let s = setup(slow(), slow()).await;
    let resp = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
    expect_error(resp, 504, "upstream_error").await;
    assert_eq!((chats(&s.eu1), chats(&s.eu2)), (1, 1));
    assert_us_untouched(&s.us, "after both EU streams timed out");
}

#[tokio::test]
async fn the_whole_request_timeout_bounds_failover_and_never_reaches_the_us() {
    let us = MockUpstream::start().await;
    let eu1 = MockUpstream::builder()
        .delay(Duration::from_secs(3))
        .start()
        .await;
    let eu2 = MockUpstream::builder()
        .delay(Duration::from_secs(3))
        .start()
        .await;
    // Deployment timeouts are generous (default 30 s); the server's
    // whole-request timeout is what the client relies on.
    let toml = Toml::new()
        .server("request_timeout_secs = 1")
        .deployment("us-east", Dep::us(&us))
        .deployment("eu-paris-1", Dep::eu(&eu1))
        .deployment("eu-paris-2", Dep::eu(&eu2))
        .alias("assistant", &["us-east", "eu-paris-1", "eu-paris-2"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;
    for body in [
        chat_body("assistant", "Bonjour"),
        stream_body("assistant", "Bonjour"),
    ] {
        let t0 = Instant::now();
        let resp = gw.chat(&body).await;
        let took = t0.elapsed();
        let err = expect_error(resp, 504, "request_timeout").await;
        assert!(
            took < Duration::from_millis(2500),
            "answered after {took:?}: {err}"
        );
    }
    assert_eq!(chats(&eu2), 0, "the timeout hit during the first attempt");
    assert_us_untouched(&us, "after the request timed out");
}

#[tokio::test]
async fn an_eu_stream_that_stalls_mid_way_ends_with_an_error_event() {
    let us = MockUpstream::start().await;
    let eu1 = MockUpstream::builder()
        .stream(["Bonjour", " et", " bienvenue"])
        .chunk_delay(Duration::from_secs(3))
        .start()
        .await;
    let eu2 = MockUpstream::start().await;
    let toml = Toml::new()
        .deployment("us-east", Dep::us(&us))
        .deployment(
            "eu-paris-1",
            Dep::eu(&eu1).set("stream_idle_timeout_ms = 300"),
        )
        .deployment("eu-paris-2", Dep::eu(&eu2))
        .alias("assistant", &["us-east", "eu-paris-1", "eu-paris-2"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;

    let t0 = Instant::now();
    let resp = gw.chat(&stream_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(
        t0.elapsed() < Duration::from_millis(2500),
        "idle timeout honoured"
    );
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().expect("events")).expect("JSON");
    assert_eq!(
        last.pointer("/error/code").and_then(Value::as_str),
        Some("upstream_stream_broken"),
        "{text}"
    );
    assert_eq!(chats(&eu2), 0);
    assert_us_untouched(&us, "after an EU stream stalled");
}

#[tokio::test]
async fn eu_server_errors_give_502_then_503_and_never_reach_the_us() {
    let failing = || MockUpstream::builder().status(503);
    let s = setup(failing(), failing()).await;
    let body = chat_body("assistant", "Bonjour");

    let err = expect_error(s.gw.chat(&body).await, 502, "upstream_error").await;
    let m = err["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("eu-paris-1") && m.contains("eu-paris-2") && m.contains("503"),
        "names both failures: {m}"
    );
    assert_eq!((chats(&s.eu1), chats(&s.eu2)), (1, 1), "failover within EU");
    assert_us_untouched(&s.us, "after both EU deployments failed");

    // Circuit breaker: after N failures each, neither is contacted any more.
    let n = until_circuits_open(&s.gw, &body, 502).await;
    assert_eq!(n, BREAKER_THRESHOLD, "first request already counted");
    let counts = (chats(&s.eu1), chats(&s.eu2));
    assert_eq!(counts, (BREAKER_THRESHOLD, BREAKER_THRESHOLD));
    for _ in 0..3 {
        expect_error(s.gw.chat(&body).await, 503, "no_healthy_deployment").await;
        let streamed = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
        expect_error(streamed, 503, "no_healthy_deployment").await;
    }
    assert_eq!(
        (chats(&s.eu1), chats(&s.eu2)),
        counts,
        "open circuits are not contacted"
    );
    assert_us_untouched(&s.us, "once the EU circuits are open");
}

#[tokio::test]
async fn eu_streams_broken_before_the_first_chunk_fail_over_within_eu_only() {
    let broken = || MockUpstream::builder().stream_break_after(0);
    let s = setup(broken(), broken()).await;

    let resp = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
    let err = expect_error(resp, 502, "upstream_error").await;
    let m = err["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("eu-paris-1") && m.contains("eu-paris-2"),
        "names both: {m}"
    );
    assert_eq!((chats(&s.eu1), chats(&s.eu2)), (1, 1), "failover within EU");
    assert_us_untouched(&s.us, "after both EU streams broke");

    until_circuits_open(&s.gw, &stream_body("assistant", "Bonjour"), 502).await;
    assert_us_untouched(&s.us, "once the EU circuits are open");
}

#[tokio::test]
async fn an_eu_stream_broken_mid_way_ends_with_an_error_event_and_no_done() {
    let s = setup(
        MockUpstream::builder()
            .stream(["Bonjour", " et", " bienvenue", " chez", " nous"])
            .stream_break_after(3),
        MockUpstream::builder(),
    )
    .await;

    let resp = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200, "the answer had started");
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-1");
    let text = resp.text().await.expect("body");
    let data = sse_data(&text);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a broken stream must not look complete: {text}"
    );
    let last: Value = serde_json::from_str(data.last().expect("some events")).expect("JSON");
    assert_eq!(
        last.pointer("/error/code").and_then(Value::as_str),
        Some("upstream_stream_broken"),
        "terminal error event: {text}"
    );
    assert!(
        last.pointer("/error/message").is_some_and(Value::is_string),
        "{text}"
    );
    let events = sse_json(&text);
    assert_eq!(
        streamed_text(&events[..events.len() - 1]),
        "Bonjour et",
        "what arrived before the break is delivered"
    );
    // An answer half-sent is not restarted elsewhere.
    assert_eq!(chats(&s.eu2), 0);
    assert_us_untouched(&s.us, "after an EU stream broke mid-way");
}

#[tokio::test]
async fn first_eu_failing_fails_over_to_the_second_eu() {
    let s = setup(MockUpstream::builder().status(500), MockUpstream::builder()).await;

    let resp = s.gw.chat(&chat_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(
        body.pointer("/choices/0/message/content")
            .and_then(Value::as_str),
        Some(rempart_test::DEFAULT_REPLY)
    );
    assert_eq!((chats(&s.eu1), chats(&s.eu2)), (1, 1));

    let resp = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");
    let text = resp.text().await.expect("body");
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    assert_us_untouched(&s.us, "during failover");
}

#[tokio::test]
async fn first_eu_stream_broken_before_the_first_chunk_fails_over_to_the_second_eu() {
    let s = setup(
        MockUpstream::builder().stream_break_after(0),
        MockUpstream::builder(),
    )
    .await;
    let resp = s.gw.chat(&stream_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");
    let text = resp.text().await.expect("body");
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    assert_eq!(streamed_text(&sse_json(&text)), rempart_test::DEFAULT_REPLY);
    assert_us_untouched(&s.us, "during failover");
}

#[tokio::test]
async fn rate_limited_eu_fails_over_but_a_rejected_request_is_not_retried() {
    let s = setup(MockUpstream::builder().status(429), MockUpstream::builder()).await;
    let resp = s.gw.chat(&chat_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");

    // A 400 says the request is wrong: another deployment would say the same.
    let s = setup(MockUpstream::builder().status(400), MockUpstream::builder()).await;
    let err = expect_error(
        s.gw.chat(&chat_body("assistant", "Bonjour")).await,
        400,
        "upstream_error",
    )
    .await;
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("eu-paris-1")
    );
    assert_eq!(chats(&s.eu2), 0, "not retried elsewhere");
    assert_us_untouched(&s.us, "after an upstream 400");
}

#[tokio::test]
async fn first_eu_timing_out_fails_over_to_the_second_eu() {
    let s = setup(
        MockUpstream::builder().delay(Duration::from_secs(3)),
        MockUpstream::builder(),
    )
    .await;
    let resp = s.gw.chat(&chat_body("assistant", "Bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");
    assert_us_untouched(&s.us, "during failover");
}

#[tokio::test]
async fn an_open_circuit_is_skipped_and_the_healthy_eu_serves() {
    let s = setup(MockUpstream::builder().status(503), MockUpstream::builder()).await;
    let body = chat_body("assistant", "Bonjour");
    for i in 0..BREAKER_THRESHOLD + 4 {
        let resp = s.gw.chat(&body).await;
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(header(&resp, "x-rempart-deployment"), "eu-paris-2");
    }
    assert_eq!(
        chats(&s.eu1),
        BREAKER_THRESHOLD,
        "the failing deployment stops being contacted once its circuit opens"
    );
    assert_eq!(chats(&s.eu2), BREAKER_THRESHOLD + 4);
    assert_us_untouched(&s.us, "while one EU circuit is open");
}
