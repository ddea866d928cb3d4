//! E-mail (RFC 5322 / MIME) through `mail-parser`: a leading header block
//! (Subject, From, To, Cc, Date), then the body (text/plain as paragraphs,
//! or text/html through the HTML extractor when there is no plain text),
//! then each attachment extracted on its own, with its own format, hash,
//! pages and offsets, down to [`ExtractOptions::max_depth`] levels.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use rempart_rag::BlockKind;

use crate::render::{Render, collapse_ws};
use crate::{Attachment, ExtractOptions, Extracted, Format, IngestError, Warning};

fn addresses(a: Option<&Address<'_>>) -> Option<String> {
    let list: Vec<String> = a?
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.to_owned(),
            (None, Some(e)) => e.to_owned(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

pub(crate) fn extract(
    bytes: &[u8],
    opts: &ExtractOptions,
    depth: usize,
) -> Result<Extracted, IngestError> {
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or(IngestError::Corrupt {
            format: Format::Eml,
            what: "not a parsable MIME message",
        })?;
    let mut out = Render::new();

    let mut header = Vec::new();
    if let Some(s) = msg.subject() {
        header.push(format!("Subject: {}", collapse_ws(s)));
    }
    for (name, value) in [
        ("From", addresses(msg.from())),
        ("To", addresses(msg.to())),
        ("Cc", addresses(msg.cc())),
    ] {
        if let Some(v) = value {
            header.push(format!("{name}: {}", collapse_ws(&v)));
        }
    }
    if let Some(d) = msg.date() {
        header.push(format!("Date: {}", d.to_rfc3339()));
    }
    out.push(BlockKind::Paragraph, &header.join("\n"));

    let mut warnings = Vec::new();
    for part in msg.text_bodies() {
        match &part.body {
            PartType::Text(t) => {
                for b in rempart_rag::parse_plain(t).blocks {
                    out.push(b.kind, &b.text);
                }
            }
            PartType::Html(h) => match crate::html::extract(h) {
                Ok((_, doc)) => {
                    for b in doc.blocks {
                        out.push(b.kind, &b.text);
                    }
                }
                Err(_) => warnings.push(Warning {
                    page: None,
                    what: "the HTML body is nested too deeply and was skipped",
                }),
            },
            _ => {}
        }
    }

    let mut attachments = Vec::new();
    for (index, part) in msg.attachments().enumerate() {
        let name = part.attachment_name().map(str::to_owned);
        let content_type = part.content_type().map(|c| match c.subtype() {
            Some(s) => format!("{}/{}", c.ctype(), s),
            None => c.ctype().to_owned(),
        });
        let hint = name
            .as_deref()
            .filter(|n| crate::detect::by_hint(n).is_some())
            .or(content_type.as_deref());
        let extracted = if depth + 1 > opts.max_depth {
            Err(IngestError::TooLarge {
                format: Format::Eml,
                what: "attachment nesting depth",
            })
        } else {
            crate::extract_at(part.contents(), hint, opts, depth + 1).map(Box::new)
        };
        attachments.push(Attachment {
            index,
            name,
            content_type,
            extracted,
        });
    }

    let (text, document) = out.finish();
    Ok(Extracted {
        attachments,
        warnings,
        ..Extracted::paged(Format::Eml, text, document)
    })
}
