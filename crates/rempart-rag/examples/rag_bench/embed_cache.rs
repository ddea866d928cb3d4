//! Embeddings for the dense and hybrid columns (multilingual-e5-small through
//! `rempart-embed`), computed by the bench and cached on disk.
//!
//! A cache file holds the vectors of every text of one data-set file, in file
//! order, as little-endian f32 rows. Its name carries a SHA-256 key over the
//! data-set file's SHA-256, the model file's SHA-256, the input kind and
//! [`RECIPE`] (how texts are built and embedded), so a changed data set, model
//! or recipe never reads a stale file: it misses and recomputes. Vectors are
//! appended to `NAME.partial` batch by batch, so an interrupted run resumes
//! where it stopped; the file is renamed to `NAME` when complete.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rempart_embed::{E5Model, InputKind};
use sha2::{Digest, Sha256};

use super::Res;

/// What the cached vectors are; part of the cache key. Change it whenever the
/// texts or the embedding arithmetic change.
const RECIPE: &str = "rag_bench v1: passages = title + ' ' + text (title omitted when empty), \
                      queries = text; E5 prefixes from rempart_embed::InputKind; \
                      rempart-embed f32 GEMM forward, 512-token truncation, mean pooling, L2";

/// Texts per batch between two appends to the partial file.
const BATCH: usize = 64;

fn process_cpu() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn sha256_file(path: &Path) -> Res<String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The model, its digest, and where to cache.
pub struct Embedder {
    model: E5Model,
    model_sha: String,
    threads: usize,
    cache: Option<PathBuf>,
}

/// Vectors of one data-set file, and how they were obtained.
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    /// "cached (FILE)" or "computed: … s wall, … s CPU".
    pub how: String,
}

impl Embedder {
    pub fn new(model_path: &Path, threads: usize, cache: Option<PathBuf>) -> Res<Self> {
        let model = E5Model::load(model_path)?.with_threads(threads);
        let model_sha = sha256_file(model_path)?;
        if let Some(dir) = &cache {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create cache dir {}: {e}", dir.display()))?;
        }
        Ok(Self {
            model,
            model_sha,
            threads,
            cache,
        })
    }

    pub fn model(&self) -> &E5Model {
        &self.model
    }

    /// The vectors of `texts` (all texts of `file`, in order) as `kind`:
    /// from the cache when it holds them, else computed (and cached).
    pub fn embed(
        &self,
        label: &str,
        file: &Path,
        texts: &[&str],
        kind: InputKind,
    ) -> Res<Embedded> {
        let dim = self.model.dim();
        let row_bytes = dim * 4;
        let key = {
            let mut h = Sha256::new();
            for part in [
                RECIPE,
                &sha256_file(file)?,
                &self.model_sha,
                kind.prefix(),
                &texts.len().to_string(),
                &dim.to_string(),
            ] {
                h.update(part.as_bytes());
                h.update(b"\n");
            }
            hex(&h.finalize())
        };
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = self
            .cache
            .as_ref()
            .map(|d| d.join(format!("{slug}-{}.f32", &key[..16])));
        if let Some(p) = &path
            && let Ok(bytes) = std::fs::read(p)
        {
            if bytes.len() == texts.len() * row_bytes {
                return Ok(Embedded {
                    vectors: rows(&bytes, dim),
                    how: format!("cached ({})", p.display()),
                });
            }
            eprintln!("{}: wrong size, recomputing", p.display());
        }
        // Resume a partial file: keep its whole rows.
        let partial = path.as_ref().map(|p| p.with_extension("f32.partial"));
        let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
        if let Some(pp) = &partial
            && let Ok(bytes) = std::fs::read(pp)
        {
            let whole = (bytes.len() / row_bytes).min(texts.len());
            vectors = rows(&bytes[..whole * row_bytes], dim);
            std::fs::write(pp, &bytes[..whole * row_bytes])?;
            eprintln!("{label}: resuming after {whole} cached vectors");
        }
        let resumed = vectors.len();
        let mut out = match &partial {
            Some(pp) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(pp)
                    .map_err(|e| format!("cannot write {}: {e}", pp.display()))?,
            ),
            None => None,
        };
        let (w0, c0) = (Instant::now(), process_cpu());
        for batch in texts[resumed..].chunks(BATCH) {
            let v = self.model.embed(batch, kind);
            if let Some(f) = out.as_mut() {
                let mut buf = Vec::with_capacity(v.len() * row_bytes);
                for row in &v {
                    for x in row {
                        buf.extend_from_slice(&x.to_le_bytes());
                    }
                }
                f.write_all(&buf)?;
                f.flush()?;
            }
            vectors.extend(v);
            eprintln!(
                "{label}: {}/{} embedded ({:.0} s wall, {:.0} s CPU)",
                vectors.len(),
                texts.len(),
                w0.elapsed().as_secs_f64(),
                process_cpu() - c0
            );
        }
        let (wall, cpu) = (w0.elapsed().as_secs_f64(), process_cpu() - c0);
        if let (Some(p), Some(pp)) = (&path, &partial) {
            drop(out);
            std::fs::rename(pp, p)?;
        }
        let done = texts.len() - resumed;
        Ok(Embedded {
            vectors,
            how: format!(
                "computed {done}{}: {wall:.0} s wall, {cpu:.0} s CPU, {} threads ({:.1} per CPU-second)",
                if resumed > 0 {
                    format!(" (after {resumed} resumed from the cache)")
                } else {
                    String::new()
                },
                self.threads,
                done as f64 / cpu.max(1e-9)
            ),
        })
    }
}

fn rows(bytes: &[u8], dim: usize) -> Vec<Vec<f32>> {
    bytes
        .chunks_exact(dim * 4)
        .map(|r| {
            r.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect()
}
