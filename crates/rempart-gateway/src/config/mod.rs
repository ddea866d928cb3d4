//! Configuration: parse `rempart.toml`, then validate purely (every problem
//! with its TOML path, no I/O), giving a [`Config`] with nothing left to check.
//! Secrets stay references until `State::build` resolves them.

mod raw;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rempart_crypto::SecretRef;
use rempart_policy::{
    Country, DeploymentFacts, DeploymentId, Hosting, LegalCluster, Provenance, Residency,
    Retention, Route, Rule, TenantPolicy, TrustTier,
};
use rempart_upstream::Kind;
use sha2::{Digest, Sha256};

pub use raw::RawConfig;

/// The configuration used when `rempart serve` runs without a file.
pub const EMBEDDED_DEFAULTS: &str = include_str!("embedded-defaults.toml");

/// One problem in a configuration, with its TOML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path (`deployments.mistral-eu.facts.dc_country`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server settings.
    pub server: Server,
    /// The deployment catalogue.
    pub deployments: BTreeMap<DeploymentId, Deployment>,
    /// Model aliases clients use.
    pub aliases: BTreeMap<String, Route>,
    /// Tenants.
    pub tenants: BTreeMap<String, Tenant>,
    /// PII inspection budget.
    pub pii_budget: Duration,
    /// Audit log settings.
    pub audit: Audit,
    /// Secret reference of the database URL (`None`: SQLite in the data dir).
    pub store_url: Option<rempart_crypto::SecretRef>,
    /// The key provider.
    pub keys: rempart_crypto::KeysConfig,
    /// The data-subject registry.
    pub subjects: rempart_store::registry::Settings,
    /// Traces.
    pub telemetry: Telemetry,
    /// Private RAG.
    pub retrieval: Retrieval,
    /// SHA-256 of the configuration source: the policy version in force.
    pub policy_hash: String,
}

/// Audit log settings.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Checkpoint every this many records.
    pub checkpoint_every_records: u64,
    /// Checkpoint every this many seconds.
    pub checkpoint_every_secs: u64,
    /// Retention.
    pub retention: Duration,
    /// Fsync every group commit before answering (else: at checkpoints).
    pub fsync_each_commit: bool,
}

/// `[retrieval]`: how collections are searched.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// The local embedding model: `Some` turns on hybrid (BM25 + dense)
    /// retrieval; `None`: BM25 only.
    pub embedding_model: Option<PathBuf>,
    /// Threads the model embeds with.
    pub embedding_threads: usize,
    /// Cosine similarity a dense hit needs to count as evidence.
    pub min_cosine: f32,
}

/// Where the embedded defaults look for the embedding model, under the data
/// directory.
pub const DEFAULT_EMBEDDING_MODEL: &str = "models/e5-small-q4.bin";

fn retrieval(c: &mut Check, raw: &raw::RawRetrieval, data_dir: &std::path::Path) -> Retrieval {
    let embedding_model = match raw.embedding_model.as_deref() {
        Some("none") => None,
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                c.err(
                    "retrieval.embedding_model",
                    format!(
                        "`{}` is not a file (fetch it with scripts/fetch-e5.sh, or write \"none\")",
                        p.display()
                    ),
                );
            }
            Some(p)
        }
        None => Some(data_dir.join(DEFAULT_EMBEDDING_MODEL)).filter(|p| p.is_file()),
    };
    let embedding_threads = match raw.embedding_threads {
        Some(0) => {
            c.err("retrieval.embedding_threads", "must be at least 1");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let min_cosine = match raw.min_cosine {
        Some(x) if !(-1.0..=1.0).contains(&x) => {
            c.err(
                "retrieval.min_cosine",
                format!("{x} is not between -1 and 1"),
            );
            0.8
        }
        Some(x) => x,
        None => 0.8,
    };
    Retrieval {
        embedding_model,
        embedding_threads,
        min_cosine,
    }
}

/// `[telemetry]`: OpenTelemetry traces over OTLP/HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    /// Collector base URL; `None`: no traces.
    pub otlp_endpoint: Option<String>,
    /// `service.name`.
    pub service_name: String,
    /// Share of requests traced (0.0 to 1.0).
    pub sample_ratio: f64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            otlp_endpoint: None,
            service_name: "rempart".into(),
            sample_ratio: 1.0,
        }
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Server {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Whole-request timeout (non-streaming).
    pub request_timeout: Duration,
    /// Trusted edge headers carrying the client's country, lower-case.
    pub trusted_region_headers: Vec<String>,
    /// GeoIP database.
    pub geoip_db: Option<PathBuf>,
    /// Country where the gateway runs.
    pub site_country: Country,
    /// Interval of active health probes.
    pub health_interval: Duration,
    /// Serving threads (`rempart serve`): each runs its own single-threaded
    /// event loop on its own listener socket (`SO_REUSEPORT`), so a request
    /// is read, inspected, forwarded, recorded and answered on one thread.
    pub threads: usize,
}

