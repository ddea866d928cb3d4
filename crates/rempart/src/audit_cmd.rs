//! `rempart audit …`: verify, export, prove, check-proof, reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::Subcommand;
use ed25519_dalek::VerifyingKey;
use rempart_audit::{AuditRecord, EntryBody};
use rempart_gateway::audit::{audit_dir, signing_key};

use crate::cli::{ConfigArgs, Usage, load};

/// Audit log commands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verify the whole log (or a range of sequence numbers): hash chain,
    /// Merkle roots, checkpoint signatures. Exit 1 naming the first bad place.
    Verify {
        #[command(flatten)]
        common: ConfigArgs,
        /// First sequence number to check.
        #[arg(long)]
        from: Option<u64>,
        /// Last sequence number to check (inclusive).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Export records (verified first) as JSONL or CSV.
    Export {
        #[command(flatten)]
        common: ConfigArgs,
        /// `jsonl` or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print an inclusion proof (JSON) for a record id or sequence number.
    Prove {
        #[command(flatten)]
        common: ConfigArgs,
        /// Record id (= request id) or sequence number.
        id: String,
    },
    /// Check an inclusion proof with the public key alone (no log needed).
    CheckProof {
        /// The proof (JSON from `rempart audit prove`).
        proof: PathBuf,
        /// The log's public key: 64 hex characters, or the C2SP verifier
        /// string printed by `rempart audit public-key`.
        #[arg(long)]
        public_key: String,
        /// A checkpoint note you obtained independently (default: the one
        /// carried in the proof, checked against the key).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print the log's public key (hex and C2SP verifier string).
    PublicKey {
        #[command(flatten)]
        common: ConfigArgs,
    },
    /// Reports over the records.
    #[command(subcommand)]
    Report(ReportCmd),
}

/// Reports.
#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Residency: shares of requests and tokens by legal cluster, operator,
    /// country and trust tier for a month; every exception listed.
    Residency {
        #[command(flatten)]
        common: ConfigArgs,
        /// `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// `md` or `json`.
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// GDPR Art. 30-style register: purposes, categories, recipients, transfers.
    Art30 {
        #[command(flatten)]
        common: ConfigArgs,
        /// `YYYY-MM` (default: everything retained).
        #[arg(long)]
        period: Option<String>,
        /// `md` or `json`.
        #[arg(long, default_value = "md")]
        format: String,
    },
}

fn keys(common: &ConfigArgs) -> Result<(PathBuf, VerifyingKey)> {
    let (config, _) = load(common, None)?;
    let dir = config.server.data_dir.clone();
    let audit = audit_dir(&dir);
    if !audit.exists() {
        bail!(Usage(format!("no audit log in {}", audit.display())));
    }
    let key = signing_key(&dir).map_err(anyhow::Error::msg)?;
    Ok((audit, key.verifying_key()))
}

fn records(dir: &Path, key: &VerifyingKey) -> Result<Vec<AuditRecord>> {
    let entries = rempart_audit::read_entries(dir, key)
        .map_err(|e| anyhow::anyhow!("audit log does not verify: {e}"))?;
    Ok(entries
        .into_iter()
        .filter_map(|(_, body)| match body {
            EntryBody::Record(r) => Some(r),
            _ => None,
        })
        .collect())
}

fn parse_public_key(s: &str) -> Result<VerifyingKey> {
    let s = s.trim();
    // C2SP verifier key: `<name>+<hex key id>+<base64>`; the base64 part may
    // itself contain `+`, so split the first two separators only.
    let bytes: Vec<u8> = if let Some(b64) = s.splitn(3, '+').nth(2) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Usage("--public-key: bad base64".into()))?;
        match raw.split_first() {
            Some((0x01, k)) => k.to_vec(),
            _ => bail!(Usage("--public-key: not an Ed25519 verifier key".into())),
        }
    } else {
        hex::decode(s).map_err(|_| {
            Usage("--public-key: expected 64 hex characters or a verifier string".into())
        })?
    };
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Usage("--public-key: an Ed25519 key is 32 bytes".into()))?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| Usage("--public-key: not a valid Ed25519 key".into()).into())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("cannot read {}: {e}", path.display())).into())
}

