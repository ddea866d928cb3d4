use super::*;

fn no_overrides() -> Overrides {
    Overrides {
        listen: None,
        data_dir: None,
    }
}

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"
trusted_region_headers = ["X-Rempart-Region"]

[deployments.mistral-eu]
kind = "mistral"
model = "mistral-small-latest"
api_key = "env:MISTRAL_API_KEY"
[deployments.mistral-eu.facts]
operator = "Mistral AI"
operator_country = "FR"
parent_jurisdiction = "FR"
dc_country = "FR"
hosting = "managed"
retention_days = 30
dpa_signed = true
trained_by = "Mistral AI"
licence = "proprietary"
[deployments.mistral-eu.price]
input_eur_per_mtok = 0.1
output_eur_per_mtok = 0.3

[deployments.vllm-paris]
kind = "vllm"
base_url = "http://10.0.0.5:8000/v1"
model = "mistralai/Mistral-7B-Instruct-v0.3"
[deployments.vllm-paris.facts]
operator = "ACME"
operator_country = "FR"
parent_jurisdiction = "FR"
dc_country = "FR"
hosting = "in_tenancy"
retention_days = 0
trained_by = "Mistral AI"
licence = "Apache-2.0"
[deployments.vllm-paris.price]
gpu_hour_eur = 2.0
gpu_tokens_per_hour = 4000000

[aliases.assistant]
candidates = ["mistral-eu", "vllm-paris"]
[[aliases.assistant.rules]]
when = { max_prompt_tokens = 500 }
candidates = ["vllm-paris"]

[tenants.acme]
region = "FR"
[tenants.acme.policy]
admitted_clusters = ["EU-GDPR"]
residency = "same_cluster"
"#;

#[test]
fn a_good_config_validates() {
    let c = Config::from_toml(GOOD, &no_overrides()).unwrap();
    assert_eq!(c.server.listen.port(), 9000);
    assert_eq!(c.server.trusted_region_headers, ["x-rempart-region"]);
    let m = &c.deployments[&DeploymentId::from("mistral-eu")];
    assert_eq!(
        m.base_url,
        rempart_upstream::providers::mistral::DEFAULT_BASE_URL
    );
    assert_eq!(m.facts.tier(), TrustTier::EuSovereign);
    assert_eq!(m.price.cost_micro_eur(1_000_000, 1_000_000), 400_000);
    let v = &c.deployments[&DeploymentId::from("vllm-paris")];
    assert_eq!(v.facts.tier(), TrustTier::InTenancy);
    assert!((v.price.input_eur_per_mtok - 0.5).abs() < 1e-9);
    assert_eq!(c.aliases["assistant"].rules.len(), 1);
    assert_eq!(c.tenants["acme"].policy.residency, Residency::SameCluster);
    assert_eq!(c.policy_hash.len(), 64);
}

#[test]
fn every_problem_is_named_with_its_path() {
    let bad = GOOD
        .replace(
            "api_key = \"env:MISTRAL_API_KEY\"",
            "api_key = \"sk-live-abcdef123456\"",
        )
        .replace(
            "dc_country = \"FR\"\nhosting = \"in_tenancy\"",
            "dc_country = \"France\"\nhosting = \"in_tenancy\"",
        )
        .replace(
            "candidates = [\"mistral-eu\", \"vllm-paris\"]",
            "candidates = [\"mistral-eu\", \"nope\"]",
        )
        .replace("residency = \"same_cluster\"", "residency = \"same\"");
    let errs = Config::from_toml(&bad, &no_overrides()).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |p: &str| text.iter().any(|t| t.starts_with(p));
    assert!(has("deployments.mistral-eu.api_key:"), "{text:?}");
    assert!(has("deployments.vllm-paris.facts.dc_country:"), "{text:?}");
    assert!(has("aliases.assistant.candidates[1]:"), "{text:?}");
    assert!(has("tenants.acme.policy.residency:"), "{text:?}");
    assert_eq!(errs.len(), 4, "{text:?}");
    // The inline secret is not echoed.
    assert!(!text.iter().any(|t| t.contains("abcdef123456")), "{text:?}");
}

#[test]
fn unknown_fields_and_missing_facts_are_errors() {
    let errs = Config::from_toml("[server]\nlisten_addr = \"x\"\n", &no_overrides()).unwrap_err();
    assert!(errs[0].message.contains("listen_addr"), "{errs:?}");
    let errs = Config::from_toml(
        "[deployments.x]\nkind = \"vllm\"\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n",
        &no_overrides(),
    )
    .unwrap_err();
    assert_eq!(errs[0].path, "deployments.x.facts");
    let errs = Config::from_toml("[deployments.x]\nkind = \"gpt\"\n", &no_overrides()).unwrap_err();
    assert!(errs[0].message.contains("gpt"), "{errs:?}");
}