/// A deployment of the catalogue.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Upstream kind.
    pub kind: Kind,
    /// Base URL (empty for embedded).
    pub base_url: String,
    /// Upstream model (embedded: GGUF path, empty for the data dir's model).
    pub model: String,
    /// API key reference.
    pub api_key: Option<SecretRef>,
    /// Azure `api-version`.
    pub api_version: Option<String>,
    /// Forward `reasoning_effort`.
    pub reasoning: bool,
    /// Time to response headers.
    pub timeout: Duration,
    /// Longest gap between stream chunks.
    pub stream_idle_timeout: Duration,
    /// Serves embeddings.
    pub embeddings: bool,
    /// Declared facts.
    pub facts: DeploymentFacts,
    /// Price.
    pub price: Price,
}

/// Price per million tokens, EUR (GPU-hour prices converted).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Input tokens.
    pub input_eur_per_mtok: f64,
    /// Output tokens.
    pub output_eur_per_mtok: f64,
}

impl Price {
    /// Cost of a request in micro-euros.
    pub fn cost_micro_eur(&self, tokens_in: u64, tokens_out: u64) -> u64 {
        // EUR per million tokens == micro-EUR per token.
        let c = self.input_eur_per_mtok * tokens_in as f64
            + self.output_eur_per_mtok * tokens_out as f64;
        c.round().max(0.0) as u64
    }

    /// Blended price for ranking (input weighted 3:1, a typical chat mix).
    pub fn blended(&self) -> f64 {
        0.75 * self.input_eur_per_mtok + 0.25 * self.output_eur_per_mtok
    }
}

/// What to pseudonymise before a deployment of some tier sees the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiMode {
    /// Nothing (still detected and logged).
    None,
    /// Direct identifiers (names, e-mails, phones, IDs, IBANs, addresses...).
    DirectIdentifiers,
    /// Every detected entity.
    All,
}

/// A tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Pinned request region.
    pub region: Option<Country>,
    /// Jurisdiction policy.
    pub policy: TenantPolicy,
    /// PII handling for `in_tenancy` deployments.
    pub pii_in_tenancy: PiiMode,
    /// PII handling for `eu_sovereign` deployments.
    pub pii_eu_sovereign: PiiMode,
}

impl Tenant {
    /// PII handling a tier requires (less trusted tiers: everything).
    pub fn pii_mode(&self, tier: TrustTier) -> PiiMode {
        match tier {
            TrustTier::InTenancy => self.pii_in_tenancy,
            TrustTier::EuSovereign => self.pii_eu_sovereign,
            TrustTier::EuRegionForeignOperator | TrustTier::Foreign => PiiMode::All,
        }
    }
}

/// Environment overrides, read through a function so tests pass a map.
pub struct Overrides {
    /// `--listen` / `REMPART_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `REMPART_DATA_DIR`.
    pub data_dir: Option<String>,
}

impl Config {
    /// Parse and validate a TOML source. Pure: no file, network or env.
    pub fn from_toml(source: &str, overrides: &Overrides) -> Result<Config, Vec<ConfigError>> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| vec![toml_error(&e)])?;
        let mut config = validate(raw, overrides)?;
        config.policy_hash = hex::encode(Sha256::digest(source.as_bytes()));
        Ok(config)
    }

    /// The policy engine's candidates for a list of deployment ids (those
    /// passing `keep`), in list order.
    pub fn candidates<'a>(
        &'a self,
        ids: &[DeploymentId],
        keep: impl Fn(&Deployment) -> bool,
    ) -> Vec<rempart_policy::Candidate<'a>> {
        ids.iter()
            .filter_map(|id| self.deployments.get(id))
            .filter(|d| keep(d))
            .map(|d| rempart_policy::Candidate {
                facts: &d.facts,
                price_eur_per_mtok: d.price.blended(),
            })
            .collect()
    }

    /// The embedded defaults.
    pub fn embedded_defaults(overrides: &Overrides) -> Result<Config, Vec<ConfigError>> {
        Config::from_toml(EMBEDDED_DEFAULTS, overrides)
    }
}

