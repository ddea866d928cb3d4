//! Issue 3 in the running gateway: a detector that fails (error or panic)
//! refuses the request and nothing is forwarded; an `eu_sovereign` upstream
//! sees placeholders, never the planted values, and the client gets them
//! back (whole and streamed, placeholders straddling chunks);
//! special-category data stays in-tenancy by default.

use std::sync::Arc;

use rempart_gateway::inspect::Inspector;
use rempart_pii::Entity;
use rempart_test::MockUpstream;
use serde_json::Value;

use crate::common::*;

/// A detector whose every call fails.
struct FailingInspector;

impl Inspector for FailingInspector {
    fn detect(&self, _: &str) -> Result<Vec<Entity>, String> {
        Err("injected detector failure".into())
    }
    fn special_category(&self, _: &str) -> bool {
        false
    }
}

/// A detector that panics.
struct PanickingInspector;

impl Inspector for PanickingInspector {
    fn detect(&self, _: &str) -> Result<Vec<Entity>, String> {
        panic!("injected detector panic")
    }
    fn special_category(&self, _: &str) -> bool {
        false
    }
}

const NAME: &str = "Jean Dupont";
const IBAN: &str = "FR14 2004 1010 0505 0001 3M02 606";
const IBAN_COMPACT: &str = "FR1420041010050500013M02606";

fn planted() -> String {
    format!("Bonjour, je suis M. {NAME} et mon IBAN est {IBAN}. Merci de confirmer le virement.")
}

fn sovereign_only(mock: &MockUpstream) -> String {
    Toml::new()
        .deployment("mistral-paris", Dep::eu_sovereign(mock))
        .alias("assistant", &["mistral-paris"])
        .default_tenant()
        .build()
}

#[tokio::test]
async fn a_failing_detector_refuses_and_nothing_is_forwarded() {
    let inspectors: [(&str, Arc<dyn Inspector>); 2] = [
        ("error", Arc::new(FailingInspector)),
        ("panic", Arc::new(PanickingInspector)),
    ];
    for (what, inspector) in inspectors {
        let mock = MockUpstream::builder().echo().start().await;
        let gw = Gateway::start_with_inspector(&sovereign_only(&mock), &[TENANT], inspector).await;
        for body in [
            chat_body("assistant", &planted()),
            stream_body("assistant", &planted()),
        ] {
            let resp = gw.chat(&body).await;
            let err = expect_error(resp, 403, "pii_inspection_failed").await;
            let m = err.to_string();
            assert!(
                !m.contains(NAME) && !m.contains("FR14"),
                "{what}: no value in the error: {m}"
            );
        }
        assert_eq!(
            mock.request_count(),
            0,
            "{what}: the upstream was contacted"
        );
        // The refusal is recorded, and the gateway still answers.
        let resp = gw.get("/v1/models").send().await.expect("reachable");
        assert_eq!(resp.status(), 200, "{what}: the gateway survived");
        let data_dir = gw.stop_keeping_data().await;
        let records = audit_records(data_dir.path());
        assert_eq!(records.len(), 2, "{what}: one record per refusal");
        for r in &records {
            assert_eq!(r.outcome, rempart_audit::Outcome::RefusedPii, "{what}");
            assert_eq!(r.error_code.as_deref(), Some("pii_inspection_failed"));
            assert!(r.deployment.is_none() && r.decision.attempted.is_empty());
        }
    }
}

fn assert_no_plaintext(mock: &MockUpstream, n: usize) {
    let chats = mock.chat_requests();
    assert_eq!(chats.len(), n);
    for needle in [NAME, "Dupont", IBAN, IBAN_COMPACT, "2004 1010"] {
        assert!(!mock.received(needle), "`{needle}` reached the upstream");
    }
    for r in &chats {
        let sent = r.last_user_message().unwrap_or_default();
        assert!(sent.contains("[["), "placeholders sent: {sent}");
        assert!(
            sent.contains("Merci de confirmer le virement"),
            "the rest is intact: {sent}"
        );
    }
}

fn assert_pii_header(resp: &reqwest::Response) {
    let pii = header(resp, "x-rempart-pii");
    let mut parts: Vec<&str> = pii.split(',').collect();
    parts.sort();
    assert_eq!(parts, ["IBAN=1", "PERSON=1"], "counts, never values: {pii}");
}

