//! Issue 4 acceptance: after a run with mixed tenants and regions, the
//! audit log read back verifies, holds one record per request (every served
//! response's `X-Rempart-Audit-Id` among them), and the residency report
//! gives exactly the shares computed from what the test sent, listing every
//! refusal as an exception.

use std::collections::BTreeMap;

use rempart_test::MockUpstream;

use crate::common::*;

/// Tokens each mock reports (prompt, completion): distinct per deployment.
const PARIS_USAGE: (u64, u64) = (10, 5);
const LONDON_USAGE: (u64, u64) = (20, 7);
const MISTRAL_USAGE: (u64, u64) = (30, 11);

/// Where a served request went: (deployment, operator, dc country, tier, usage).
type Served = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (u64, u64),
);

/// One request the test sends and what must happen to it.
struct Case {
    tenant: &'static str,
    model: &'static str,
    region_header: Option<&'static str>,
    text: &'static str,
    stream: bool,
    /// `Some((deployment, operator, dc country, tier, usage))` when served.
    served: Option<Served>,
    /// The request's legal cluster in the record.
    cluster: Option<&'static str>,
}

const PARIS: (&str, &str, &str, &str, (u64, u64)) =
    ("paris", "ACME IT", "FR", "in_tenancy", PARIS_USAGE);
const LONDON: (&str, &str, &str, &str, (u64, u64)) =
    ("london", "ACME UK Ltd", "GB", "in_tenancy", LONDON_USAGE);
const MISTRAL: (&str, &str, &str, &str, (u64, u64)) = (
    "mistral-paris",
    "Mistral AI",
    "FR",
    "eu_sovereign",
    MISTRAL_USAGE,
);

fn cases() -> Vec<Case> {
    let c = |tenant, model, region_header, text, stream, served, cluster| Case {
        tenant,
        model,
        region_header,
        text,
        stream,
        served,
        cluster,
    };
    let eu = Some("EU-GDPR");
    let uk = Some("UK-GDPR");
    let health = "Diagnostic : diabète de type 2, merci de préparer la lettre.";
    vec![
        // `bank-fr`: pinned to France, default policy.
        c(
            "bank-fr",
            "assistant",
            None,
            "Bonjour",
            false,
            Some(PARIS),
            eu,
        ),
        c(
            "bank-fr",
            "assistant",
            None,
            "Bonjour",
            true,
            Some(PARIS),
            eu,
        ),
        c(
            "bank-fr",
            "assistant",
            Some("GB"),
            "Bonjour",
            false,
            Some(PARIS),
            eu,
        ),
        c(
            "bank-fr",
            "sovereign",
            None,
            "Bonjour",
            false,
            Some(MISTRAL),
            eu,
        ),
        // Not streamed: Mistral sends usage in its last chunk unasked (the
        // gateway drops `stream_options` for it); the mock only when asked.
        c(
            "bank-fr",
            "sovereign",
            None,
            "Salut",
            false,
            Some(MISTRAL),
            eu,
        ),
        // Special category to a sovereign-only alias: refused by policy.
        c("bank-fr", "sovereign", None, health, false, None, eu),
        // `bank-eu-uk`: region from the trusted header, same-cluster residency.
        c(
            "bank-eu-uk",
            "assistant",
            Some("GB"),
            "Hello",
            false,
            Some(LONDON),
            uk,
        ),
        c(
            "bank-eu-uk",
            "assistant",
            Some("GB"),
            "Hello",
            true,
            Some(LONDON),
            uk,
        ),
        c(
            "bank-eu-uk",
            "assistant",
            Some("uk"),
            "Hello",
            false,
            Some(LONDON),
            uk,
        ),
        c(
            "bank-eu-uk",
            "assistant",
            Some("GB"),
            "Hi",
            false,
            Some(LONDON),
            uk,
        ),
        c(
            "bank-eu-uk",
            "assistant",
            Some("DE"),
            "Hallo",
            false,
            Some(PARIS),
            eu,
        ),
        c(
            "bank-eu-uk",
            "assistant",
            Some("DE"),
            "Hallo",
            true,
            Some(PARIS),
            eu,
        ),
        // No region: refused by policy.
        c("bank-eu-uk", "assistant", None, "Hello", false, None, None),
        // A UK request to the sovereign (EU) alias: refused by residency.
        c(
            "bank-eu-uk",
            "sovereign",
            Some("GB"),
            "Hello",
            false,
            None,
            uk,
        ),
    ]
}

fn catalogue(paris: &MockUpstream, london: &MockUpstream, mistral: &MockUpstream) -> String {
    Toml::new()
        .server("trusted_region_headers = [\"X-Rempart-Region\"]")
        .deployment("paris", Dep::in_tenancy(paris, "FR"))
        .deployment(
            "london",
            Dep::in_tenancy(london, "GB").operator("ACME UK Ltd"),
        )
        .deployment("mistral-paris", Dep::eu_sovereign(mistral))
        .alias("assistant", &["paris", "london"])
        .alias("sovereign", &["mistral-paris"])
        .tenant("bank-fr", "region = \"FR\"")
        .tenant(
            "bank-eu-uk",
            "[tenants.bank-eu-uk.policy]\n\
             admitted_clusters = [\"EU-GDPR\", \"UK-GDPR\"]\n\
             residency = \"same_cluster\"",
        )
        .build()
}

/// (requests, tokens) by key.
type Tally = BTreeMap<String, (u64, u64)>;