fn toml_error(e: &toml::de::Error) -> ConfigError {
    // toml's message names the key and the line; it does not echo secret
    // values (they are references anyway).
    ConfigError {
        path: String::new(),
        message: e.to_string().trim_end().replace('\n', " "),
    }
}

/// Collects problems while validating.
struct Check {
    errors: Vec<ConfigError>,
}

impl Check {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn country(&mut self, path: &str, value: Option<&str>) -> Option<Country> {
        match value {
            None => {
                self.err(path, "missing (ISO 3166-1 alpha-2 country code, e.g. FR)");
                None
            }
            Some(v) => {
                let c = Country::parse(v);
                if c.is_none() {
                    self.err(
                        path,
                        format!(
                            "`{v}` is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, GB)"
                        ),
                    );
                }
                c
            }
        }
    }

    fn tier(&mut self, path: &str, value: Option<&str>, default: TrustTier) -> TrustTier {
        match value {
            None => default,
            Some(v) => TrustTier::parse(v).unwrap_or_else(|_| {
                self.err(path, format!("`{v}` is not a trust tier (in_tenancy, eu_sovereign, eu_region_foreign_operator, foreign)"));
                default
            }),
        }
    }

    fn required<'a>(&mut self, path: &str, value: &'a Option<String>) -> &'a str {
        match value.as_deref() {
            Some(v) if !v.trim().is_empty() => v,
            _ => {
                self.err(path, "missing");
                ""
            }
        }
    }
}

