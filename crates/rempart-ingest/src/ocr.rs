//! OCR through Tesseract (`leptess`), only with the `ocr` feature. Scanned
//! PDF pages are rasterised by poppler's `pdftoppm` (a subprocess, fed the
//! PDF on stdin; nothing is written to disk). One Tesseract engine per
//! thread and language set is kept and reused: loading the models costs
//! more than recognising a page.

use std::cell::RefCell;
use std::io::Write;
use std::process::{Command, Stdio};

use leptess::{LepTess, Variable};

thread_local! {
    static ENGINE: RefCell<Option<(String, LepTess)>> = const { RefCell::new(None) };
}

/// Recognises the text of one image (PNG, JPEG, TIFF: whatever Leptonica
/// reads; the first page of a multi-page TIFF).
pub(crate) fn image_text(bytes: &[u8], languages: &str) -> Result<String, &'static str> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| l != languages) {
            let mut engine = LepTess::new(None, languages)
                .map_err(|_| "Tesseract could not load the language data")?;
            // Tesseract's diagnostics go to stderr by default; keep the
            // gateway's logs to its own (structured, content-free) lines.
            let _ = engine.set_variable(Variable::DebugFile, "/dev/null");
            *slot = Some((languages.to_owned(), engine));
        }
        let Some((_, engine)) = slot.as_mut() else {
            return Err("Tesseract could not load the language data");
        };
        engine
            .set_image_from_mem(bytes)
            .map_err(|_| "the image cannot be decoded")?;
        // Scans without a resolution tag: assume 300 dpi rather than 70.
        if engine.get_source_y_resolution() < 70 {
            engine.set_source_resolution(300);
        }
        let text = engine
            .get_utf8_text()
            .map_err(|_| "OCR produced invalid UTF-8")?;
        Ok(text.replace('\x0c', "\n"))
    })
}

/// Rasterises page `page` (1-based) of a PDF at `dpi` and recognises it.
pub(crate) fn pdf_page_text(
    pdf: &[u8],
    page: u32,
    dpi: u32,
    languages: &str,
) -> Result<String, &'static str> {
    let pgm = rasterise(pdf, page, dpi)?;
    image_text(&pgm, languages)
}

fn rasterise(pdf: &[u8], page: u32, dpi: u32) -> Result<Vec<u8>, &'static str> {
    let p = page.to_string();
    let mut child = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-f", &p, "-l", &p])
        // Grey PGM: Leptonica reads it as is, and encoding PNG would cost
        // pdftoppm ~6x more than rendering.
        .args(["-gray", "-singlefile", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|_| "pdftoppm (poppler-utils) is not installed")?;
    // Feed stdin from another thread so a large page output cannot
    // deadlock against a full stdin pipe.
    let mut stdin = child.stdin.take().ok_or("pdftoppm has no stdin")?;
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            // An early exit of pdftoppm shows up in its status below.
            let _ = stdin.write_all(pdf);
        });
        child.wait_with_output()
    })
    .map_err(|_| "pdftoppm failed to run")?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err("pdftoppm could not rasterise the page");
    }
    Ok(out.stdout)
}
