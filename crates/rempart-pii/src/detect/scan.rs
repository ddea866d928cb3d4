//! The JSONL line format of `rempart pii scan` (DESIGN.md, "PII scan CLI").
//!
//! Input line: `{"id", "text", "lang"?}`. Output line: `{"id", "entities":
//! [{"type", "subtype"?, "start", "end", "score"}]}` with offsets counted in
//! Unicode scalar values (Python `str` indices), end exclusive.

use super::{Detector, Lang};
use crate::entity::Entity;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Why a JSONL line could not be scanned. The message names the problem and
/// a position, never the text or a detected value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanError {
    /// The line is not valid JSON (position in the line, 1-based column).
    Json {
        /// Column of the error.
        column: usize,
    },
    /// The line is JSON but not an object with a string `text` and an
    /// `id`.
    Shape {
        /// The field that is missing or has the wrong type.
        field: &'static str,
    },
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Json { column } => write!(f, "invalid JSON at column {column}"),
            ScanError::Shape { field } => {
                write!(f, "field `{field}` is missing or has the wrong type")
            }
        }
    }
}

impl std::error::Error for ScanError {}

#[derive(Deserialize)]
struct Line<'a> {
    id: Option<serde_json::Value>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    lang: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct OutEntity {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtype: Option<&'static str>,
    start: usize,
    end: usize,
    score: f32,
}

#[derive(Serialize)]
struct Out<'a> {
    id: &'a serde_json::Value,
    entities: Vec<OutEntity>,
}

/// Converts byte offsets of `entities` (sorted by start, on char
/// boundaries of `text`) to char offsets, in place, in one pass.
pub fn byte_to_char_offsets(text: &str, entities: &mut [Entity]) {
    // Each offset becomes the number of chars before it. Offsets already
    // in order (what `detect` returns: sorted, non-overlapping) are
    // converted in one forward pass, without sorting them first.
    let ordered = entities.iter().all(|e| e.start <= e.end)
        && entities.windows(2).all(|w| w[0].end <= w[1].start);
    if ordered {
        let (mut chars, mut pos) = (0usize, 0usize);
        let mut at = |byte: usize| {
            let byte = byte.min(text.len());
            chars += char_count(&text[pos..byte]);
            pos = byte;
            chars
        };
        for e in entities.iter_mut() {
            e.start = at(e.start);
            e.end = at(e.end);
        }
        return;
    }
    let mut points: Vec<(usize, usize, bool)> = Vec::with_capacity(entities.len() * 2);
    for (i, e) in entities.iter().enumerate() {
        points.push((e.start, i, true));
        points.push((e.end, i, false));
    }
    points.sort_unstable();
    let mut chars = 0usize;
    let mut pos = 0usize;
    for (byte, i, is_start) in points {
        let byte = byte.min(text.len());
        if byte > pos {
            chars += text[pos..byte].chars().count();
            pos = byte;
        }
        if is_start {
            entities[i].start = chars;
        } else {
            entities[i].end = chars;
        }
    }
}

/// `s.chars().count()`: the chars of valid UTF-8 are its bytes that are
/// not continuation bytes (`10xxxxxx`, below -64 as `i8`), counted in `u8`
/// lanes over blocks of 255 bytes (a reduction the compiler vectorises).
fn char_count(s: &str) -> usize {
    s.as_bytes()
        .chunks(255)
        .map(|block| {
            let n = block
                .iter()
                .fold(0u8, |n, &c| n.wrapping_add(u8::from(c as i8 >= -64)));
            usize::from(n)
        })
        .sum()
}

/// Scans one JSONL input line and returns the output line (without a
/// trailing newline). An unknown `lang` is treated as absent.
pub fn scan_line(detector: &Detector, line: &str) -> Result<String, ScanError> {
    match read_line(line) {
        Some(fast) => Ok(scan_fast(detector, &fast)),
        None => scan_line_serde(detector, line),
    }
}