fn validate(raw: RawConfig, ov: &Overrides) -> Result<Config, Vec<ConfigError>> {
    let mut c = Check { errors: Vec::new() };
    let s = &raw.server;
    let listen_text = ov
        .listen
        .clone()
        .or_else(|| s.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        c.err(
            "server.listen",
            format!("`{listen_text}` is not an address like 127.0.0.1:8080"),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    const DEFAULT_SITE: &str = "FR";
    let site_country = c
        .country(
            "server.site_country",
            Some(s.site_country.as_deref().unwrap_or(DEFAULT_SITE)),
        )
        .or_else(|| Country::parse(DEFAULT_SITE))
        .expect("the default site country parses");
    let mut trusted = Vec::new();
    for (i, h) in s.trusted_region_headers.iter().flatten().enumerate() {
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            c.err(
                format!("server.trusted_region_headers[{i}]"),
                format!("`{h}` is not a header name"),
            );
        }
        trusted.push(h.to_ascii_lowercase());
    }
    let max_body = s.max_body_bytes.unwrap_or(20 * 1024 * 1024);
    if max_body < 1024 {
        c.err("server.max_body_bytes", "must be at least 1024");
    }
    let threads = match s.threads {
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Some(n @ 1..=1024) => usize::try_from(n).unwrap_or(1),
        Some(n) => {
            c.err("server.threads", format!("{n} is not between 1 and 1024"));
            1
        }
    };
    let server = Server {
        listen,
        threads,
        data_dir: PathBuf::from(
            ov.data_dir
                .clone()
                .or_else(|| s.data_dir.clone())
                .unwrap_or_else(|| "./rempart-data".into()),
        ),
        max_body_bytes: usize::try_from(max_body).unwrap_or(usize::MAX),
        request_timeout: Duration::from_secs(s.request_timeout_secs.unwrap_or(300).max(1)),
        trusted_region_headers: trusted,
        geoip_db: s.geoip_db.as_ref().map(PathBuf::from),
        site_country,
        health_interval: Duration::from_secs(s.health_interval_secs.unwrap_or(10).max(1)),
    };

    let mut deployments = BTreeMap::new();
    for (id, d) in &raw.deployments {
        let p = format!("deployments.{id}");
        if !id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            c.err(
                &p,
                "deployment ids use letters, digits, `-`, `_` and `.` only",
            );
        }
        if let Some(dep) = deployment(&mut c, &p, id, d, site_country) {
            deployments.insert(DeploymentId(id.clone()), dep);
        }
    }

    let mut aliases = BTreeMap::new();
    for (name, a) in &raw.aliases {
        let p = format!("aliases.{name}");
        let ids = |c: &mut Check, path: String, list: &[String]| -> Vec<DeploymentId> {
            if list.is_empty() {
                c.err(&path, "needs at least one deployment");
            }
            let mut seen = BTreeSet::new();
            for (i, d) in list.iter().enumerate() {
                if !raw.deployments.contains_key(d) {
                    c.err(
                        format!("{path}[{i}]"),
                        format!("no deployment `{d}` in [deployments]"),
                    );
                }
                if !seen.insert(d) {
                    c.err(format!("{path}[{i}]"), format!("`{d}` is listed twice"));
                }
            }
            list.iter().map(|d| DeploymentId(d.clone())).collect()
        };
        let candidates = ids(&mut c, format!("{p}.candidates"), &a.candidates);
        let mut rules = Vec::new();
        for (i, r) in a.rules.iter().enumerate() {
            if r.when.is_empty() {
                c.err(
                    format!("{p}.rules[{i}].when"),
                    "matches everything: set a condition or use `candidates`",
                );
            }
            let cands = ids(&mut c, format!("{p}.rules[{i}].candidates"), &r.candidates);
            rules.push(Rule {
                when: r.when.clone(),
                candidates: cands,
            });
        }
        aliases.insert(
            name.clone(),
            Route {
                rules,
                candidates,
                strategy: a.strategy,
            },
        );
    }

    let mut tenants = BTreeMap::new();
    for (id, t) in &raw.tenants {
        let p = format!("tenants.{id}");
        let region = t
            .region
            .as_deref()
            .and_then(|r| c.country(&format!("{p}.region"), Some(r)));
        let policy = tenant_policy(&mut c, &format!("{p}.policy"), &t.policy);
        let mode = |c: &mut Check, path: String, v: &Option<String>, default: PiiMode| match v
            .as_deref()
        {
            None => default,
            Some("none") => PiiMode::None,
            Some("direct_identifiers") => PiiMode::DirectIdentifiers,
            Some("all") => PiiMode::All,
            Some(other) => {
                c.err(
                    path,
                    format!("`{other}` is not one of none, direct_identifiers, all"),
                );
                default
            }
        };
        let pii_in_tenancy = mode(
            &mut c,
            format!("{p}.pii.in_tenancy"),
            &t.pii.in_tenancy,
            PiiMode::None,
        );
        let pii_eu_sovereign = mode(
            &mut c,
            format!("{p}.pii.eu_sovereign"),
            &t.pii.eu_sovereign,
            PiiMode::DirectIdentifiers,
        );
        tenants.insert(
            id.clone(),
            Tenant {
                region,
                policy,
                pii_in_tenancy,
                pii_eu_sovereign,
            },
        );
    }

    let retention_days = raw.audit.retention_days.unwrap_or(184);
    if retention_days < 184 {
        c.err(
            "audit.retention_days",
            "at least 184 days (six months: AI Act Art. 19)",
        );
    }
    let audit = Audit {
        checkpoint_every_records: raw.audit.checkpoint_every_records.unwrap_or(1000).max(1),
        checkpoint_every_secs: raw.audit.checkpoint_every_secs.unwrap_or(10).max(1),
        retention: Duration::from_secs(retention_days * 86_400),
        fsync_each_commit: match raw.audit.durability.as_deref() {
            None | Some("fsync") => true,
            Some("write") => false,
            Some(other) => {
                c.err(
                    "audit.durability",
                    format!("`{other}` is not `fsync` or `write`"),
                );
                true
            }
        },
    };
    let store_url =
        raw.store
            .url
            .as_deref()
            .and_then(|u| match rempart_crypto::SecretRef::parse(u) {
                Ok(r) => Some(r),
                Err(e) => {
                    c.err("store.url", e.to_string());
                    None
                }
            });
    let mut subjects = rempart_store::registry::Settings {
        default_region: server.site_country.to_string(),
        ..Default::default()
    };
    if let Some(r) = &raw.subjects.default_region {
        if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) {
            subjects.default_region = r.to_ascii_uppercase();
        } else {
            c.err(
                "subjects.default_region",
                format!("`{r}` is not an ISO 3166-1 alpha-2 code"),
            );
        }
    }
    for (path, value, slot) in [
        (
            "subjects.index_bits",
            raw.subjects.index_bits,
            &mut subjects.index_bits,
        ),
        (
            "subjects.token_bits",
            raw.subjects.token_bits,
            &mut subjects.token_bits,
        ),
    ] {
        if let Some(bits) = value {
            if (8..=256).contains(&bits) && bits % 8 == 0 {
                *slot = bits;
            } else {
                c.err(
                    path,
                    format!("{bits} is not a multiple of 8 between 8 and 256"),
                );
            }
        }
    }
    if let Some(days) = raw.subjects.conversation_retention_days {
        if days == 0 {
            c.err("subjects.conversation_retention_days", "must be at least 1");
        } else {
            subjects.conversation_ttl = time::Duration::days(days.min(36_500) as i64);
        }
    }
    let telemetry = telemetry(&mut c, &raw.telemetry);
    let retrieval = retrieval(&mut c, &raw.retrieval, &server.data_dir);
    if c.errors.is_empty() {
        Ok(Config {
            audit,
            telemetry,
            retrieval,
            store_url,
            keys: raw.keys.unwrap_or_default(),
            subjects,
            server,
            deployments,
            aliases,
            tenants,
            pii_budget: Duration::from_millis(raw.pii.budget_ms.unwrap_or(250).max(1)),
            policy_hash: String::new(),
        })
    } else {
        Err(c.errors)
    }
}

