//! Reports against a hand-built ground truth: mixed tenants, regions,
//! operators, outcomes, and month boundaries in other time zones.

mod common;

use std::collections::BTreeMap;

use rempart_audit::report::{art30_register, residency_report, write_csv, write_jsonl};
use rempart_audit::{AuditRecord, Outcome};

#[allow(clippy::too_many_arguments)]
fn rec(
    n: u64,
    ts: &str,
    tenant: &str,
    cluster: Option<&str>,
    dep: Option<(&str, &str, &str, &str)>,
    outcome: Outcome,
    tin: u64,
    tout: u64,
) -> AuditRecord {
    let mut r = common::record(n);
    r.ts = ts.into();
    r.tenant = tenant.into();
    r.legal_cluster = cluster.map(String::from);
    r.deployment = dep.map(|d| d.0.into());
    r.operator = dep.map(|d| d.1.into());
    r.dc_country = dep.map(|d| d.2.into());
    r.trust_tier = dep.map(|d| d.3.into());
    r.outcome = outcome;
    r.tokens_in = tin;
    r.tokens_out = tout;
    r.pii_counts = BTreeMap::new();
    r.purpose = None;
    r.sensitivity = "none".into();
    r
}

const OVH: (&str, &str, &str, &str) = ("ovh-eu", "OVHcloud", "FR", "eu_sovereign");
const LOCAL: (&str, &str, &str, &str) = ("local", "Acme", "DE", "in_tenancy");
const AZURE_US: (&str, &str, &str, &str) = ("azure-us", "Microsoft", "US", "foreign");

fn ground_truth() -> Vec<AuditRecord> {
    let eu = Some("EU-GDPR");
    let mut v = vec![
        rec(
            1,
            "2026-11-03T10:00:00Z",
            "a",
            eu,
            Some(OVH),
            Outcome::Served,
            100,
            50,
        ),
        rec(
            2,
            "2026-11-04T10:00:00Z",
            "a",
            eu,
            Some(LOCAL),
            Outcome::Served,
            10,
            10,
        ),
        rec(
            3,
            "2026-11-05T10:00:00Z",
            "b",
            Some("UK-GDPR"),
            Some(OVH),
            Outcome::Served,
            20,
            20,
        ),
        rec(
            4,
            "2026-11-06T10:00:00Z",
            "b",
            eu,
            None,
            Outcome::RefusedPolicy,
            0,
            0,
        ),
        rec(
            5,
            "2026-11-07T10:00:00Z",
            "a",
            eu,
            Some(AZURE_US),
            Outcome::Served,
            200,
            0,
        ),
        // October in UTC: outside the period.
        rec(
            6,
            "2026-10-31T23:59:59Z",
            "a",
            eu,
            Some(OVH),
            Outcome::Served,
            1000,
            0,
        ),
        // 30 November 23:30 UTC, written with an offset: inside.
        rec(
            7,
            "2026-12-01T00:30:00+01:00",
            "b",
            None,
            Some(LOCAL),
            Outcome::Served,
            40,
            50,
        ),
        // 1 December 01:30 UTC: outside.
        rec(
            8,
            "2026-11-30T23:30:00-02:00",
            "b",
            eu,
            Some(OVH),
            Outcome::Served,
            7,
            7,
        ),
    ];
    v[0].purpose = Some("support".into());
    v[0].pii_counts.insert("EMAIL".into(), 1);
    v[1].sensitivity = "special_category".into();
    v[2].purpose = Some("claims".into());
    v[4].purpose = Some("support".into());
    v[4].pii_counts.insert("EMAIL".into(), 2);
    v[4].pii_counts.insert("IBAN".into(), 1);
    v
}

fn share(v: &[rempart_audit::report::Share]) -> Vec<(&str, u64, u64)> {
    v.iter()
        .map(|s| (s.key.as_str(), s.requests, s.tokens))
        .collect()
}