#[test]
fn embedded_defaults_validate_and_are_in_tenancy() {
    let c = Config::embedded_defaults(&Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some("/tmp/x".into()),
    })
    .unwrap();
    let local = &c.deployments[&DeploymentId::from("local")];
    assert_eq!(local.kind, Kind::Embedded);
    assert_eq!(local.facts.tier(), TrustTier::InTenancy);
    assert_eq!(c.server.data_dir, PathBuf::from("/tmp/x"));
    assert!(c.tenants.contains_key("local"));
}

#[test]
fn cloud_act_without_the_tier_is_flagged() {
    let src = "[tenants.t.policy]\nallow_cloud_act = true\n";
    let errs = Config::from_toml(src, &no_overrides()).unwrap_err();
    assert_eq!(errs[0].path, "tenants.t.policy.allow_cloud_act");
}

#[test]
fn telemetry_is_off_by_default_and_checked_with_its_paths() {
    let c = Config::from_toml(GOOD, &no_overrides()).unwrap();
    assert_eq!(c.telemetry, Telemetry::default());
    assert_eq!(c.telemetry.otlp_endpoint, None);

    let bad = format!(
        "{GOOD}\n[telemetry]\notlp_endpoint = \"collector:4318\"\nsample_ratio = 1.5\nservice_name = \" \"\n"
    );
    let errs = Config::from_toml(&bad, &no_overrides()).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |p: &str| text.iter().any(|t| t.starts_with(p));
    assert!(has("telemetry.otlp_endpoint: must be an http"), "{text:?}");
    assert!(
        has("telemetry.sample_ratio: 1.5 is not between"),
        "{text:?}"
    );
    assert!(has("telemetry.service_name: must not be empty"), "{text:?}");
    assert_eq!(errs.len(), 3, "{text:?}");
}

#[test]
fn an_otlp_endpoint_needs_a_binary_with_the_otlp_feature() {
    let with = format!(
        "{GOOD}\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\nservice_name = \"gw-paris\"\nsample_ratio = 0.25\n"
    );
    let result = Config::from_toml(&with, &no_overrides());
    if cfg!(feature = "otlp") {
        let t = result.expect("valid with the otlp feature").telemetry;
        assert_eq!(t.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
        assert_eq!(t.service_name, "gw-paris");
        assert_eq!(t.sample_ratio, 0.25);
    } else {
        let errs = result.unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "telemetry.otlp_endpoint");
        assert!(errs[0].message.contains("--features otlp"), "{errs:?}");
    }
}

#[test]
fn retrieval_is_lexical_without_a_model_and_checked_with_its_paths() {
    let c = Config::from_toml(GOOD, &no_overrides()).unwrap();
    assert_eq!(
        c.retrieval.embedding_model, None,
        "no model file in the data dir"
    );
    assert_eq!(c.retrieval.min_cosine, 0.8);
    let none = format!("{GOOD}\n[retrieval]\nembedding_model = \"none\"\n");
    let c = Config::from_toml(&none, &no_overrides()).unwrap();
    assert_eq!(c.retrieval.embedding_model, None);
    let bad = format!(
        "{GOOD}\n[retrieval]\nembedding_model = \"/nonexistent/e5.bin\"\nembedding_threads = 0\nmin_cosine = 1.5\n"
    );
    let errs = Config::from_toml(&bad, &no_overrides()).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |p: &str| text.iter().any(|t| t.starts_with(p));
    assert!(
        has("retrieval.embedding_model: `/nonexistent/e5.bin` is not a file"),
        "{text:?}"
    );
    assert!(
        has("retrieval.embedding_threads: must be at least 1"),
        "{text:?}"
    );
    assert!(has("retrieval.min_cosine: 1.5 is not between"), "{text:?}");
    assert_eq!(errs.len(), 3, "{text:?}");
    // The embedded defaults pick the model up from the data directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join(DEFAULT_EMBEDDING_MODEL), b"x").unwrap();
    let ov = Overrides {
        listen: None,
        data_dir: Some(dir.path().display().to_string()),
    };
    let c = Config::from_toml(GOOD, &ov).unwrap();
    assert_eq!(
        c.retrieval.embedding_model,
        Some(dir.path().join(DEFAULT_EMBEDDING_MODEL))
    );
}

#[test]
fn serving_threads_default_to_the_cpus_and_are_bounded() {
    let c = Config::from_toml(GOOD, &no_overrides()).unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.server.threads, cpus);
    let with = |n: &str| GOOD.replacen("[server]\n", &format!("[server]\nthreads = {n}\n"), 1);
    assert_eq!(
        Config::from_toml(&with("3"), &no_overrides())
            .unwrap()
            .server
            .threads,
        3
    );
    let errs = Config::from_toml(&with("0"), &no_overrides()).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("server.threads: 0 is not between 1 and 1024")),
        "{text:?}"
    );
}