/// Run an audit command.
pub fn run(cmd: AuditCmd) -> Result<ExitCode> {
    match cmd {
        AuditCmd::Verify { common, from, to } => {
            let (dir, key) = keys(&common)?;
            let range = match (from, to) {
                (None, None) => None,
                (f, t) => Some((f.unwrap_or(0), t.map_or(u64::MAX, |t| t.saturating_add(1)))),
            };
            match rempart_audit::verify(&dir, &key, range) {
                Ok(r) => {
                    println!(
                        "ok: entries {}..{} verified, {} checkpoints (signatures checked), latest signed tree size {}",
                        r.checked_from,
                        r.checked_to,
                        r.checkpoints_total,
                        r.latest_checkpoint.map_or("none".into(), |s| s.to_string())
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("audit log verification FAILED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCmd::Export {
            common,
            format,
            out,
        } => {
            let (dir, key) = keys(&common)?;
            let recs = records(&dir, &key)?;
            let mut w: Box<dyn Write> = match &out {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).with_context(|| p.display().to_string())?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = match format.as_str() {
                "jsonl" => rempart_audit::report::write_jsonl(&recs, &mut w)?,
                "csv" => rempart_audit::report::write_csv(&recs, &mut w)?,
                other => bail!(Usage(format!("--format `{other}`: use jsonl or csv"))),
            };
            w.flush()?;
            eprintln!("exported {n} records");
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Prove { common, id } => {
            let (dir, key) = keys(&common)?;
            let proof = rempart_audit::prove(&dir, &key, &id)
                .map_err(|e| anyhow::anyhow!("cannot prove {id}: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::CheckProof {
            proof,
            public_key,
            checkpoint,
        } => {
            let key = parse_public_key(&public_key)?;
            let proof: rempart_audit::InclusionProof = serde_json::from_str(&read(&proof)?)
                .map_err(|e| Usage(format!("not a proof: {e}")))?;
            let note = match &checkpoint {
                Some(p) => read(p)?,
                None => proof.checkpoint.clone(),
            };
            match rempart_audit::check_proof(&proof, &note, &key) {
                Ok(p) => {
                    println!(
                        "ok: entry {} is included in the signed tree of size {} (origin {})",
                        proof.leaf_index,
                        p.checkpoint.size(),
                        p.checkpoint.origin()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("proof REJECTED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCmd::PublicKey { common } => {
            let (_, key) = keys(&common)?;
            println!("{}", hex::encode(key.as_bytes()));
            println!(
                "{}",
                rempart_audit::note::verifier_key("rempart/audit", &key)
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Report(ReportCmd::Residency {
            common,
            period,
            format,
        }) => {
            let (dir, key) = keys(&common)?;
            let recs = records(&dir, &key)?;
            let r = rempart_audit::report::residency_report(&recs, &period)
                .map_err(|e| Usage(e.to_string()))?;
            print_report(&format, r.to_markdown(), r.to_json())
        }
        AuditCmd::Report(ReportCmd::Art30 {
            common,
            period,
            format,
        }) => {
            let (dir, key) = keys(&common)?;
            let recs = records(&dir, &key)?;
            let r = rempart_audit::report::art30_register(&recs, period.as_deref())
                .map_err(|e| Usage(e.to_string()))?;
            print_report(&format, r.to_markdown(), r.to_json())
        }
    }
}

fn print_report(format: &str, md: String, json: String) -> Result<ExitCode> {
    match format {
        "md" => println!("{md}"),
        "json" => println!("{json}"),
        other => bail!(Usage(format!("--format `{other}`: use md or json"))),
    }
    Ok(ExitCode::SUCCESS)
}