/// `[telemetry]`: a URL the exporter can use, a ratio in [0, 1], and a
/// binary that has the exporter.
fn telemetry(c: &mut Check, raw: &raw::RawTelemetry) -> Telemetry {
    let mut t = Telemetry::default();
    if let Some(name) = &raw.service_name {
        if name.trim().is_empty() {
            c.err("telemetry.service_name", "must not be empty");
        } else {
            t.service_name = name.clone();
        }
    }
    if let Some(r) = raw.sample_ratio {
        if (0.0..=1.0).contains(&r) {
            t.sample_ratio = r;
        } else {
            c.err(
                "telemetry.sample_ratio",
                format!("{r} is not between 0.0 and 1.0"),
            );
        }
    }
    if let Some(url) = &raw.otlp_endpoint {
        let parsed = url
            .parse::<http::Uri>()
            .ok()
            .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if parsed.is_none() {
            c.err(
                "telemetry.otlp_endpoint",
                "must be an http:// or https:// URL with a host (the collector's OTLP/HTTP port, e.g. http://127.0.0.1:4318)",
            );
        } else if !cfg!(feature = "otlp") {
            c.err(
                "telemetry.otlp_endpoint",
                "this rempart binary was built without OpenTelemetry support: build it with `--features otlp`, or remove [telemetry] otlp_endpoint",
            );
        } else {
            t.otlp_endpoint = Some(url.clone());
        }
    }
    t
}

