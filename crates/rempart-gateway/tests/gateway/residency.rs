//! UK/EU separation: a tenant admitting both clusters with same-cluster
//! residency sends UK users to London only and EU users to Paris only; the
//! region comes from the pinned tenant region, else a *trusted* edge header.

use rempart_test::MockUpstream;
use serde_json::Value;

use crate::common::*;

/// Tenant admitting EU-GDPR and UK-GDPR, each request kept in its own cluster.
const SEPARATED: &str = "[tenants.bank.policy]\n\
    admitted_clusters = [\"EU-GDPR\", \"UK-GDPR\"]\n\
    residency = \"same_cluster\"";

struct Setup {
    gw: Gateway,
    paris: MockUpstream,
    london: MockUpstream,
}

impl Setup {
    fn untouched(&self) {
        assert_eq!(self.paris.request_count(), 0, "Paris contacted");
        assert_eq!(self.london.request_count(), 0, "London contacted");
    }
}

async fn setup(london: rempart_test::MockUpstreamBuilder) -> Setup {
    let paris = MockUpstream::builder().reply("depuis Paris").start().await;
    let london = london.start().await;
    let toml = Toml::new()
        .server("trusted_region_headers = [\"X-Rempart-Region\"]")
        .deployment("paris", Dep::in_tenancy(&paris, "FR"))
        .deployment("london", Dep::in_tenancy(&london, "GB"))
        // Paris first: a UK request must skip it for policy, not by luck.
        .alias("assistant", &["paris", "london"])
        .alias("assistant-uk-first", &["london", "paris"])
        .tenant("bank", SEPARATED)
        .tenant(
            "bank-uk",
            &format!(
                "region = \"GB\"\n{}",
                SEPARATED.replace("tenants.bank.", "tenants.bank-uk.")
            ),
        )
        .build();
    let gw = Gateway::start_with_keys(&toml, &["bank", "bank-uk"]).await;
    Setup { gw, paris, london }
}

async fn ask(s: &Setup, model: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut rb = s.gw.chat_request(&chat_body(model, "Bonjour"));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.expect("gateway reachable")
}

#[tokio::test]
async fn a_uk_request_reaches_only_london() {
    let s = setup(MockUpstream::builder().reply("from London")).await;
    for model in ["assistant", "assistant-uk-first"] {
        let resp = ask(&s, model, &[("X-Rempart-Region", "GB")]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-rempart-deployment"), "london");
        assert_eq!(header(&resp, "x-rempart-region"), "GB; source=header");
        // `UK` is what people type; it is GB.
        let resp = ask(&s, model, &[("X-Rempart-Region", "uk")]).await;
        assert_eq!(header(&resp, "x-rempart-deployment"), "london");
    }
    assert_eq!(
        s.paris.request_count(),
        0,
        "an EU deployment saw a UK request"
    );
    assert_eq!(chats(&s.london), 4);
}

#[tokio::test]
async fn eu_requests_reach_only_paris() {
    let s = setup(MockUpstream::builder()).await;
    for region in ["FR", "DE", "ie"] {
        for model in ["assistant", "assistant-uk-first"] {
            let resp = ask(&s, model, &[("X-Rempart-Region", region)]).await;
            assert_eq!(resp.status(), 200, "{region}");
            assert_eq!(header(&resp, "x-rempart-deployment"), "paris", "{region}");
        }
    }
    assert_eq!(
        s.london.request_count(),
        0,
        "a UK deployment saw an EU request"
    );
}

#[tokio::test]
async fn a_uk_request_never_fails_over_to_paris() {
    let s = setup(MockUpstream::builder().status(503)).await;
    let resp = ask(&s, "assistant", &[("X-Rempart-Region", "GB")]).await;
    expect_error(resp, 502, "upstream_error").await;
    let streamed =
        s.gw.chat_request(&stream_body("assistant", "Bonjour"))
            .header("X-Rempart-Region", "GB")
            .send()
            .await
            .expect("reachable");
    expect_error(streamed, 502, "upstream_error").await;
    assert_eq!(s.paris.request_count(), 0, "failover crossed the border");
}

#[tokio::test]
async fn an_unknown_region_is_refused_and_nothing_is_contacted() {
    let s = setup(MockUpstream::builder()).await;
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("X-Rempart-Region", "XX")], // Cloudflare's "unknown"
        &[("X-Rempart-Region", "T1")], // Cloudflare's "Tor"
        &[("X-Rempart-Region", "France")],
        &[("X-Rempart-Region", "ZZ")], // a country in neither cluster
    ];
    for headers in cases {
        let resp = ask(&s, "assistant", headers).await;
        let err = expect_error(resp, 403, "policy_refusal").await;
        let m = err["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("paris") && m.contains("london"),
            "{headers:?}: names the rejected deployments: {m}"
        );
    }
    s.untouched();
}

#[tokio::test]
async fn an_untrusted_region_header_is_ignored() {
    let s = setup(MockUpstream::builder()).await;
    // CF-IPCountry is not in trusted_region_headers: anyone could send it.
    let resp = ask(&s, "assistant", &[("CF-IPCountry", "GB")]).await;
    expect_error(resp, 403, "policy_refusal").await;
    s.untouched();

    let resp = ask(
        &s,
        "assistant",
        &[("CF-IPCountry", "GB"), ("X-Rempart-Region", "FR")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "paris");
    assert_eq!(s.london.request_count(), 0);
}

#[tokio::test]
async fn the_pinned_tenant_region_wins_over_the_header() {
    let s = setup(MockUpstream::builder()).await;
    let resp =
        s.gw.post_as(s.gw.key_of("bank-uk"), "/v1/chat/completions")
            .json(&chat_body("assistant", "Bonjour"))
            .header("X-Rempart-Region", "FR")
            .send()
            .await
            .expect("reachable");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-rempart-deployment"), "london");
    assert_eq!(header(&resp, "x-rempart-region"), "GB; source=pinned");
    let _: Value = resp.json().await.expect("JSON");
    assert_eq!(s.paris.request_count(), 0);
}
