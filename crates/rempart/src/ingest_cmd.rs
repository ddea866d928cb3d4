//! `rempart ingest`: files, directories or `s3://bucket/prefix` (text,
//! Markdown, HTML, PDF, DOCX, EML with its attachments; images with the
//! `ocr` feature) into an encrypted collection (the same store, key
//! provider, chunking and subject linking as
//! `POST /v1/collections/{c}/documents`).
//!
//! On stdout, one JSON line per source file (its receipt, or its error);
//! on stderr, a progress bar (on a terminal, unless `--quiet`), one line
//! per failed file naming it with the reason, and a summary. A file that
//! fails does not stop the others; the exit code is then 1.
//!
//! Every source file is one audit record (endpoint `ingest`, key id
//! `cli`), so the command takes the audit log's writer lock: with a gateway
//! running on the same data directory, ingest through the API, or pass
//! `--unaudited`. A gateway on the same store sees the new documents at its
//! next search (the collection's version moved).

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rempart_audit::{AuditLog, AuditRecord, Outcome};
use rempart_gateway::collections::{Retriever, SourceFile, ingest_files};
use rempart_gateway::inspect::{Inspector, PiiInspector};
use rempart_store::collections::DocumentLabels;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::{ConfigArgs, Usage};
use crate::s3_source::{Bucket, S3Options};

/// Source files fetched ahead of the one being ingested.
const PREFETCH: usize = 4;

/// `rempart ingest …`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Files, directories (read recursively; hidden entries skipped) or
    /// `s3://bucket/prefix` (every object under the prefix). The format
    /// comes from a file's bytes, then its extension.
    #[arg(required = true, value_name = "PATH|s3://BUCKET/PREFIX")]
    paths: Vec<String>,
    /// Tenant.
    #[arg(long)]
    tenant: String,
    /// Collection (ASCII letters, digits, `-`, `_`, `.`).
    #[arg(long)]
    collection: String,
    /// Group allowed to retrieve the documents (repeatable; none: every key
    /// of the tenant).
    #[arg(long)]
    group: Vec<String>,
    /// Purpose the documents may be used for (repeatable; none: any).
    #[arg(long)]
    purpose: Vec<String>,
    /// Put the documents under legal hold (not deletable until lifted).
    #[arg(long)]
    legal_hold: bool,
    /// A label, as `group=NAME`, `purpose=NAME` or `legal_hold`
    /// (repeatable; the same as --group, --purpose, --legal-hold).
    #[arg(long, value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// A registered data subject the documents are about (id, repeatable):
    /// erasing the subject deletes them.
    #[arg(long = "subject", value_name = "ID")]
    subjects: Vec<String>,
    /// Do not link the registered subjects the personal-data scan finds in
    /// the text (only those given with --subject).
    #[arg(long)]
    no_link_subjects: bool,
    /// No progress bar and no summary (receipts and errors are printed).
    #[arg(long, short)]
    quiet: bool,
    /// List the files that would be ingested (JSON lines) and stop.
    #[arg(long)]
    dry_run: bool,
    /// Largest source file accepted, in bytes (a larger one fails).
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    max_file_bytes: u64,
    /// Ingest without audit records (when a gateway holds the audit log).
    #[arg(long)]
    unaudited: bool,
    /// S3 endpoint URL (default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
    /// else AWS). Credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN`).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`); must be in
    /// the EU unless allowed with --allow-region.
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Path-style S3 addressing (`host/bucket/key`: MinIO and most
    /// S3-compatible servers); default virtual-hosted (`bucket.host/key`).
    #[arg(long)]
    s3_path_style: bool,
    /// Keys per S3 listing request (the listing follows every page).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    s3_page_size: usize,
    /// Read from this S3 region although it is not known to be in the EU
    /// (repeatable).
    #[arg(long, value_name = "REGION")]
    allow_region: Vec<String>,
}

/// Where a source file's bytes come from.
enum Source {
    Local(PathBuf),
    S3(Arc<Bucket>, crate::s3_source::Object),
}

/// A source file to ingest.
struct Item {
    source: Source,
    /// What the user sees (the path or `s3://` URL).
    shown: String,
    /// Document name (format detection, citations).
    name: String,
    size: u64,
}

