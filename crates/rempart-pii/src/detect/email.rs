//! EMAIL: `local@domain.tld` (RFC 5322 dot-atom subset that people write).

use super::{Cand, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

static RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
        .expect("static regex")
});

pub(crate) fn find(text: &str, out: &mut Vec<Cand>) {
    if memchr::memchr(b'@', text.as_bytes()).is_none() {
        return;
    }
    for m in RE.find_iter(text) {
        let (mut s, e) = (m.start(), m.end());
        while s < e && text.as_bytes()[s] == b'.' {
            s += 1;
        }
        if !context::left_boundary(text, s) && !text[..s].ends_with(':') {
            continue;
        }
        out.push(Cand::new(EntityType::Email, s, e, 0.99).checked(None));
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&RE);
}