fn deployment(
    c: &mut Check,
    p: &str,
    id: &str,
    d: &raw::RawDeployment,
    site: Country,
) -> Option<Deployment> {
    let kind = d.kind;
    let embedded = kind == Kind::Embedded;
    let base_url = match (&d.base_url, kind.default_base_url()) {
        (Some(u), _) => {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                c.err(
                    format!("{p}.base_url"),
                    format!("`{u}` is not an http(s) URL"),
                );
            }
            u.clone()
        }
        (None, Some(default)) => default.to_owned(),
        (None, None) if embedded => String::new(),
        (None, None) => {
            c.err(
                format!("{p}.base_url"),
                format!("required for kind `{}`", kind.as_str()),
            );
            String::new()
        }
    };
    let model = match (&d.model, kind) {
        (Some(m), _) => m.clone(),
        (None, Kind::Tgi) => "tgi".into(),
        (None, Kind::LlamaCpp) => "default".into(),
        (None, Kind::Embedded) => String::new(),
        (None, _) => {
            c.err(
                format!("{p}.model"),
                format!("required for kind `{}`", kind.as_str()),
            );
            String::new()
        }
    };
    let api_key = match &d.api_key {
        None => {
            if kind.requires_api_key() {
                c.err(
                    format!("{p}.api_key"),
                    format!(
                        "required for kind `{}` (e.g. \"env:MISTRAL_API_KEY\")",
                        kind.as_str()
                    ),
                );
            }
            None
        }
        Some(r) => match SecretRef::parse(r) {
            Ok(r) => Some(r),
            Err(e) => {
                c.err(format!("{p}.api_key"), e.to_string());
                None
            }
        },
    };
    if d.api_version.is_some() && kind != Kind::AzureOpenai {
        c.err(format!("{p}.api_version"), "only for kind `azure_openai`");
    }
    let facts = match &d.facts {
        Some(f) => facts(c, &format!("{p}.facts"), id, f, embedded.then_some(site)),
        None => {
            c.err(format!("{p}.facts"), "missing: every deployment declares operator, countries, hosting, retention, DPA and provenance");
            None
        }
    };
    let price = d
        .price
        .as_ref()
        .map(|pr| price(c, &format!("{p}.price"), pr))
        .unwrap_or_default();
    Some(Deployment {
        kind,
        base_url,
        model,
        api_key,
        api_version: d.api_version.clone(),
        reasoning: d.reasoning.unwrap_or(kind.supports_reasoning()),
        timeout: Duration::from_millis(
            d.timeout_ms
                .unwrap_or(if embedded { 600_000 } else { 30_000 })
                .max(1),
        ),
        stream_idle_timeout: Duration::from_millis(
            d.stream_idle_timeout_ms.unwrap_or(30_000).max(1),
        ),
        embeddings: d.embeddings,
        facts: facts?,
        price,
    })
}

/// Facts; for the embedded engine, countries default to the site's (the
/// model runs inside this process) and hosting is in-tenancy.
fn facts(
    c: &mut Check,
    p: &str,
    id: &str,
    f: &raw::RawFacts,
    site: Option<Country>,
) -> Option<DeploymentFacts> {
    let country = |c: &mut Check, name: &str, v: &Option<String>| match (v, site) {
        (None, Some(site)) => Some(site),
        (v, _) => c.country(&format!("{p}.{name}"), v.as_deref()),
    };
    let operator_country = country(c, "operator_country", &f.operator_country);
    let parent = country(c, "parent_jurisdiction", &f.parent_jurisdiction);
    let dc = country(c, "dc_country", &f.dc_country);
    let hosting = match (f.hosting.as_deref(), site) {
        (Some("in_tenancy"), _) | (None, Some(_)) => Hosting::InTenancy,
        (Some("managed"), None) => Hosting::Managed,
        (Some("managed"), Some(_)) => {
            c.err(
                format!("{p}.hosting"),
                "the embedded engine runs in this process: hosting is `in_tenancy`",
            );
            Hosting::InTenancy
        }
        (Some(other), _) => {
            c.err(
                format!("{p}.hosting"),
                format!("`{other}` is not `in_tenancy` or `managed`"),
            );
            Hosting::Managed
        }
        (None, None) => {
            c.err(
                format!("{p}.hosting"),
                "missing (`in_tenancy` or `managed`)",
            );
            Hosting::Managed
        }
    };
    let retention = match (f.retention_days, site) {
        (Some(0), _) | (None, Some(_)) => Retention::Zero,
        (Some(d), _) => Retention::Days(d),
        (None, None) => {
            c.err(
                format!("{p}.retention_days"),
                "missing (0 for zero retention)",
            );
            Retention::Zero
        }
    };
    let dpa_signed = match (f.dpa_signed, hosting) {
        (Some(b), _) => b,
        (None, Hosting::InTenancy) => true,
        (None, Hosting::Managed) => {
            c.err(format!("{p}.dpa_signed"), "missing (true or false)");
            false
        }
    };
    let operator = c.required(&format!("{p}.operator"), &f.operator).to_owned();
    let trained_by = c
        .required(&format!("{p}.trained_by"), &f.trained_by)
        .to_owned();
    let licence = c.required(&format!("{p}.licence"), &f.licence).to_owned();
    Some(DeploymentFacts {
        id: DeploymentId(id.to_owned()),
        operator,
        operator_country: operator_country?,
        parent_jurisdiction: parent?,
        dc_country: dc?,
        region: f.region.clone().unwrap_or_default(),
        hosting,
        retention,
        dpa_signed,
        provenance: Provenance {
            trained_by,
            licence,
        },
    })
}