/// A source that could not even be listed, or a file that failed.
struct Failure {
    shown: String,
    reason: String,
}

impl Failure {
    /// A failure, reported now (`--quiet` too): a JSON line on stdout, a
    /// line naming it on stderr.
    fn report(shown: &str, reason: String) -> Failure {
        println!("{}", json!({"path": shown, "error": reason}));
        eprintln!("error: {shown}: {reason}");
        Failure {
            shown: shown.to_owned(),
            reason,
        }
    }
}

#[derive(Default)]
struct Totals {
    files: u64,
    created: u64,
    present: u64,
    chunks: u64,
    pages: u64,
    linked: BTreeSet<Uuid>,
    failed: Vec<Failure>,
}

fn labels_of(args: &IngestArgs) -> Result<DocumentLabels> {
    let mut labels = DocumentLabels {
        groups: args.group.iter().cloned().collect(),
        purposes: args.purpose.iter().cloned().collect(),
        legal_hold: args.legal_hold,
    };
    for l in &args.label {
        match (l.as_str(), l.split_once('=')) {
            ("legal_hold", _) | (_, Some(("legal_hold", "true"))) => labels.legal_hold = true,
            (_, Some(("group", v))) if !v.is_empty() => {
                labels.groups.insert(v.to_owned());
            }
            (_, Some(("purpose", v))) if !v.is_empty() => {
                labels.purposes.insert(v.to_owned());
            }
            _ => bail!(Usage(format!(
                "--label `{l}`: expected group=NAME, purpose=NAME or legal_hold"
            ))),
        }
    }
    Ok(labels)
}

/// Files under `dir`, recursively, sorted; hidden entries skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

fn local_item(path: PathBuf) -> Item {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Item {
        shown: path.display().to_string(),
        source: Source::Local(path),
        name,
        size,
    }
}

/// The source files behind the arguments, in order; a source that cannot
/// be listed is a failure (the others go on). Bad S3 settings (region,
/// credentials) are usage errors, before anything is read.
async fn enumerate(args: &IngestArgs, failed: &mut Vec<Failure>) -> Result<Vec<Item>> {
    let opts = S3Options {
        endpoint: args.s3_endpoint.clone(),
        region: args.s3_region.clone(),
        path_style: args.s3_path_style,
        allow_regions: args.allow_region.clone(),
    };
    let mut items = Vec::new();
    for arg in &args.paths {
        if arg.starts_with("s3://") {
            let (bucket, prefix) = crate::s3_source::parse_url(arg)
                .ok_or_else(|| Usage(format!("`{arg}` is not s3://BUCKET/PREFIX")))?;
            let bucket = Arc::new(Bucket::open(&bucket, &opts)?);
            match bucket.list(&prefix, args.s3_page_size).await {
                Ok(objects) if objects.is_empty() => {
                    failed.push(Failure::report(arg, "no object under this prefix".into()))
                }
                Ok(objects) => items.extend(objects.into_iter().map(|o| Item {
                    shown: bucket.url(&o.key),
                    name: o.key.clone(),
                    size: o.size,
                    source: Source::S3(bucket.clone(), o),
                })),
                Err(e) => failed.push(Failure::report(arg, format!("{e:#}"))),
            }
            continue;
        }
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut files = Vec::new();
            match walk(&path, &mut files) {
                Ok(()) => items.extend(files.into_iter().map(local_item)),
                Err(e) => failed.push(Failure::report(
                    arg,
                    format!("cannot read the directory: {e}"),
                )),
            }
        } else {
            items.push(local_item(path));
        }
    }
    Ok(items)
}

async fn fetch(item: &Item, max: u64) -> Result<Vec<u8>> {
    if item.size > max {
        bail!("{} bytes, more than --max-file-bytes {max}", item.size);
    }
    let bytes = match &item.source {
        Source::Local(p) => tokio::fs::read(p)
            .await
            .map_err(|e| anyhow!("cannot read: {e}"))?,
        Source::S3(bucket, object) => bucket.get(object).await?,
    };
    if bytes.len() as u64 > max {
        bail!("{} bytes, more than --max-file-bytes {max}", bytes.len());
    }
    Ok(bytes)
}