#[test]
fn residency_report_exact_shares() {
    let records = ground_truth();
    let r = residency_report(&records, "2026-11").unwrap();
    assert_eq!((r.total_requests, r.total_tokens), (6, 500));
    assert_eq!(
        share(&r.by_legal_cluster),
        [("EU-GDPR", 4, 370), ("(none)", 1, 90), ("UK-GDPR", 1, 40)]
    );
    assert_eq!(
        share(&r.by_operator),
        [
            ("Acme", 2, 110),
            ("OVHcloud", 2, 190),
            ("(none)", 1, 0),
            ("Microsoft", 1, 200)
        ]
    );
    assert_eq!(
        share(&r.by_dc_country),
        [
            ("DE", 2, 110),
            ("FR", 2, 190),
            ("(none)", 1, 0),
            ("US", 1, 200)
        ]
    );
    assert_eq!(
        share(&r.by_trust_tier),
        [
            ("eu_sovereign", 2, 190),
            ("in_tenancy", 2, 110),
            ("(none)", 1, 0),
            ("foreign", 1, 200)
        ]
    );
    assert_eq!(r.by_legal_cluster[0].request_share, 4.0 / 6.0);
    assert_eq!(r.by_legal_cluster[0].token_share, 0.74);
    let ex: Vec<(&str, Vec<&str>)> = r
        .exceptions
        .iter()
        .map(|e| {
            (
                e.id.as_str(),
                e.reasons.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        ex,
        [
            (
                common::record(3).id.as_str(),
                vec!["served_outside_cluster:EU-GDPR"]
            ),
            (common::record(4).id.as_str(), vec!["refused_policy"]),
            (
                common::record(5).id.as_str(),
                vec!["served_outside_cluster:OTHER:US"]
            ),
        ]
    );
    let md = r.to_markdown();
    assert!(
        md.contains("| EU-GDPR | 4 | 66.67 % | 370 | 74.00 % |"),
        "{md}"
    );
    assert!(md.contains("## Exceptions (3)"));
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["total_tokens"], 500);
    assert!(residency_report(&records, "2026-13").is_err());
    assert!(residency_report(&records, "26-11").is_err());
    let empty = residency_report(&records, "2025-01").unwrap();
    assert_eq!((empty.total_requests, empty.exceptions.len()), (0, 0));
}

#[test]
fn art30_register_from_ground_truth() {
    let records = ground_truth();
    let r = art30_register(&records, Some("2026-11")).unwrap();
    assert_eq!(r.requests, 6);
    let purposes: Vec<(&str, u64)> = r
        .purposes
        .iter()
        .map(|c| (c.name.as_str(), c.requests))
        .collect();
    assert_eq!(
        purposes,
        [("(unspecified)", 3), ("claims", 1), ("support", 2)]
    );
    let cats: Vec<(&str, u64)> = r
        .data_categories
        .iter()
        .map(|c| (c.name.as_str(), c.requests))
        .collect();
    assert_eq!(cats, [("EMAIL", 2), ("IBAN", 1)]);
    assert_eq!(r.special_category_requests, 1);
    let rec: Vec<(&str, u64, u64)> = r
        .recipients
        .iter()
        .map(|x| {
            (
                x.deployment.as_str(),
                x.requests,
                x.requests_with_personal_data,
            )
        })
        .collect();
    assert_eq!(rec, [("azure-us", 1, 1), ("local", 2, 0), ("ovh-eu", 2, 1)]);
    let transfers: Vec<&str> = r
        .transfers_outside_eu
        .iter()
        .map(|x| x.deployment.as_str())
        .collect();
    assert_eq!(transfers, ["azure-us"]);
    let md = r.to_markdown();
    assert!(
        md.contains("- azure-us (Microsoft, US): 1 requests"),
        "{md}"
    );
    // Without the US deployment: "None."
    let eu_only: Vec<AuditRecord> = records
        .into_iter()
        .filter(|r| r.dc_country.as_deref() != Some("US"))
        .collect();
    let r = art30_register(&eu_only, None).unwrap();
    assert!(r.transfers_outside_eu.is_empty());
    assert!(r.to_markdown().contains("Art. 30(1)(e))\n\nNone."));
}

#[test]
fn jsonl_and_csv_export() {
    let mut records = ground_truth();
    records[0].error_code = Some("a,\"b\"".into());
    records[1].error_code = Some("=cmd()".into());
    // A document record carries the later fields; the others leave them out.
    records[2].endpoint = "ingest".into();
    records[2].documents = vec!["0190c5a0-0000-7000-8000-0000000000d1".into()];
    records[2].document_chunks = 4;
    let mut out = Vec::new();
    assert_eq!(write_jsonl(&records, &mut out).unwrap(), 8);
    let back: Vec<AuditRecord> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, records);
    let mut out = Vec::new();
    assert_eq!(write_csv(&records, &mut out).unwrap(), 8);
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("id,ts,endpoint,tenant,key_id,purpose,"),
        "{header}"
    );
    assert_eq!(header.split(',').count(), 35);
    assert!(
        header.ends_with(",output_hash,documents,document_chunks,linked_subjects"),
        "every column, whichever record comes first: {header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8);
    assert!(rows[0].ends_with(",[],0,0"), "{}", rows[0]);
    assert!(
        rows[2].ends_with(",\"[\"\"0190c5a0-0000-7000-8000-0000000000d1\"\"]\",4,0"),
        "{}",
        rows[2]
    );
    assert!(text.contains("\"a,\"\"b\"\"\""), "{text}");
    assert!(text.contains(",'=cmd(),"), "{text}");
}