#[tokio::test]
async fn a_sovereign_upstream_sees_placeholders_and_the_client_its_values() {
    let mock = MockUpstream::builder().echo().split_chars(3).start().await;
    let gw = Gateway::start(&sovereign_only(&mock)).await;

    let resp = gw.chat(&chat_body("assistant", &planted())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "mistral-paris");
    assert_pii_header(&resp);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["choices"][0]["message"]["content"], planted());
    assert_no_plaintext(&mock, 1);

    let resp = gw.chat(&stream_body("assistant", &planted())).await;
    assert_eq!(resp.status(), 200);
    assert_pii_header(&resp);
    let text = resp.text().await.expect("body");
    let events = sse_json(&text);
    assert!(events.len() > 10, "streamed in small pieces");
    assert_eq!(streamed_text(&events), planted());
    assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    assert!(!text.contains("[["), "no placeholder reached the client");
    assert_no_plaintext(&mock, 2);
}

#[tokio::test]
async fn special_category_data_stays_in_tenancy() {
    let texts = [
        "Le patient présente un diabète de type 2, diagnostic confirmé hier.",
        "Bitte bestätigen Sie meine Mitgliedschaft in der Gewerkschaft.",
    ];
    // Only a sovereign deployment: refused by policy, nothing sent.
    let sovereign = MockUpstream::builder().echo().start().await;
    let gw = Gateway::start(&sovereign_only(&sovereign)).await;
    for t in texts {
        for body in [chat_body("assistant", t), stream_body("assistant", t)] {
            let err = expect_error(gw.chat(&body).await, 403, "policy_refusal").await;
            let m = err["message"].as_str().unwrap_or_default();
            assert!(
                m.contains("mistral-paris") && m.contains("special_category"),
                "names the deployment and the reason: {m}"
            );
        }
    }
    assert_eq!(sovereign.request_count(), 0);
    let data_dir = gw.stop_keeping_data().await;
    let records = audit_records(data_dir.path());
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!(r.outcome, rempart_audit::Outcome::RefusedPolicy);
        assert_eq!(r.sensitivity, "special_category");
        assert_eq!(r.decision.rejected.len(), 1);
        assert_eq!(r.decision.rejected[0].deployment, "mistral-paris");
        assert_eq!(r.decision.rejected[0].reasons, ["sensitivity_needs_tier"]);
    }

    // With an in-tenancy deployment as well (listed after): routed there.
    let sovereign = MockUpstream::builder().echo().start().await;
    let local = MockUpstream::builder().echo().start().await;
    let toml = Toml::new()
        .deployment("mistral-paris", Dep::eu_sovereign(&sovereign))
        .deployment("local", Dep::eu(&local))
        .alias("assistant", &["mistral-paris", "local"])
        .default_tenant()
        .build();
    let gw = Gateway::start(&toml).await;
    for t in texts {
        let resp = gw.chat(&chat_body("assistant", t)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-rempart-deployment"), "local");
        let body: Value = resp.json().await.expect("JSON");
        assert_eq!(body["choices"][0]["message"]["content"], t);
        let resp = gw.chat(&stream_body("assistant", t)).await;
        assert_eq!(header(&resp, "x-rempart-deployment"), "local");
        assert_eq!(
            streamed_text(&sse_json(&resp.text().await.expect("body"))),
            t
        );
    }
    assert_eq!(chats(&local), 4);
    assert_eq!(
        sovereign.request_count(),
        0,
        "special category reached the sovereign API"
    );
    // Ordinary personal data still goes to the first candidate.
    let resp = gw.chat(&chat_body("assistant", &planted())).await;
    assert_eq!(header(&resp, "x-rempart-deployment"), "mistral-paris");
}

/// Ingestion is fail-closed too: without a scan, the subjects a document is
/// about could not be linked for erasure, so nothing is stored; the refusal
/// is recorded and names no value.
#[tokio::test]
async fn a_failing_detector_refuses_ingestion() {
    let inspectors: [(&str, Arc<dyn Inspector>); 2] = [
        ("error", Arc::new(FailingInspector)),
        ("panic", Arc::new(PanickingInspector)),
    ];
    for (what, inspector) in inspectors {
        let mock = MockUpstream::builder().echo().start().await;
        let gw = Gateway::start_with_inspector(&sovereign_only(&mock), &[TENANT], inspector).await;
        let resp = gw
            .post("/v1/collections/kyc/documents")
            .json(&serde_json::json!({"name": "KYC file", "text": planted()}))
            .send()
            .await
            .unwrap();
        let err = expect_error(resp, 403, "pii_inspection_failed").await;
        assert!(!err.to_string().contains(NAME), "{what}: {err}");
        let listed: Value = gw
            .get("/v1/collections/kyc/documents")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["data"], serde_json::json!([]), "{what}: stored");
        let data_dir = gw.stop_keeping_data().await;
        let records = audit_records(data_dir.path());
        assert_eq!(records.len(), 1, "{what}");
        assert_eq!(
            (records[0].endpoint.as_str(), records[0].outcome),
            ("ingest", rempart_audit::Outcome::RefusedPii),
            "{what}"
        );
        assert!(records[0].documents.is_empty(), "{what}");
    }
}
