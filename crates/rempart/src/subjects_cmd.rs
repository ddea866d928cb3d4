//! `rempart subjects`: the data-subject registry from the command line
//! (the same registry as `/v1/subjects`, on the store and key provider the
//! configuration names). Output is JSON on stdout.
//!
//! `erase` appends the audit tombstone itself, so it needs the audit log's
//! writer lock: with a gateway running on the same data directory, erase
//! through `DELETE /v1/subjects/{id}` instead (the command says so).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rempart_store::registry::{Lookup, Profile, Registry};

use crate::cli::{ConfigArgs, Usage, load};

/// `rempart subjects …`.
#[derive(Debug, Subcommand)]
pub enum SubjectsCmd {
    /// Register a data subject; prints `{"id": …}`.
    Add {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// E-mail address (repeatable).
        #[arg(long)]
        email: Vec<String>,
        /// Phone number (repeatable).
        #[arg(long)]
        phone: Vec<String>,
        /// IBAN (repeatable).
        #[arg(long)]
        iban: Vec<String>,
        /// National identifier (repeatable).
        #[arg(long)]
        national_id: Vec<String>,
        /// Your own reference for the subject.
        #[arg(long)]
        external_ref: Option<String>,
    },
    /// Find subjects by one identifier (exact) or by name (partial); JSON lines.
    Find {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Exact e-mail.
        #[arg(long, group = "by")]
        email: Option<String>,
        /// Exact phone number.
        #[arg(long, group = "by")]
        phone: Option<String>,
        /// Exact IBAN.
        #[arg(long, group = "by")]
        iban: Option<String>,
        /// Exact national identifier.
        #[arg(long, group = "by")]
        national_id: Option<String>,
        /// Exact external reference.
        #[arg(long, group = "by")]
        external_ref: Option<String>,
        /// Name words, each a prefix of ≥ 3 letters (accents, case ignored).
        #[arg(long, group = "by")]
        name: Option<String>,
    },
    /// Everything held about a subject (GDPR Art. 15), as JSON.
    Export {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Subject id.
        id: String,
    },
    /// Erase a subject (GDPR Art. 17); prints the erasure receipt.
    Erase {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Subject id.
        id: String,
    },
}

fn env(n: &str) -> Option<String> {
    std::env::var(n).ok()
}

pub(crate) async fn registry(
    common: &ConfigArgs,
    tenant: &str,
) -> Result<(Registry, rempart_gateway::config::Config)> {
    let (config, source) = load(common, None)?;
    if !config.tenants.contains_key(tenant) {
        let known: Vec<&str> = config.tenants.keys().map(String::as_str).collect();
        bail!(Usage(format!(
            "no tenant `{tenant}` in {source} (tenants: {})",
            known.join(", ")
        )));
    }
    let store = rempart_gateway::open_store(&config, &env).await?;
    let kms = rempart_gateway::open_key_provider(&config, &env).await?;
    Ok((
        Registry::new(store, Arc::new(kms), config.subjects.clone()),
        config,
    ))
}

fn parse_id(id: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| Usage(format!("`{id}` is not a subject id (a UUID)")).into())
}

/// Run a `subjects` command.
pub fn run(cmd: SubjectsCmd) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match cmd {
            SubjectsCmd::Add { common, tenant, name, email, phone, iban, national_id, external_ref } => {
                let (reg, _) = registry(&common, &tenant).await?;
                let profile = Profile { name, emails: email, phones: phone, ibans: iban, national_ids: national_id, external_ref };
                let id = reg.add(&tenant, &profile).await?;
                println!("{}", serde_json::json!({"id": id}));
            }
            SubjectsCmd::Find { common, tenant, email, phone, iban, national_id, external_ref, name } => {
                let lookup = [
                    email.map(Lookup::Email),
                    phone.map(Lookup::Phone),
                    iban.map(Lookup::Iban),
                    national_id.map(Lookup::NationalId),
                    external_ref.map(Lookup::ExternalRef),
                    name.map(Lookup::Name),
                ]
                .into_iter()
                .flatten()
                .next()
                .ok_or_else(|| Usage("give one of --email --phone --iban --national-id --external-ref --name".into()))?;
                let (reg, _) = registry(&common, &tenant).await?;
                for f in reg.find(&tenant, &lookup).await? {
                    println!("{}", serde_json::to_string(&f)?);
                }
            }
            SubjectsCmd::Export { common, tenant, id } => {
                let id = parse_id(&id)?;
                let (reg, config) = registry(&common, &tenant).await?;
                let dir = &config.server.data_dir;
                let key = rempart_gateway::audit::signing_key(dir).map_err(anyhow::Error::msg)?;
                let audit = rempart_gateway::audit::records_of_subject(
                    &rempart_gateway::audit::audit_dir(dir),
                    &key.verifying_key(),
                    &id.to_string(),
                )
                .map_err(anyhow::Error::msg)?;
                let export = reg.export(&tenant, id, audit).await?;
                println!("{}", serde_json::to_string_pretty(&export)?);
            }
            SubjectsCmd::Erase { common, tenant, id } => {
                let id = parse_id(&id)?;
                let (reg, config) = registry(&common, &tenant).await?;
                // Take the audit log first: if a gateway holds it, nothing
                // is erased and the user is told where to go instead.
                let dir = &config.server.data_dir;
                let key = rempart_gateway::audit::signing_key(dir).map_err(anyhow::Error::msg)?;
                let log = match rempart_audit::AuditLog::open_with(
                    rempart_gateway::audit::audit_dir(dir),
                    key,
                    rempart_gateway::audit::log_options(&config),
                ) {
                    Ok(log) => log,
                    Err(rempart_audit::Error::Locked(d)) => bail!(
                        "the audit log {} is held by a running gateway: erase through it with `DELETE /v1/subjects/{id}` (nothing was erased)",
                        d.display()
                    ),
                    Err(e) => return Err(e.into()),
                };
                let mut receipt = reg.erase(&tenant, id).await?;
                let t = rempart_gateway::audit::subject_tombstone(&id.to_string());
                let id = log.submit_tombstone(t).await?.id;
                // `close` signs a final checkpoint and blocks; this is a
                // multi-thread runtime.
                tokio::task::block_in_place(|| log.close())?;
                receipt.audit_tombstone = Some(id);
                println!("{}", serde_json::to_string_pretty(&receipt)?);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
