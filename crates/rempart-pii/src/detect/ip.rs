//! IP_ADDRESS: IPv4 dotted quads and IPv6 (RFC 4291 text forms, parsed by
//! `std::net`), skipping dotted quads that the context calls versions.

use super::{Cand, context};
use crate::entity::EntityType;
use regex::Regex;
use std::net::Ipv6Addr;
use std::sync::LazyLock;

static V4: LazyLock<context::Dense> = LazyLock::new(|| {
    context::dense(
        r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}",
    )
});
static V6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})?")
        .expect("static regex")
});

/// `chunks`: the text's [`context::digit_chunks`]; a dotted quad lies
/// inside one chunk with at least three dots.
pub(crate) fn find(text: &str, chunks: &[(usize, usize)], out: &mut Vec<Cand>) {
    for &(cs, ce) in chunks {
        if text.as_bytes()[cs..ce]
            .iter()
            .filter(|&&b| b == b'.')
            .count()
            < 3
        {
            continue;
        }
        for (ms, me) in V4.find_iter(&text[cs..ce]) {
            let (s, e) = (cs + ms, cs + me);
            let prev = text[..s].chars().next_back();
            let next = text[e..].chars().next();
            let next2 = text[e..].chars().nth(1);
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-' || c == '_')
                || next.is_some_and(|c| c.is_alphanumeric() || c == '-')
                || (next == Some('.') && next2.is_some_and(|c| c.is_ascii_digit()))
            {
                continue;
            }
            let version = context::cue_before(&context::VERSION, text, s, 30)
                || prev == Some('v')
                || prev == Some('V');
            if version {
                continue;
            }
            let score = if context::cue_before(&context::IP, text, s, 40) {
                0.95
            } else {
                0.8
            };
            out.push(Cand::new(EntityType::IpAddress, s, e, score));
        }
    }
    if v6_possible(text.as_bytes()) {
        for m in V6.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            let v = m.as_str();
            if v.len() < 6 || !context::bounded(text, s, e) {
                continue;
            }
            if v.parse::<Ipv6Addr>().is_ok() {
                out.push(Cand::new(EntityType::IpAddress, s, e, 0.95));
            }
        }
    }
}

/// Can [`V6`] match at all? Each match holds two colons with at most four
/// hex digits between them; form labels and times (`Name:`, `10:30`)
/// rarely do, and the whole-text pattern search is then skipped. Also
/// needs `::` or five colons. One pass over the colons (found by SIMD
/// `memchr`): three passes over the text cost more than the rest of the
/// detector.
fn v6_possible(b: &[u8]) -> bool {
    let (mut colons, mut double, mut close) = (0usize, false, false);
    let mut last: Option<usize> = None;
    for at in memchr::memchr_iter(b':', b) {
        colons += 1;
        if let Some(l) = last {
            double |= at == l + 1;
            close |= at - l <= 5 && b[l + 1..at].iter().all(u8::is_ascii_hexdigit);
        }
        last = Some(at);
    }
    close && (double || colons >= 5)
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&V4);
    LazyLock::force(&V6);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(t: &str, out: &mut Vec<Cand>) {
        let mut chunks = Vec::new();
        context::digit_chunks(t, &mut chunks);
        super::find(t, &chunks, out);
    }

    /// The condition `v6_possible` replaced.
    fn two_close_colons(b: &[u8]) -> bool {
        let mut last: Option<usize> = None;
        for (i, &c) in b.iter().enumerate() {
            if c != b':' {
                continue;
            }
            if let Some(l) = last
                && i - l <= 5
                && b[l + 1..i].iter().all(u8::is_ascii_hexdigit)
            {
                return true;
            }
            last = Some(i);
        }
        false
    }

    #[test]
    fn v6_gate_is_the_old_condition() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"::::0a9fx .";
        for _ in 0..20_000 {
            let mut w = Vec::new();
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                w.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let t = std::str::from_utf8(&w).unwrap();
            let old = (t.contains("::") || w.iter().filter(|&&b| b == b':').count() >= 5)
                && two_close_colons(&w);
            assert_eq!(v6_possible(&w), old, "{t:?}");
        }
    }

    #[test]
    fn v4_v6_and_versions() {
        let mut c = Vec::new();
        find(
            "login depuis 192.168.10.4 puis 2001:db8::8a2e:370:7334.",
            &mut c,
        );
        assert_eq!(c.len(), 2);
        let mut c = Vec::new();
        find("Version de l'app 10.13.9.220 installée", &mut c);
        assert!(c.is_empty());
        let mut c = Vec::new();
        find("à 10:30:00", &mut c);
        assert!(c.is_empty());
    }
}