/// [`scan_line`] through serde_json: the reference, and the path for every
/// line [`read_line`] leaves to it (errors included).
fn scan_line_serde(detector: &Detector, line: &str) -> Result<String, ScanError> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| {
        if e.is_data() {
            ScanError::Shape { field: "text" }
        } else {
            ScanError::Json { column: e.column() }
        }
    })?;
    let id = parsed.id.ok_or(ScanError::Shape { field: "id" })?;
    let text = parsed.text.ok_or(ScanError::Shape { field: "text" })?;
    let lang = parsed.lang.as_deref().and_then(Lang::from_code);
    let mut ents = detector.detect(&text, lang);
    byte_to_char_offsets(&text, &mut ents);
    let out = Out {
        id: &id,
        entities: ents
            .iter()
            .map(|e| OutEntity {
                kind: e.kind.as_str(),
                subtype: e.subtype,
                start: e.start,
                end: e.end,
                score: (e.score * 1000.0).round() / 1000.0,
            })
            .collect(),
    };
    serde_json::to_string(&out).map_err(|_| ScanError::Shape { field: "id" })
}

/// A line read by [`read_line`]: `id` as its raw JSON, `text` and `lang`
/// decoded.
struct FastLine<'a> {
    id: &'a str,
    text: Cow<'a, str>,
    lang: Option<Cow<'a, str>>,
}

/// Reads a JSONL line in one pass: validates it, keeps the raw `id`,
/// decodes `text` (and `lang`) as it goes and skips every other field.
/// `None` for anything it does not read exactly as serde_json would: an
/// array instead of an object, an escaped key, a `\u` escape in `text` or
/// `lang`, a missing or null `id`, a `text` or `lang` that is not a string,
/// a repeated field, nesting deeper than 64, and any invalid JSON. Those
/// lines go through serde_json, which also words the errors. (serde_json
/// cost ~48 instructions per byte of text on the labelled corpus, whose
/// entity arrays are many short tokens; this reader a fraction of that.)
fn read_line(line: &str) -> Option<FastLine<'_>> {
    let mut r = Reader {
        b: line.as_bytes(),
        i: 0,
    };
    let (mut id, mut text, mut lang) = (None, None, None);
    r.ws();
    if !r.eat(b'{') {
        return None;
    }
    r.ws();
    if !r.eat(b'}') {
        loop {
            r.ws();
            let (ks, ke, kesc) = r.string()?;
            if kesc {
                return None;
            }
            r.ws();
            if !r.eat(b':') {
                return None;
            }
            r.ws();
            match &line[ks..ke] {
                "id" => {
                    let vs = r.i;
                    r.value(64)?;
                    if id.is_some() || &line[vs..r.i] == "null" {
                        return None;
                    }
                    id = Some(&line[vs..r.i]);
                }
                "text" => {
                    if text.is_some() {
                        return None;
                    }
                    text = Some(r.decoded(line)?);
                }
                "lang" => {
                    if lang.is_some() {
                        return None;
                    }
                    lang = Some(r.decoded(line)?);
                }
                _ => r.value(64)?,
            }
            r.ws();
            if r.eat(b',') {
                continue;
            }
            if r.eat(b'}') {
                break;
            }
            return None;
        }
    }
    r.ws();
    if r.i != r.b.len() {
        return None;
    }
    Some(FastLine {
        id: id?,
        text: text?,
        lang,
    })
}

