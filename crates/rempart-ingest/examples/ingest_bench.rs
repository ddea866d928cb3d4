//! Ingestion throughput and accuracy on the shared datasets (never a timed
//! test). See bench/ingest/README.md.
//!
//! ```text
//! cargo run --release -p rempart-ingest --example ingest_bench -- [--rounds N]
//! cargo run --release -p rempart-ingest --features ocr --example ingest_bench -- \
//!     [--ocr-limit N] [--langs eng+fra+deu]
//! ```
//!
//! - text-layer PDFs: every PDF of invoice2data-invoices and
//!   pl-pii-bench/corpus/pdf, `rounds` times; pages/s over process CPU time
//!   (the machine is shared, wall time is noise) and wall time; character
//!   accuracy (1 − CER) of the text layer against pl-pii-bench's canonical
//!   text.
//! - with `--features ocr`: SROIE receipts (JPEG) against the transcripts of
//!   their box files; the same receipts wrapped as scanned PDF pages
//!   (rasterised by pdftoppm at 300 dpi, then OCR); the invoice PNGs against
//!   their own PDF's text layer and the expected field values; pages/s over
//!   CPU and wall time (pdftoppm's own CPU is a child process: counted in
//!   wall time only).
//!
//! CER = Levenshtein distance / reference length, in characters, after
//! collapsing whitespace; totals are micro-averages (summed distances over
//! summed lengths).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rempart_ingest::{ExtractOptions, extract_with};

// The tests' PDF writer (lopdf), to wrap receipt scans as scanned PDFs.
#[cfg(feature = "ocr")]
#[path = "../tests/support/mod.rs"]
mod support;

fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// (edit distance, reference length) in characters.
fn cer_parts(hyp: &str, reference: &str) -> (usize, usize) {
    (
        strsim::levenshtein(hyp, reference),
        reference.chars().count(),
    )
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

struct Args {
    datasets: PathBuf,
    rounds: usize,
    ocr_limit: usize,
    scanned_limit: usize,
    langs: String,
}

fn args() -> Args {
    let mut a = Args {
        datasets: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/datasets"
        )),
        rounds: 5,
        ocr_limit: 100,
        scanned_limit: 20,
        langs: ExtractOptions::default().ocr_languages,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--datasets" => a.datasets = v.into(),
            "--rounds" => a.rounds = v.parse().expect("--rounds N"),
            "--ocr-limit" => a.ocr_limit = v.parse().expect("--ocr-limit N"),
            "--scanned-limit" => a.scanned_limit = v.parse().expect("--scanned-limit N"),
            "--langs" => a.langs = v,
            _ => panic!("unknown argument {k}"),
        }
    }
    assert!(
        a.datasets.is_dir(),
        "datasets not found at {} (pass --datasets DIR)",
        a.datasets.display()
    );
    a
}

fn main() {
    let a = args();
    let opts = ExtractOptions {
        ocr_languages: a.langs.clone(),
        ..ExtractOptions::default()
    };
    text_pdfs(&a, &opts);
    #[cfg(feature = "ocr")]
    {
        sroie(&a, &opts);
        scanned_pdfs(&a, &opts);
        invoice_pngs(&a, &opts);
    }
    #[cfg(not(feature = "ocr"))]
    println!("\n(OCR sections skipped: build with --features ocr)");
}