#[tokio::test]
async fn the_residency_report_matches_the_ground_truth_and_the_log_verifies() {
    let paris = MockUpstream::builder()
        .usage(PARIS_USAGE.0, PARIS_USAGE.1)
        .start()
        .await;
    let london = MockUpstream::builder()
        .usage(LONDON_USAGE.0, LONDON_USAGE.1)
        .start()
        .await;
    let mistral = MockUpstream::builder()
        .usage(MISTRAL_USAGE.0, MISTRAL_USAGE.1)
        .start()
        .await;
    let gw = Gateway::start_with_keys(
        &catalogue(&paris, &london, &mistral),
        &["bank-fr", "bank-eu-uk"],
    )
    .await;

    let cases = cases();
    let mut served_ids = Vec::new();
    let mut refused_ids = Vec::new();
    let (mut by_cluster, mut by_operator, mut by_country, mut by_tier) =
        (Tally::new(), Tally::new(), Tally::new(), Tally::new());
    for (i, case) in cases.iter().enumerate() {
        let body = if case.stream {
            stream_body(case.model, case.text)
        } else {
            chat_body(case.model, case.text)
        };
        let mut rb = gw
            .post_as(gw.key_of(case.tenant), "/v1/chat/completions")
            .json(&body);
        if let Some(r) = case.region_header {
            rb = rb.header("X-Rempart-Region", r);
        }
        let resp = rb.send().await.expect("gateway reachable");
        let none = "(none)".to_owned();
        let tokens = match case.served {
            Some((dep, _, _, _, (p, c))) => {
                assert_eq!(resp.status(), 200, "case {i}");
                assert_eq!(header(&resp, "x-rempart-deployment"), dep, "case {i}");
                served_ids.push(header(&resp, "x-rempart-audit-id").to_owned());
                // Read to the end: a stream's record is written before [DONE].
                let text = resp.text().await.expect("body");
                if case.stream {
                    assert!(text.ends_with("data: [DONE]\n\n"), "case {i}: {text}");
                }
                p + c
            }
            None => {
                let id = header(&resp, "x-rempart-request-id").to_owned();
                expect_error(resp, 403, "policy_refusal").await;
                refused_ids.push(id);
                0
            }
        };
        let keys = match case.served {
            Some((_, op, dc, tier, _)) => [
                case.cluster.map_or(none.clone(), str::to_owned),
                op.to_owned(),
                dc.to_owned(),
                tier.to_owned(),
            ],
            None => [
                case.cluster.map_or(none.clone(), str::to_owned),
                none.clone(),
                none.clone(),
                none.clone(),
            ],
        };
        for (t, k) in [
            &mut by_cluster,
            &mut by_operator,
            &mut by_country,
            &mut by_tier,
        ]
        .into_iter()
        .zip(keys)
        {
            let e = t.entry(k).or_default();
            e.0 += 1;
            e.1 += tokens;
        }
    }
    assert_eq!(chats(&paris), 5);
    assert_eq!(chats(&london), 4);
    assert_eq!(chats(&mistral), 2);

    // Stop first: every record is durable and the final checkpoint signed.
    let data_dir = gw.stop_keeping_data().await;
    let key = rempart_gateway::audit::signing_key(data_dir.path()).expect("key");
    let dir = rempart_gateway::audit::audit_dir(data_dir.path());
    let report = rempart_audit::verify(&dir, &key.verifying_key(), None).expect("the log verifies");
    assert_eq!(report.checked_to, cases.len() as u64, "{report:?}");
    let records = audit_records(data_dir.path());
    assert_eq!(records.len(), cases.len(), "one record per request");
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    for id in served_ids.iter().chain(&refused_ids) {
        assert!(ids.contains(&id.as_str()), "{id} is not in the log");
    }

    let period = &records[0].ts[..7];
    let got = rempart_audit::report::residency_report(&records, period).expect("report");
    let total_r = cases.len() as u64;
    let total_t: u64 = by_cluster.values().map(|v| v.1).sum();
    assert_eq!((got.total_requests, got.total_tokens), (total_r, total_t));
    let expect = |t: &Tally| -> Vec<(String, u64, u64, f64, f64)> {
        let mut v: Vec<_> = t
            .iter()
            .map(|(k, (r, tk))| {
                (
                    k.clone(),
                    *r,
                    *tk,
                    *r as f64 / total_r as f64,
                    *tk as f64 / total_t as f64,
                )
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    let shares = |s: &[rempart_audit::report::Share]| -> Vec<(String, u64, u64, f64, f64)> {
        s.iter()
            .map(|x| {
                (
                    x.key.clone(),
                    x.requests,
                    x.tokens,
                    x.request_share,
                    x.token_share,
                )
            })
            .collect()
    };
    assert_eq!(
        shares(&got.by_legal_cluster),
        expect(&by_cluster),
        "by legal cluster"
    );
    assert_eq!(
        shares(&got.by_operator),
        expect(&by_operator),
        "by operator"
    );
    assert_eq!(
        shares(&got.by_dc_country),
        expect(&by_country),
        "by country"
    );
    assert_eq!(shares(&got.by_trust_tier), expect(&by_tier), "by tier");
    // Spelled out once, so a wrong ground truth cannot hide a wrong report.
    assert_eq!(by_cluster["EU-GDPR"], (8, 3 * 15 + 2 * 41 + 2 * 15));
    assert_eq!(by_cluster["UK-GDPR"], (5, 4 * 27));
    assert_eq!(by_tier["eu_sovereign"], (2, 82));

    let exceptions: Vec<(&str, &str, Vec<String>)> = got
        .exceptions
        .iter()
        .map(|e| (e.id.as_str(), e.outcome.as_str(), e.reasons.clone()))
        .collect();
    let want: Vec<(&str, &str, Vec<String>)> = refused_ids
        .iter()
        .map(|id| {
            (
                id.as_str(),
                "refused_policy",
                vec!["refused_policy".to_owned()],
            )
        })
        .collect();
    assert_eq!(
        exceptions, want,
        "every refusal, and nothing else, is an exception"
    );
}
