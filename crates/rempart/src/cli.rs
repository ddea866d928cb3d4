//! Subcommands. Library crates do the work; this module parses arguments,
//! prints, and picks exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rempart_gateway::config::{Config, ConfigError, Overrides};
use rempart_policy::{Country, Health, RequestFacts, RouteInput, Sensitivity, decide};

/// Bad usage or bad configuration: exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Rempart: an OpenAI-compatible gateway that keeps every request inside the
/// jurisdiction its tenant's policy admits, with evidence.
#[derive(Debug, Parser)]
#[command(name = "rempart", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (embedded defaults when no config file is given).
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Validate configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Explain routing decisions.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Personal-data detection and pseudonymisation.
    #[command(subcommand)]
    Pii(crate::pii_cmd::PiiCmd),
    /// The audit log: verify, export, prove, reports.
    #[command(subcommand)]
    Audit(crate::audit_cmd::AuditCmd),
    /// Data subjects: register, find, export (GDPR Art. 15), erase (Art. 17).
    #[command(subcommand)]
    Subjects(crate::subjects_cmd::SubjectsCmd),
    /// Ingest files, directories or s3://bucket/prefix into an encrypted collection.
    Ingest(crate::ingest_cmd::IngestArgs),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: embedded defaults).
    #[arg(long, env = "REMPART_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory.
    #[arg(long, env = "REMPART_DATA_DIR")]
    data_dir: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Listen address.
    #[arg(long, env = "REMPART_LISTEN")]
    listen: Option<String>,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Create a key for a tenant; prints the key alone on stdout.
    Create {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// Free-form label.
        #[arg(long)]
        label: Option<String>,
        /// Group the key's callers belong to (repeatable): they retrieve
        /// the collection documents labelled with one of their groups (and
        /// those labelled with none).
        #[arg(long)]
        group: Vec<String>,
    },
    /// List keys (ids, never secrets).
    List {
        #[command(flatten)]
        common: ConfigArgs,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        #[command(flatten)]
        common: ConfigArgs,
        /// Key id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Parse and validate a config, with no network; names every problem
    /// with its TOML path.
    Check {
        #[command(flatten)]
        common: ConfigArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Print the routing decision for a request, calling nothing.
    Explain {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Request region (country code); default: the tenant's pinned one.
        #[arg(long)]
        region: Option<String>,
        /// Model alias.
        #[arg(long)]
        model: String,
        /// Sensitivity: none, personal, special_category.
        #[arg(long, default_value = "none")]
        sensitivity: String,
        /// Estimated prompt tokens (for routing rules).
        #[arg(long, default_value_t = 100)]
        prompt_tokens: u32,
        /// `task` label (for routing rules).
        #[arg(long)]
        task: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run a parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a),
        Command::Keys(k) => keys(k),
        Command::Audit(a) => crate::audit_cmd::run(a),
        Command::Pii(p) => crate::pii_cmd::run(p),
        Command::Subjects(s) => crate::subjects_cmd::run(s),
        Command::Ingest(a) => crate::ingest_cmd::run(a),
        Command::Config(ConfigCmd::Check { common }) => {
            let (config, source) = load(&common, None)?;
            println!(
                "{source}: ok ({} deployments, {} aliases, {} tenants)",
                config.deployments.len(),
                config.aliases.len(),
                config.tenants.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy(PolicyCmd::Explain {
            common,
            tenant,
            region,
            model,
            sensitivity,
            prompt_tokens,
            task,
            json,
        }) => explain(
            &common,
            &tenant,
            region.as_deref(),
            &model,
            &sensitivity,
            prompt_tokens,
            task.as_deref(),
            json,
        ),
    }
}

/// Load and validate the config (file or embedded defaults).
pub fn load(common: &ConfigArgs, listen: Option<String>) -> Result<(Config, String)> {
    let ov = Overrides {
        listen,
        data_dir: common.data_dir.clone(),
    };
    let (result, source) = match &common.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Usage(format!("cannot read config {}: {e}", path.display())))?;
            (Config::from_toml(&text, &ov), path.display().to_string())
        }
        None => (
            Config::embedded_defaults(&ov),
            "embedded defaults".to_owned(),
        ),
    };
    match result {
        Ok(c) => Ok((c, source)),
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(ConfigError::to_string).collect();
            Err(Usage(format!(
                "{source}: {} problem(s):\n  {}",
                list.len(),
                list.join("\n  ")
            ))
            .into())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REMPART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    init_logs();
    let embedded_defaults = a.common.config.is_none();
    let (config, source) = load(&a.common, a.listen.clone())?;
    let rt = runtime()?;
    rt.block_on(async move {
        let listen = config.server.listen;
        let data_dir = config.server.data_dir.clone();
        let inspector = Arc::new(rempart_gateway::inspect::PiiInspector::new());
        let env = |name: &str| std::env::var(name).ok();
        let state = rempart_gateway::AppState::build(config, &env, inspector).await.map_err(|e| Usage(e.to_string()))?;
        if embedded_defaults {
            tracing::warn!(
                "Running on embedded defaults: site_country is assumed FR; give a rempart.toml with your real location."
            );
            let existing = state.store.list_keys(Some("local")).await?;
            if existing.is_empty() {
                let key = state.store.create_key("local", Some("created on first run")).await?;
                println!("Created an API key for tenant `local` (shown once, keep it):\n\n    {}\n", key.reveal());
            }
        }
        let threads = state.config.server.threads;
        let state = Arc::new(state);
        // One listener per serving thread, all on one address (SO_REUSEPORT;
        // with port 0, the port the first one got).
        let cannot = |e: std::io::Error| Usage(format!("cannot listen on {listen}: {e}"));
        let first = reuseport_listener(listen).map_err(cannot)?;
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(reuseport_listener(addr).map_err(cannot)?);
        }
        tracing::info!(%addr, threads, config = %source, data_dir = %data_dir.display(), "Rempart listening.");
        println!("listening on http://{addr}");
        rempart_gateway::serve_threads(state, listeners, shutdown_signal()).await?;
        tracing::info!("Stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

/// A listening socket that shares its address with the other serving
/// threads' (`SO_REUSEPORT`: the kernel spreads connections among them;
/// only sockets of the same user may join).
fn reuseport_listener(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    #[cfg(unix)]
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn keys(cmd: KeysCmd) -> Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async move {
        match cmd {
            KeysCmd::Create {
                common,
                tenant,
                label,
                group,
            } => {
                let (config, source) = load(&common, None)?;
                if !config.tenants.contains_key(&tenant) {
                    let known: Vec<&str> = config.tenants.keys().map(String::as_str).collect();
                    bail!(Usage(format!(
                        "no tenant `{tenant}` in {source} (tenants: {})",
                        known.join(", ")
                    )));
                }
                let store =
                    rempart_gateway::open_store(&config, &|n| std::env::var(n).ok()).await?;
                let key = store
                    .create_key_with_groups(&tenant, label.as_deref(), &group)
                    .await?;
                println!("{}", key.reveal());
                store.close().await;
            }
            KeysCmd::List { common, tenant } => {
                let (config, _) = load(&common, None)?;
                let store =
                    rempart_gateway::open_store(&config, &|n| std::env::var(n).ok()).await?;
                for k in store.list_keys(tenant.as_deref()).await? {
                    println!(
                        "{}\t{}\t{}\t{}{}{}",
                        k.id,
                        k.tenant,
                        k.created_at,
                        k.label.unwrap_or_default(),
                        if k.revoked { "\trevoked" } else { "" },
                        if k.groups.is_empty() {
                            String::new()
                        } else {
                            format!("\tgroups={}", k.groups.join(","))
                        }
                    );
                }
                store.close().await;
            }
            KeysCmd::Revoke { common, id } => {
                let (config, _) = load(&common, None)?;
                let store =
                    rempart_gateway::open_store(&config, &|n| std::env::var(n).ok()).await?;
                let found = store.revoke_key(&id).await?;
                store.close().await;
                if !found {
                    bail!("no key with id {id}");
                }
                println!("revoked {id}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[allow(clippy::too_many_arguments)]
fn explain(
    common: &ConfigArgs,
    tenant_id: &str,
    region: Option<&str>,
    model: &str,
    sensitivity: &str,
    prompt_tokens: u32,
    task: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let (config, source) = load(common, None)?;
    let tenant = config
        .tenants
        .get(tenant_id)
        .ok_or_else(|| Usage(format!("no tenant `{tenant_id}` in {source}")))?;
    let route = config
        .aliases
        .get(model)
        .ok_or_else(|| Usage(format!("no model alias `{model}` in {source}")))?;
    let region = match region {
        Some(r) => Some(
            Country::parse(r)
                .ok_or_else(|| Usage(format!("--region `{r}` is not a country code")))?,
        ),
        None => tenant.region,
    };
    let sensitivity = match sensitivity {
        "none" => Sensitivity::None,
        "personal" => Sensitivity::Personal,
        "special_category" => Sensitivity::SpecialCategory,
        other => bail!(Usage(format!(
            "--sensitivity `{other}`: use none, personal or special_category"
        ))),
    };
    let selection = route.select(&RouteInput {
        prompt_tokens,
        task,
        has_images: false,
        has_tools: false,
    });
    let candidates = config.candidates(selection.candidates, |_| true);
    let facts = RequestFacts {
        region,
        sensitivity,
    };
    // Health is assumed: explain calls nothing.
    let decision = decide(&facts, &tenant.policy, &candidates, route.strategy, |_| {
        Health::UP
    });
    if json {
        let out = serde_json::json!({
            "tenant": tenant_id,
            "model": model,
            "region": region.map(|c| c.to_string()),
            "legal_cluster": region.map(|c| c.legal_cluster().to_string()),
            "sensitivity": sensitivity.as_str(),
            "route": selection.label,
            "decision": decision,
            "refusal": decision.refusal(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let cluster = region.map_or("unknown".to_owned(), |c| {
            format!("{c} ({})", c.legal_cluster())
        });
        println!(
            "tenant {tenant_id}, model {model}, region {cluster}, sensitivity {}",
            sensitivity.as_str()
        );
        println!("route: {}", selection.label);
        for (i, a) in decision.admitted().iter().enumerate() {
            let role = if i == 0 { "chosen  " } else { "fallback" };
            println!("  {role} {} (tier {})", a.id(), a.tier());
        }
        for r in &decision.rejected {
            let reasons: Vec<String> = r.reasons.iter().map(ToString::to_string).collect();
            println!("  rejected {}: {}", r.id, reasons.join("; "));
        }
        match decision.refusal() {
            None => {}
            Some(r) => println!("refused: {}", serde_json::to_string(&r)?.trim_matches('"')),
        }
    }
    Ok(ExitCode::SUCCESS)
}