/// The progress bar on stderr: hidden unless stderr is a terminal (and
/// not `--quiet`).
fn progress(quiet: bool, items: &[Item]) -> ProgressBar {
    let total: u64 = items.iter().map(|i| i.size).sum();
    let target = if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed:>4} [{bar:30}] {binary_bytes}/{binary_total_bytes} {prefix} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("0/{} files", items.len()));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The audit log, when this run records (one record per source file).
struct Audit {
    log: Option<AuditLog>,
    config: rempart_gateway::config::Config,
}

impl Audit {
    fn open(config: rempart_gateway::config::Config, unaudited: bool) -> Result<Audit> {
        if unaudited {
            return Ok(Audit { log: None, config });
        }
        let dir = &config.server.data_dir;
        let key = rempart_gateway::audit::signing_key(dir).map_err(anyhow::Error::msg)?;
        let log = match AuditLog::open_with(
            rempart_gateway::audit::audit_dir(dir),
            key,
            rempart_gateway::audit::log_options(&config),
        ) {
            Ok(log) => log,
            Err(rempart_audit::Error::Locked(d)) => bail!(
                "the audit log {} is held by a running gateway: ingest through `POST /v1/collections/{{c}}/documents`, or pass --unaudited (nothing was ingested)",
                d.display()
            ),
            Err(e) => return Err(e.into()),
        };
        Ok(Audit {
            log: Some(log),
            config,
        })
    }

    fn draft(&self, tenant: &str) -> AuditRecord {
        let ctx = rempart_gateway::request::RequestCtx {
            request_id: Uuid::now_v7().to_string(),
            started: Instant::now(),
            ts: time_now(),
            principal: rempart_gateway::request::Principal {
                tenant: tenant.to_owned(),
                key_id: "cli".into(),
                groups: Vec::new(),
            },
            region: None,
            region_source: rempart_gateway::request::RegionSource::Unknown,
        };
        ctx.audit_draft(&self.config, "ingest", "")
    }

    async fn record(&self, rec: AuditRecord) -> Result<()> {
        if let Some(log) = &self.log {
            log.submit(rec).await.context("audit log")?;
        }
        Ok(())
    }

    fn close(self) -> Result<()> {
        if let Some(log) = self.log {
            // Signs a final checkpoint; blocks (multi-thread runtime).
            tokio::task::block_in_place(|| log.close())?;
        }
        Ok(())
    }
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What ingesting one source file did.
struct Done {
    line: Value,
    created: u64,
    present: u64,
    chunks: u64,
    pages: u64,
    linked: Vec<Uuid>,
}

/// Everything one source file goes through once its bytes are here.
struct Ctx<'a> {
    tenant: &'a str,
    collection: &'a str,
    labels: &'a DocumentLabels,
    named: &'a [Uuid],
    link: bool,
    retriever: &'a Retriever,
    inspector: Arc<dyn Inspector>,
}

async fn ingest_one(
    cx: &Ctx<'_>,
    item: &Item,
    bytes: Vec<u8>,
    rec: &mut AuditRecord,
) -> Result<Done> {
    let name = item.name.clone();
    let files: Vec<SourceFile> = tokio::task::spawn_blocking(move || {
        rempart_gateway::collections::extract_file(&name, bytes)
    })
    .await
    .map_err(|_| anyhow!("the extractor failed"))??;
    let stored = ingest_files(
        cx.retriever,
        cx.inspector.clone(),
        cx.tenant,
        cx.collection,
        &files,
        cx.labels,
        cx.named,
        cx.link,
        rec,
    )
    .await
    .context("not ingested")?;
    let mut done = Done {
        line: Value::Null,
        created: 0,
        present: 0,
        chunks: 0,
        pages: 0,
        linked: Vec::new(),
    };
    let mut receipts = Vec::with_capacity(files.len());
    for (file, f) in files.iter().zip(&stored) {
        if f.receipt.created {
            done.created += 1;
            done.chunks += f.receipt.chunks;
        } else {
            done.present += 1;
        }
        done.pages += u64::from(file.pages);
        for s in &f.linked {
            if !done.linked.contains(s) {
                done.linked.push(*s);
            }
        }
        receipts.push(json!({
            "name": file.name,
            "format": file.format,
            "pages": file.pages,
            "needs_ocr": file.needs_ocr,
            "receipt": f.receipt_json(),
        }));
    }
    let first = receipts.remove(0);
    done.line = json!({
        "path": item.shown,
        "collection": cx.collection,
        "format": first["format"],
        "pages": first["pages"],
        "needs_ocr": first["needs_ocr"],
        "receipt": first["receipt"],
        "attachments": receipts,
    });
    Ok(done)
}

