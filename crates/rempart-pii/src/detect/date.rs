//! DATE_OF_BIRTH: dates (numeric, ISO, month names in fr, de, es, it, nl,
//! en, pl, pt) that the context presents as a birth date — `né le`,
//! `geb.`, `nacido el`, `°`, `DOB`, form labels — on the same line or on
//! the line just before.

use super::{Cand, Lang, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

const MONTHS: &str = concat!(
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre|",
    "janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec|",
    "januar|jänner|jaenner|februar|märz|maerz|april|juni|juli|august|september|oktober|dezember|",
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|",
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|",
    "januari|februari|maart|mei|augustus|",
    "january|february|march|may|june|july|october|november|december|",
    "jan|feb|mar|apr|jun|jul|aug|sep|ene|dic|gen|mag|giu|lug|ago|set|ott|mrt|okt|",
    "stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|wrzesnia|października|pazdziernika|listopada|grudnia|",
    "styczeń|luty|marzec|kwiecień|maj|czerwiec|lipiec|sierpień|wrzesień|październik|listopad|grudzień|",
    "janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|dezembro"
);

static RE: LazyLock<Regex> = LazyLock::new(|| {
    let pat = format!(
        r"(?i:[0-9]{{1,2}}(?:er|st|nd|rd|th|º|\.)?[ \u{{a0}}]+(?:de[ ]+)?(?:{m})\.?(?:[ ]+de)?,?[ \u{{a0}}]+[0-9]{{4}})|(?i:(?:{m})\.?[ ]+[0-9]{{1,2}}(?:st|nd|rd|th)?,?[ ]+[0-9]{{4}})|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}|[0-9]{{1,2}}[./\-][0-9]{{1,2}}[./\-](?:[0-9]{{4}}|[0-9]{{2}})|[0-9]{{2}} [0-9]{{2}} [0-9]{{4}}|[0-9]{{1,2}}\. ?[0-9]{{1,2}}\. ?[0-9]{{4}}",
        m = MONTHS
    );
    Regex::new(&pat).expect("static regex")
});

/// Plausibility of a numeric date (day 1–31, month 1–12 in one of the two
/// orders, year 1900–2030 when four digits).
fn plausible(s: &str) -> bool {
    let nums: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    if nums.len() != 3 {
        return true; // month-name form: the regex already constrains it
    }
    let (a, b, c) = (nums[0], nums[1], nums[2]);
    if a > 1000 {
        return (1900..=2030).contains(&a) && (1..=12).contains(&b) && (1..=31).contains(&c);
    }
    let year_ok = c < 100 || (1900..=2030).contains(&c);
    year_ok
        && ((1..=31).contains(&a) && (1..=12).contains(&b)
            || (1..=12).contains(&a) && (1..=31).contains(&b))
}

/// Is there a birth cue shortly before `start` (same line, or the previous
/// line when this one holds nothing before the date)?
fn birth_context(text: &str, start: usize) -> bool {
    let line = context::line_before(text, start);
    let window = if line.len() > 60 {
        context::before(text, start, 60)
    } else {
        line
    };
    if let Some((_, end)) = context::last_cue(&context::BIRTH, window) {
        // Nothing that looks like another value between the cue and the date.
        return !window[end..].bytes().any(|b| b.is_ascii_digit());
    }
    // Label on the line above: either alone on its line, or a table header
    // whose column lines up with the date.
    let prefix = line.trim();
    if prefix.len() > 45 || start == line.len() {
        return false;
    }
    let prev_end = start - line.len() - 1;
    let prev = context::line_before(text, prev_end);
    if let Some((cs, _)) = context::last_cue(&context::BIRTH, prev) {
        if prefix.is_empty() {
            return true;
        }
        // This line has its own label: the date is that label's.
        if prefix.ends_with(':') {
            return false;
        }
        let cue_col = prev[..cs].chars().count() as isize;
        let col = line.chars().count() as isize;
        return (cue_col - col).abs() <= 12;
    }
    false
}

/// `cues`: every birth cue in the text (`context::Keywords::birth`).
pub(crate) fn find(
    text: &str,
    lang: Option<Lang>,
    cues: &mut [(usize, usize)],
    out: &mut Vec<Cand>,
) {
    let _ = lang;
    // Dates are only looked for after a birth cue (same line, or the next
    // line for a label above its value).
    let mut regions = Vec::new();
    context::regions_after(cues, text, 160, &mut regions);
    let mut done = 0;
    for (rs, re_) in regions {
        let from = rs.max(done);
        if from >= re_ {
            continue;
        }
        for m in RE.find_iter(&text[from..re_]) {
            let (s, e) = (from + m.start(), from + m.end());
            done = e;
            date_at(text, s, e, out);
        }
    }
}

fn date_at(text: &str, s: usize, e: usize, out: &mut Vec<Cand>) {
    {
        let m = &text[s..e];
        if !context::bounded(text, s, e) || !plausible(m) {
            return;
        }
        let prev = text[..s].chars().next_back();
        if matches!(prev, Some('.' | '/' | '-' | ':')) {
            return;
        }
        if birth_context(text, s) {
            out.push(Cand::new(EntityType::DateOfBirth, s, e, 0.9));
        }
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&RE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dobs(t: &str) -> Vec<&str> {
        let mut c = Vec::new();
        find(t, None, &mut context::Keywords::find(t).birth, &mut c);
        c.iter().map(|x| &t[x.start..x.end]).collect()
    }

    #[test]
    fn birth_dates_only() {
        assert_eq!(
            dobs("Mme X, née le 3 février 1984, facture du 12/05/2024"),
            vec!["3 février 1984"]
        );
        assert_eq!(dobs("Geburtsdatum: 19.06.1975"), vec!["19.06.1975"]);
        assert_eq!(
            dobs("nacido el 4 de mayo de 1990"),
            vec!["4 de mayo de 1990"]
        );
        assert_eq!(dobs("Date of birth\n21 12 1992"), vec!["21 12 1992"]);
        assert!(dobs("Rechnung vom 19.06.2024").is_empty());
    }
}