fn price(c: &mut Check, p: &str, pr: &raw::RawPrice) -> Price {
    let nonneg = |c: &mut Check, name: &str, v: Option<f64>| {
        let v = v.unwrap_or(0.0);
        if !(v.is_finite() && v >= 0.0) {
            c.err(format!("{p}.{name}"), "must be a non-negative number");
        }
        v
    };
    match (pr.gpu_hour_eur, pr.gpu_tokens_per_hour) {
        (Some(eur), Some(tph)) => {
            if pr.input_eur_per_mtok.is_some() || pr.output_eur_per_mtok.is_some() {
                c.err(
                    p,
                    "give either per-token prices or a GPU-hour price, not both",
                );
            }
            let eur = nonneg(c, "gpu_hour_eur", Some(eur));
            if !(tph.is_finite() && tph > 0.0) {
                c.err(
                    format!("{p}.gpu_tokens_per_hour"),
                    "must be a positive number",
                );
                return Price::default();
            }
            let per_mtok = eur / (tph / 1e6);
            Price {
                input_eur_per_mtok: per_mtok,
                output_eur_per_mtok: per_mtok,
            }
        }
        (Some(_), None) => {
            c.err(
                format!("{p}.gpu_tokens_per_hour"),
                "required with gpu_hour_eur (tokens one GPU-hour serves)",
            );
            Price::default()
        }
        (None, Some(_)) => {
            c.err(
                format!("{p}.gpu_hour_eur"),
                "required with gpu_tokens_per_hour",
            );
            Price::default()
        }
        (None, None) => Price {
            input_eur_per_mtok: nonneg(c, "input_eur_per_mtok", pr.input_eur_per_mtok),
            output_eur_per_mtok: nonneg(c, "output_eur_per_mtok", pr.output_eur_per_mtok),
        },
    }
}

fn tenant_policy(c: &mut Check, p: &str, r: &raw::RawPolicy) -> TenantPolicy {
    let d = TenantPolicy::default();
    let mut clusters = BTreeSet::new();
    for (i, s) in r.admitted_clusters.iter().flatten().enumerate() {
        match LegalCluster::parse(s) {
            Some(cl) => {
                clusters.insert(cl);
            }
            None => c.err(
                format!("{p}.admitted_clusters[{i}]"),
                format!("`{s}` is not a legal cluster (EU-GDPR, UK-GDPR, CH, US, OTHER-XX)"),
            ),
        }
    }
    let residency = match r.residency.as_deref() {
        None => d.residency,
        Some("same_cluster") => Residency::SameCluster,
        Some("any_admitted") => Residency::AnyAdmitted,
        Some(other) => {
            c.err(
                format!("{p}.residency"),
                format!("`{other}` is not `same_cluster` or `any_admitted`"),
            );
            d.residency
        }
    };
    let set = |v: &Option<Vec<String>>| {
        v.as_ref()
            .map(|l| l.iter().cloned().collect::<BTreeSet<_>>())
    };
    let policy = TenantPolicy {
        admitted_clusters: if r.admitted_clusters.is_some() {
            clusters
        } else {
            d.admitted_clusters
        },
        residency,
        allow_cloud_act: r.allow_cloud_act.unwrap_or(d.allow_cloud_act),
        max_retention_days: r.max_retention_days.or(d.max_retention_days),
        require_dpa: r.require_dpa.unwrap_or(d.require_dpa),
        admitted_trainers: set(&r.admitted_trainers),
        admitted_licences: set(&r.admitted_licences),
        max_tier: c.tier(&format!("{p}.max_tier"), r.max_tier.as_deref(), d.max_tier),
        personal_data_max_tier: c.tier(
            &format!("{p}.personal_data_max_tier"),
            r.personal_data_max_tier.as_deref(),
            d.personal_data_max_tier,
        ),
        special_category_max_tier: c.tier(
            &format!("{p}.special_category_max_tier"),
            r.special_category_max_tier.as_deref(),
            d.special_category_max_tier,
        ),
    };
    if policy.allow_cloud_act && policy.max_tier < TrustTier::EuRegionForeignOperator {
        c.err(
            format!("{p}.allow_cloud_act"),
            "has no effect unless max_tier is `eu_region_foreign_operator` or beyond (CLOUD-Act-exposed operators are in that tier)",
        );
    }
    policy
}

#[cfg(test)]
mod tests;
