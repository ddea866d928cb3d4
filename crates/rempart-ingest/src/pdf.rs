//! PDF text layer through `pdf-extract` (on lopdf), page by page: each
//! page's text is kept apart so blocks carry the right page, and a page
//! whose text layer is empty is listed as needing OCR (and, with the `ocr`
//! feature, rasterised and recognised).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use pdf_extract::{Document, PlainTextOutput, output_doc_page};

use crate::{ExtractOptions, Extracted, Format, IngestError, Warning};

const FORMAT: Format = Format::Pdf;

thread_local! {
    /// Set while a parser call runs under [`guarded`] on this thread.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic of the parser into `None` (pdf-extract
/// unwraps and panics on some malformed inputs). Its panic messages can
/// quote PDF objects, i.e. document text, so on this thread and for the
/// duration of `f` they are not printed: the panic hook is wrapped once to
/// skip them and defers to the previous hook otherwise.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = catch_unwind(AssertUnwindSafe(f)).ok();
    QUIET.with(|q| q.set(was));
    out
}

/// The text layer of each page, in page order (empty where there is none
/// or it could not be read; those pages get a warning).
pub(crate) fn page_texts(bytes: &[u8]) -> Result<(Vec<String>, Vec<Warning>), IngestError> {
    let mut doc = guarded(|| Document::load_mem(bytes))
        .and_then(Result::ok)
        .ok_or(IngestError::Corrupt {
            format: FORMAT,
            what: "cannot read the PDF structure (truncated or damaged file)",
        })?;
    if doc.is_encrypted() && guarded(|| doc.decrypt("")).and_then(Result::ok).is_none() {
        return Err(IngestError::Encrypted { format: FORMAT });
    }
    let numbers: Vec<u32> = guarded(|| doc.get_pages().into_keys().collect()).unwrap_or_default();
    if numbers.is_empty() {
        return Err(IngestError::Corrupt {
            format: FORMAT,
            what: "the page tree has no pages",
        });
    }
    let mut texts = Vec::with_capacity(numbers.len());
    let mut warnings = Vec::new();
    for (i, &n) in numbers.iter().enumerate() {
        let page = guarded(|| {
            let mut s = String::new();
            output_doc_page(&doc, &mut PlainTextOutput::new(&mut s), n).map(|_| s)
        });
        match page {
            Some(Ok(s)) => texts.push(s.replace('\x0c', " ")),
            _ => {
                warnings.push(Warning {
                    page: Some(i as u32 + 1),
                    what: "the page's text layer could not be decoded",
                });
                texts.push(String::new());
            }
        }
    }
    Ok((texts, warnings))
}

pub(crate) fn extract(bytes: &[u8], opts: &ExtractOptions) -> Result<Extracted, IngestError> {
    let (mut texts, mut warnings) = page_texts(bytes)?;
    let needs_ocr: Vec<u32> = texts
        .iter()
        .enumerate()
        .filter(|(_, t)| t.trim().is_empty())
        .map(|(i, _)| i as u32 + 1)
        .collect();
    let ocr_pages = ocr_missing(bytes, &needs_ocr, &mut texts, &mut warnings, opts);
    let pages = texts.len() as u32;
    let text = texts.join("\x0c");
    let document = rempart_rag::parse_plain(&text);
    Ok(Extracted {
        text,
        document,
        pages,
        needs_ocr,
        ocr_pages,
        warnings,
        ..Extracted::empty(FORMAT)
    })
}

/// Rasterises and recognises the pages without a text layer (feature
/// `ocr`; without it they stay listed in `needs_ocr` and empty); returns
/// the pages whose text came from OCR. A page that fails gets a warning.
fn ocr_missing(
    bytes: &[u8],
    needs_ocr: &[u32],
    texts: &mut [String],
    warnings: &mut Vec<Warning>,
    opts: &ExtractOptions,
) -> Vec<u32> {
    #[cfg(not(feature = "ocr"))]
    {
        let _ = (bytes, needs_ocr, texts, warnings, opts);
        Vec::new()
    }
    #[cfg(feature = "ocr")]
    {
        let mut done = Vec::new();
        for &page in needs_ocr {
            match crate::ocr::pdf_page_text(bytes, page, opts.ocr_dpi, &opts.ocr_languages) {
                Ok(t) => {
                    texts[page as usize - 1] = t;
                    done.push(page);
                }
                Err(what) => warnings.push(Warning {
                    page: Some(page),
                    what,
                }),
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn parser_panics_are_caught_and_not_printed() {
        static PRINTED: AtomicUsize = AtomicUsize::new(0);
        // A hook standing for the default one (which prints the message).
        std::panic::set_hook(Box::new(|_| {
            PRINTED.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(
            guarded(|| -> u8 { panic!("wrong type (Secret text)") }),
            None
        );
        assert_eq!(PRINTED.load(Ordering::SeqCst), 0);
        assert_eq!(guarded(|| 7), Some(7));
        // Panics outside the guard still reach the previous hook.
        let _ = catch_unwind(|| panic!("elsewhere"));
        assert_eq!(PRINTED.load(Ordering::SeqCst), 1);
        let _ = std::panic::take_hook();
    }
}
