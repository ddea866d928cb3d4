//! `rempart ingest`: files (text, Markdown, HTML, PDF, DOCX, EML with its
//! attachments; images with the `ocr` feature) into an encrypted collection
//! (the same store, key provider and chunking as
//! `POST /v1/collections/{c}/documents`). One JSON receipt per file on
//! stdout.
//!
//! A gateway running on the same store sees the new documents at its next
//! search (the collection's version moved).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use rempart_gateway::collections::Retriever;
use rempart_store::collections::DocumentLabels;

use crate::cli::{ConfigArgs, Usage};

/// `rempart ingest …`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    common: ConfigArgs,
    /// Files: the format comes from their bytes, then their extension.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
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
}

/// Run `rempart ingest`.
pub fn run(args: IngestArgs) -> Result<ExitCode> {
    rempart_store::check_collection(&args.collection)
        .map_err(|e| Usage(format!("--collection: {e}")))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let (registry, config) = crate::subjects_cmd::registry(&args.common, &args.tenant).await?;
        let retriever = Retriever::from_config(&config, Arc::new(registry))?;
        let labels = DocumentLabels {
            groups: args.group.into_iter().collect(),
            purposes: args.purpose.into_iter().collect(),
            legal_hold: args.legal_hold,
        };
        for path in &args.paths {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            let files = rempart_gateway::collections::extract_file(&name, bytes)
                .map_err(|e| Usage(format!("{}: {e}", path.display())))?;
            let mut receipts = Vec::with_capacity(files.len());
            for file in &files {
                let receipt = retriever
                    .ingest(&args.tenant, &args.collection, file, &labels, &[])
                    .await
                    .with_context(|| format!("{}: not ingested", path.display()))?;
                receipts.push(serde_json::json!({
                    "name": file.name,
                    "format": file.format,
                    "pages": file.pages,
                    "needs_ocr": file.needs_ocr,
                    "receipt": receipt,
                }));
            }
            let receipt = receipts.remove(0);
            println!(
                "{}",
                serde_json::json!({
                    "path": path,
                    "collection": args.collection,
                    "format": receipt["format"],
                    "pages": receipt["pages"],
                    "needs_ocr": receipt["needs_ocr"],
                    "receipt": receipt["receipt"],
                    "attachments": receipts,
                })
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