/// Run `rempart ingest`.
pub fn run(args: IngestArgs) -> Result<ExitCode> {
    rempart_store::check_collection(&args.collection)
        .map_err(|e| Usage(format!("--collection: {e}")))?;
    let labels = labels_of(&args)?;
    let named: Vec<Uuid> = args
        .subjects
        .iter()
        .map(|s| {
            Uuid::parse_str(s).map_err(|_| Usage(format!("--subject `{s}` is not a subject id")))
        })
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let started = Instant::now();
        let mut totals = Totals::default();
        let items = enumerate(&args, &mut totals.failed).await?;
        if args.dry_run {
            for i in &items {
                println!("{}", json!({"path": i.shown, "bytes": i.size}));
            }
            return summary(&args, &totals, &items, started);
        }
        let (registry, config) = crate::subjects_cmd::registry(&args.common, &args.tenant).await?;
        // With `[retrieval] embedding_model`, chunks are embedded as they go in.
        let retriever = Retriever::from_config(&config, Arc::new(registry))?;
        let audit = Audit::open(config, args.unaudited)?;
        let cx = Ctx {
            tenant: &args.tenant,
            collection: &args.collection,
            labels: &labels,
            named: &named,
            link: !args.no_link_subjects,
            retriever: &retriever,
            inspector: Arc::new(PiiInspector::new()),
        };
        let bar = progress(args.quiet, &items);
        let max = args.max_file_bytes;
        let mut fetched = futures::stream::iter(items.iter())
            .map(|item| async move { (item, fetch(item, max).await) })
            .buffered(PREFETCH);
        let mut n = 0;
        while let Some((item, bytes)) = fetched.next().await {
            n += 1;
            bar.set_prefix(format!("{n}/{} files", items.len()));
            bar.set_message(item.shown.clone());
            let mut rec = audit.draft(&args.tenant);
            let began = Instant::now();
            let result = match bytes {
                Ok(bytes) => ingest_one(&cx, item, bytes, &mut rec).await,
                Err(e) => Err(e),
            };
            bar.inc(item.size);
            totals.files += 1;
            rec.latency_ms = began.elapsed().as_millis() as u64;
            match result {
                Ok(done) => {
                    totals.created += done.created;
                    totals.present += done.present;
                    totals.chunks += done.chunks;
                    totals.pages += done.pages;
                    totals.linked.extend(done.linked);
                    bar.suspend(|| println!("{}", done.line));
                }
                Err(e) => {
                    rec.outcome = Outcome::BadRequest;
                    rec.error_code = Some("not_ingested".into());
                    let failure = bar.suspend(|| Failure::report(&item.shown, format!("{e:#}")));
                    totals.failed.push(failure);
                }
            }
            audit.record(rec).await?;
        }
        bar.finish_and_clear();
        drop(fetched);
        audit.close()?;
        summary(&args, &totals, &items, started)
    })
}

/// The summary (unless `--quiet`), listing failures at the end; exit 1
/// when any source or file failed.
fn summary(
    args: &IngestArgs,
    totals: &Totals,
    items: &[Item],
    started: Instant,
) -> Result<ExitCode> {
    let failed = &totals.failed;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        if args.dry_run {
            let bytes: u64 = items.iter().map(|i| i.size).sum();
            eprintln!(
                "{} files, {bytes} bytes, would be ingested; {} failed ({secs:.1} s)",
                items.len(),
                failed.len()
            );
        } else {
            eprintln!(
                "{} files: {} documents created, {} already present, {} failed; {} chunks, {} pages, {} subjects linked ({secs:.1} s)",
                totals.files,
                totals.created,
                totals.present,
                failed.len(),
                totals.chunks,
                totals.pages,
                totals.linked.len(),
            );
        }
        for f in failed {
            eprintln!("  failed: {}: {}", f.shown, f.reason);
        }
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