fn text_pdfs(a: &Args, opts: &ExtractOptions) {
    let mut docs = Vec::new();
    for dir in ["invoice2data-invoices", "pl-pii-bench/corpus/pdf"] {
        for p in files(&a.datasets.join(dir), "pdf") {
            docs.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    let bytes: usize = docs.iter().map(|(_, b)| b.len()).sum();
    // Warm-up round, then the measured rounds.
    let mut pages = 0u64;
    for (p, b) in &docs {
        let e = extract_with(b, None, opts).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        pages += u64::from(e.pages);
    }
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    for _ in 0..a.rounds {
        for (_, b) in &docs {
            std::hint::black_box(extract_with(b, None, opts).unwrap());
        }
    }
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    let total = pages as f64 * a.rounds as f64;
    println!("## Text-layer PDFs");
    println!(
        "{} files, {} pages, {:.1} MB; {} rounds",
        docs.len(),
        pages,
        bytes as f64 / 1e6,
        a.rounds
    );
    println!(
        "pages/s (CPU time): {:.1}   pages/s (wall): {:.1}   ms/page (CPU): {:.1}",
        total / cpu.as_secs_f64(),
        total / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3 / total
    );

    // Text-layer fidelity against pl-pii-bench's canonical text.
    let (mut dist, mut len, mut n) = (0usize, 0usize, 0usize);
    for (p, b) in &docs {
        let json = p.with_extension("json");
        let Ok(j) = std::fs::read_to_string(&json) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&j) else {
            continue;
        };
        let Some(reference) = v.get("text").and_then(|t| t.as_str()) else {
            continue;
        };
        let e = extract_with(b, None, opts).unwrap();
        let (d, l) = cer_parts(&squash(&e.text), &squash(reference));
        dist += d;
        len += l;
        n += 1;
    }
    if n > 0 {
        println!(
            "text-layer character accuracy vs pl-pii-bench canonical text ({n} PDFs): {:.2} %",
            100.0 * (1.0 - dist as f64 / len as f64)
        );
    }
}

#[cfg(feature = "ocr")]
fn sroie(a: &Args, opts: &ExtractOptions) {
    let root = a.datasets.join("sroie2019-receipts");
    let imgs: Vec<_> = files(&root.join("img"), "jpg")
        .into_iter()
        .take(a.ocr_limit)
        .collect();
    let (mut dist, mut len, mut dist_ci) = (0usize, 0usize, 0usize);
    let mut per_doc = Vec::new();
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    for img in &imgs {
        let stem = img.file_stem().unwrap().to_str().unwrap();
        let csv = std::fs::read_to_string(root.join("box").join(format!("{stem}.csv"))).unwrap();
        // x1,y1,...,x4,y4,transcript (the transcript may contain commas).
        let reference: Vec<&str> = csv
            .lines()
            .filter_map(|l| l.splitn(9, ',').nth(8))
            .collect();
        let reference = squash(&reference.join("\n"));
        let e = extract_with(&std::fs::read(img).unwrap(), None, opts).unwrap();
        let hyp = squash(&e.text);
        let (d, l) = cer_parts(&hyp, &reference);
        let (dc, _) = cer_parts(&hyp.to_uppercase(), &reference.to_uppercase());
        dist += d;
        dist_ci += dc;
        len += l;
        per_doc.push(1.0 - d as f64 / l.max(1) as f64);
    }
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    per_doc.sort_by(f64::total_cmp);
    println!(
        "\n## OCR: SROIE 2019 receipts (JPEG scans), languages {}",
        a.langs
    );
    println!(
        "{} images; pages/s (CPU time): {:.2}   pages/s (wall): {:.2}   s/page (wall): {:.2}",
        imgs.len(),
        imgs.len() as f64 / cpu.as_secs_f64(),
        imgs.len() as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() / imgs.len() as f64
    );
    println!(
        "character accuracy (1 - CER): {:.2} % (case-insensitive {:.2} %); median document {:.2} %",
        100.0 * (1.0 - dist as f64 / len as f64),
        100.0 * (1.0 - dist_ci as f64 / len as f64),
        100.0 * per_doc.get(per_doc.len() / 2).copied().unwrap_or(0.0)
    );
}

#[cfg(feature = "ocr")]
fn scanned_pdfs(a: &Args, opts: &ExtractOptions) {
    let root = a.datasets.join("sroie2019-receipts/img");
    let pdfs: Vec<Vec<u8>> = files(&root, "jpg")
        .into_iter()
        .take(a.scanned_limit)
        .map(|p| {
            let jpg = std::fs::read(p).unwrap();
            // SROIE scans are 150 dpi (JFIF density).
            support::pdf(&[support::PageContent::Jpeg(&jpg, 150)])
        })
        .collect();
    let (mut ocr_pages, mut chars) = (0usize, 0usize);
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    for pdf in &pdfs {
        let e = extract_with(pdf, None, opts).unwrap();
        ocr_pages += e.ocr_pages.len();
        chars += e.text.len();
    }
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    println!(
        "\n## OCR: scanned PDFs (the first {} receipts, one 150 dpi image page each, rasterised at {} dpi), languages {}",
        pdfs.len(),
        opts.ocr_dpi,
        a.langs
    );
    println!(
        "{ocr_pages} pages OCR'd, {chars} bytes of text; pages/s (CPU time, without pdftoppm): {:.2}   pages/s (wall, with pdftoppm): {:.2}",
        pdfs.len() as f64 / cpu.as_secs_f64(),
        pdfs.len() as f64 / wall.as_secs_f64()
    );
}

/// String values of the expected fields (not the template-generated
/// description, not normalised dates).
#[cfg(feature = "ocr")]
fn expected_values(json: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(obj) = json.get(0).and_then(|o| o.as_object()) {
        for (k, v) in obj {
            if k == "desc" || k.starts_with("date") || k == "currency" {
                continue;
            }
            if let Some(s) = v.as_str() {
                let s = squash(s);
                if s.len() >= 3 {
                    out.push(s);
                }
            }
        }
    }
    out
}

#[cfg(feature = "ocr")]
fn invoice_pngs(a: &Args, opts: &ExtractOptions) {
    let root = a.datasets.join("invoice2data-invoices");
    println!(
        "\n## OCR: invoice2data page renderings (PNG), languages {}",
        a.langs
    );
    let (mut dist, mut len) = (0usize, 0usize);
    let (mut found_ocr, mut found_pdf, mut fields) = (0, 0, 0);
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let pngs = files(&root, "png");
    for png in &pngs {
        let e = extract_with(&std::fs::read(png).unwrap(), None, opts).unwrap();
        let hyp = squash(&e.text);
        let pdf = extract_with(
            &std::fs::read(png.with_extension("pdf")).unwrap(),
            None,
            opts,
        )
        .unwrap();
        // The PNG renders page 1.
        let page1 = pdf.text.split('\x0c').next().unwrap_or("");
        let reference = squash(page1);
        let (d, l) = cer_parts(&hyp, &reference);
        dist += d;
        len += l;
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(png.with_extension("json")).unwrap())
                .unwrap();
        let (hyp_l, ref_l) = (hyp.to_lowercase(), squash(&pdf.text).to_lowercase());
        for v in expected_values(&json) {
            let v = v.to_lowercase();
            fields += 1;
            found_ocr += usize::from(hyp_l.contains(&v));
            found_pdf += usize::from(ref_l.contains(&v));
        }
        println!(
            "  {}: 1 - CER vs PDF text layer {:.2} %",
            png.file_name().unwrap().to_string_lossy(),
            100.0 * (1.0 - d as f64 / l.max(1) as f64)
        );
    }
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    println!(
        "{} images; character accuracy vs the PDF text layer: {:.2} % (reading order differs on multi-column layouts)",
        pngs.len(),
        100.0 * (1.0 - dist as f64 / len.max(1) as f64)
    );
    println!(
        "expected field values found: OCR {found_ocr}/{fields}, PDF text layer {found_pdf}/{fields}"
    );
    println!(
        "(time includes the PDF text layers: CPU {:.2} s, wall {:.2} s)",
        cpu.as_secs_f64(),
        wall.as_secs_f64()
    );
}
