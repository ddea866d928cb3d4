//! `rempart pii scan` and `rempart pii redact`.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::cli::Usage;

/// PII commands.
#[derive(Debug, Subcommand)]
pub enum PiiCmd {
    /// Detect personal data. Reads JSONL lines `{"id", "text", "lang"?}`,
    /// writes `{"id", "entities": [{"type", "subtype"?, "start", "end",
    /// "score"}]}` with offsets in Unicode scalar values (Python `str`
    /// indices), end exclusive.
    Scan {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Pseudonymise a text: every detected entity becomes a typed
    /// placeholder (`[[PERSON_1]]`). Reads plain text.
    Redact {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
}

fn input(file: &Option<PathBuf>) -> Result<Box<dyn BufRead>> {
    Ok(match file {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p)
                .map_err(|e| Usage(format!("cannot read {}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin().lock())),
    })
}

/// Run a PII command.
pub fn run(cmd: PiiCmd) -> Result<ExitCode> {
    let detector = rempart_pii::Detector::new();
    match cmd {
        PiiCmd::Scan { file } => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let mut bad = 0usize;
            // One line buffer, reused: `BufRead::lines` allocates a String
            // per line and grows it by doubling, which cost more than some
            // detectors.
            let mut input = input(&file)?;
            let mut buf = String::new();
            for n in 0.. {
                buf.clear();
                let read = input
                    .read_line(&mut buf)
                    .with_context(|| format!("line {}", n + 1))?;
                if read == 0 {
                    break;
                }
                // What `lines()` strips: `\n`, and a `\r` before it.
                let line = match buf.strip_suffix('\n') {
                    Some(l) => l.strip_suffix('\r').unwrap_or(l),
                    None => &buf,
                };
                if line.trim().is_empty() {
                    continue;
                }
                match rempart_pii::scan_line(&detector, line) {
                    Ok(json) => writeln!(out, "{json}")?,
                    Err(e) => {
                        // Named by line and problem, never by content; the
                        // other lines are still processed.
                        eprintln!("line {}: {e}", n + 1);
                        bad += 1;
                    }
                }
            }
            out.flush()?;
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PiiCmd::Redact { file } => {
            let mut text = String::new();
            input(&file)?
                .read_to_string(&mut text)
                .context("input is not UTF-8 text")?;
            let entities = detector.detect(&text, None);
            let mut mapping = rempart_pii::Mapping::new();
            let p = rempart_pii::pseudonymise(&text, &entities, &mut mapping, |_| true)
                .map_err(|e| anyhow::anyhow!("pseudonymisation failed: {e}"))?;
            print!("{}", p.text());
            let counts: Vec<String> = p
                .replaced()
                .iter()
                .map(|(k, v)| format!("{}={v}", k.as_str()))
                .collect();
            eprintln!(
                "replaced: {}",
                if counts.is_empty() {
                    "none".into()
                } else {
                    counts.join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