/// A byte cursor over a JSON line; every method returns `None` on bytes it
/// does not accept.
struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    /// Skips JSON whitespace.
    #[inline(always)]
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    /// A string at the cursor: its content's byte range and whether it
    /// holds an escape (each checked: `\u` needs four hex digits); a raw
    /// control character is an error, as in JSON.
    ///
    /// Short strings (keys, the entity arrays' values) end within the
    /// first eight or sixteen bytes: those are read inline, without the
    /// general loop and its setup.
    #[inline(always)]
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        for k in [0, 8] {
            let Some(w) = self.b.get(start + k..start + k + 8) else {
                break;
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            let hit = special_mask(u64::from_le_bytes(a));
            if hit != 0 {
                let p = start + k + (hit.trailing_zeros() / 8) as usize;
                if self.b[p] != b'"' {
                    break;
                }
                self.i = p + 1;
                return Some((start, p, false));
            }
        }
        self.i = start;
        self.string_rest(start)
    }

    /// [`Reader::string`] past its opening quote at `start - 1`.
    #[inline(never)]
    fn string_rest(&mut self, start: usize) -> Option<(usize, usize, bool)> {
        let mut escaped = false;
        loop {
            let p = self.i + next_special(&self.b[self.i..])?;
            match self.b[p] {
                b'"' => {
                    self.i = p + 1;
                    return Some((start, p, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match self.b.get(p + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i = p + 2,
                        b'u' => {
                            if !self.b.get(p + 2..p + 6)?.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i = p + 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// A string at the cursor, decoded in the pass that checks it
    /// (borrowed when it has no escape); `None` for a `\\u` escape (left
    /// to serde_json and its surrogate rules) or anything that is not a
    /// string.
    fn decoded<'a>(&mut self, line: &'a str) -> Option<Cow<'a, str>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let mut out: Option<String> = None;
        // Start of the bytes not yet copied to `out`.
        let mut copied = start;
        loop {
            // The next quote or backslash (SIMD), then no control
            // character before it: the first special byte, as
            // `next_special` finds it, in fewer instructions on long text.
            let rest = &self.b[self.i..];
            let q = memchr::memchr2(b'"', b'\\', rest)?;
            if has_control(&rest[..q]) {
                return None;
            }
            let p = self.i + q;
            match self.b[p] {
                b'"' => {
                    self.i = p + 1;
                    return Some(match out {
                        None => Cow::Borrowed(&line[start..p]),
                        Some(mut o) => {
                            o.push_str(&line[copied..p]);
                            Cow::Owned(o)
                        }
                    });
                }
                b'\\' => {
                    let c = match self.b.get(p + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => return None,
                    };
                    let o = out.get_or_insert_with(|| String::with_capacity(self.b.len() - start));
                    o.push_str(&line[copied..p]);
                    o.push(c);
                    self.i = p + 2;
                    copied = self.i;
                }
                _ => return None,
            }
        }
    }

    /// Skips one JSON value; `depth` nested arrays or objects at most. One
    /// loop over a stack of the open brackets (a recursive descent spent
    /// more on calls than on bytes: the labelled lines' entity arrays are
    /// many short tokens).
    fn value(&mut self, depth: usize) -> Option<()> {
        let mut open = [0u8; 64];
        let depth = depth.min(open.len());
        let mut n = 0;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.string()?;
                }
                c @ (b'{' | b'[') => {
                    self.i += 1;
                    self.ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if n == depth {
                            return None;
                        }
                        open[n] = close;
                        n += 1;
                        if close == b'}' {
                            self.member()?;
                        }
                        continue;
                    }
                }
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                b'n' => self.word(b"null")?,
                _ => self.number()?,
            }
            // After a value: closing brackets, or a comma and the next one.
            loop {
                if n == 0 {
                    return Some(());
                }
                self.ws();
                let c = *self.b.get(self.i)?;
                self.i += 1;
                if c == open[n - 1] {
                    n -= 1;
                    continue;
                }
                if c != b',' {
                    return None;
                }
                self.ws();
                if open[n - 1] == b'}' {
                    self.member()?;
                }
                break;
            }
        }
    }

    /// An object member's key and colon, up to its value.
    #[inline(always)]
    fn member(&mut self) -> Option<()> {
        self.string()?;
        self.ws();
        if !self.eat(b':') {
            return None;
        }
        self.ws();
        Some(())
    }

    #[inline(always)]
    fn word(&mut self, w: &[u8]) -> Option<()> {
        if !self.b[self.i..].starts_with(w) {
            return None;
        }
        self.i += w.len();
        Some(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline(always)]
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.') {
            if !self.b.get(self.i)?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.b.get(self.i)?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        Some(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}

/// The high bit of each byte of `x` (little-endian) that is `"`, `\\` or
/// a control character (below 0x20), and possibly of bytes after the first
/// such byte: the lowest set bit is exact.
#[inline(always)]
fn special_mask(x: u64) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HI;
    // A byte below 0x20: adding 0x60 to its low seven bits leaves the
    // high bit clear, and carries nothing across bytes. A byte equal to
    // `"` or `\\`: a zero byte of the xor (`zero_in` may also flag a
    // byte after a true hit, through its borrow, never one before it,
    // so the lowest flag is exact).
    let low = !(((x & !HI) + ONES * 0x60) | x) & HI;
    low | zero_in(x ^ (ONES * u64::from(b'"'))) | zero_in(x ^ (ONES * u64::from(b'\\')))
}

/// Whether `b` holds a control character (below 0x20): its smallest byte,
/// a reduction the compiler vectorises.
fn has_control(b: &[u8]) -> bool {
    b.iter().fold(u8::MAX, |m, &c| m.min(c)) < 0x20
}

/// Offset of the first `"`, `\\` or control character (below 0x20) in `b`,
/// eight bytes at a time.
fn next_special(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let hit = special_mask(u64::from_le_bytes(w));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

/// [`scan_line`] on a line [`read_line`] read: the output serde_json would
/// write, byte for byte.
fn scan_fast(detector: &Detector, line: &FastLine<'_>) -> String {
    let text = &*line.text;
    let lang = line.lang.as_deref().and_then(Lang::from_code);
    let mut ents = detector.detect(text, lang);
    byte_to_char_offsets(text, &mut ents);
    let mut out: Vec<u8> = Vec::with_capacity(32 + line.id.len() + ents.len() * 64);
    out.extend_from_slice(b"{\"id\":");
    // A string id without escapes is written back as it came (serde_json
    // escapes only quotes, backslashes and control characters, which such
    // a string cannot hold); anything else goes through a `Value`.
    let b = line.id.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && !b[1..b.len() - 1].contains(&b'\\') {
        out.extend_from_slice(b);
    } else {
        let v: serde_json::Value = serde_json::from_str(line.id).unwrap_or_default();
        let _ = serde_json::to_writer(&mut out, &v);
    }
    out.extend_from_slice(b",\"entities\":[");
    for (k, e) in ents.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(TYPE_PREFIX[e.kind as usize].as_bytes());
        if let Some(sub) = e.subtype {
            out.extend_from_slice(b",\"subtype\":");
            json_str(&mut out, sub);
        }
        out.extend_from_slice(b",\"start\":");
        decimal(&mut out, e.start);
        out.extend_from_slice(b",\"end\":");
        decimal(&mut out, e.end);
        out.extend_from_slice(b",\"score\":");
        let score = (e.score * 1000.0).round() / 1000.0;
        let _ = serde_json::to_writer(&mut out, &score);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    String::from_utf8(out).unwrap_or_default()
}

/// `{"type":"KIND"` for each [`EntityType`], by discriminant (its name
/// written by [`json_str`] once, not per entity).
static TYPE_PREFIX: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let mut v = vec![String::new(); crate::EntityType::ALL.len()];
    for t in crate::EntityType::ALL {
        let mut out = b"{\"type\":".to_vec();
        json_str(&mut out, t.as_str());
        v[t as usize] = String::from_utf8(out).unwrap_or_default();
    }
    v
});

/// A JSON string: written as is when nothing in it needs an escape.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| c < 0x20 || c == b'"' || c == b'\\') {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// `n` in decimal.
fn decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass reader answers every line as serde_json does: same
    /// output, or the same error (lines it does not take go to serde_json).
    #[test]
    fn fast_reader_matches_serde() {
        let d = Detector::new();
        let lines = [
            r#"{"id":"a","text":"Tel. 06 12 34 56 78, jean@example.org"}"#,
            r#"  {"id" : "a" , "text" : "x\ny\t\"q\"\\ \/ \b\f\r", "lang" : "fr"}  "#,
            r#"{"id":"a","text":"caf\u00e9 M. Dupont","lang":"fr"}"#,
            r#"{"id":"a\"b","text":"M. Dupont"}"#,
            r#"{"id":"a\u0041","text":"M. Dupont"}"#,
            r#"{"id":7,"text":"rien","lang":"xx"}"#,
            r#"{"id":1.50e1,"text":"rien"}"#,
            r#"{"id":-0,"text":"rien"}"#,
            r#"{"id":[1,{"a":null}],"text":"rien"}"#,
            r#"{"id":null,"text":"rien"}"#,
            r#"{"text":"rien"}"#,
            r#"{"id":"a"}"#,
            r#"{"id":"a","text":null}"#,
            r#"{"id":"a","text":42}"#,
            r#"{"id":"a","text":"x","lang":null}"#,
            r#"{"id":"a","text":"x","lang":5}"#,
            r#"{"id":"a","text":"x","text":"y"}"#,
            r#"{"id":"a","id":"b","text":"x"}"#,
            r#"{"id":"a","te\u0078t":"x"}"#,
            r#"{"id":"a","text":"x","entities":[{"type":"PERSON","start":0,"end":1,"ok":true,"no":false,"n":null,"f":-1.5E-3}],"kind":"k"}"#,
            r#"{"id":"a","text":"x","e":[1,]}"#,
            r#"{"id":"a","text":"x","e":01}"#,
            r#"{"id":"a","text":"x","e":1.}"#,
            r#"{"id":"a","text":"x","e":"\x"}"#,
            r#"{"id":"a","text":"x","e":"\u12"}"#,
            r#"{"id":"a","text":"x","e":tru}"#,
            r#"{"id":"a","text":"x",}"#,
            r#"{"id":"a","text":"x"} x"#,
            r#"{"id":"a","text":"x""#,
            "{\"id\":\"a\",\"text\":\"raw\ttab\"}",
            r#"["a","x"]"#,
            r#"{}"#,
            r#"{"id":"a","text":"x","deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            r#"{"id":"é€","text":"Herr Müller, Tel. +49 30 1234567 “x” ü"}"#,
        ];
        for line in lines {
            assert_eq!(scan_line(&d, line), scan_line_serde(&d, line), "{line}");
        }
    }

    /// Lines assembled at random from valid and broken JSON pieces: the
    /// one-pass reader and serde_json agree on every one.
    #[test]
    fn fast_reader_matches_serde_on_random_lines() {
        let d = Detector::new();
        let ids = [r#""a1""#, "7", "-0.5e+3", r#""a\"b""#, "[1,2]", "null"];
        let texts = [
            r#""M. Dupont\n06 12 34 56 78""#,
            r#""\"q\" \\ \/ \t Herr Müller""#,
            r#""jean@example.org, IBAN DE89 3704 0044 0532 0130 00""#,
            r#""caf\u00e9""#,
            "42",
            "null",
        ];
        let langs = [r#""fr""#, r#""de-AT""#, r#""xx""#, "null", "5"];
        let extras = [
            r#"[1,{"a":[null,"b",true,false]}]"#,
            r#"{"k":"v","n":{"m":[]}}"#,
            "-12.5E-3",
            r#""ok\n""#,
            "[]",
            "{}",
        ];
        let broken = [
            "01",
            "1.",
            "fals",
            "[1,]",
            r#"{"k" "v"}"#,
            r#""bad \x""#,
            "\"tab\there\"",
            r#""\u12""#,
            "{",
            "]",
        ];
        let mut next = crate::detect::test_rng(0x2545_f491_4f6c_dd1d);
        let (mut fast, mut errors) = (0, 0);
        for _ in 0..3000 {
            let mut fields: Vec<(String, String)> = Vec::new();
            if next(10) > 0 {
                fields.push((r#""id""#.into(), ids[next(ids.len())].into()));
            }
            if next(10) > 0 {
                fields.push((r#""text""#.into(), texts[next(texts.len())].into()));
            }
            if next(2) == 0 {
                fields.push((r#""lang""#.into(), langs[next(langs.len())].into()));
            }
            for _ in 0..next(3) {
                let key = [r#""entities""#, r#""kind""#, r#""te\u0078t""#, r#""id""#][next(4)];
                fields.push((key.into(), extras[next(extras.len())].into()));
            }
            // Shuffle a little, and sometimes break one value.
            if fields.len() > 1 {
                let k = next(fields.len());
                fields.swap(0, k);
            }
            if !fields.is_empty() && next(4) == 0 {
                let k = next(fields.len());
                fields[k].1 = broken[next(broken.len())].into();
            }
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}{}{v}", [":", ": ", " :"][next(3)]))
                .collect();
            let line = format!(
                "{}{{{}}}{}",
                [" ", ""][next(2)],
                body.join(", "),
                ["", " ", " x"][next(3)]
            );
            let got = scan_line(&d, &line);
            assert_eq!(got, scan_line_serde(&d, &line), "{line}");
            fast += usize::from(read_line(&line).is_some());
            errors += usize::from(got.is_err());
        }
        // Both paths were exercised.
        assert!(fast > 150 && errors > 300, "{fast} {errors}");
    }

    #[test]
    fn char_count_counts_chars() {
        let t = "aé€😀 Zürich “x” ñ\u{10ffff}abcdefgh";
        for i in (0..=t.len()).filter(|&i| t.is_char_boundary(i)) {
            for j in (i..=t.len()).filter(|&j| t.is_char_boundary(j)) {
                assert_eq!(char_count(&t[i..j]), t[i..j].chars().count());
            }
        }
    }

    #[test]
    fn next_special_finds_the_first() {
        let t = "ab€“ cd\u{1}é\"x\\";
        for from in 0..t.len() {
            let want = t.as_bytes()[from..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            assert_eq!(next_special(&t.as_bytes()[from..]), want);
        }
    }
}
