//! PASSPORT: document numbers in each country's format after a passport
//! cue, and ICAO Doc 9303 TD3 machine-readable zones (check digits per
//! part 3 §4.9). The MRZ also yields the holder's name (PERSON) and birth
//! date (DATE_OF_BIRTH), per the corpus conventions.

use super::{Cand, Lang, checksum, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Z0-9]{6,9}").expect("static regex"));

/// TD3 line 2: number, check, nationality, birth date, check, sex, expiry,
/// check, optional data, check, composite check.
static MRZ2: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([A-Z0-9<]{9})([0-9])([A-Z<]{3})([0-9]{6})([0-9])[MFX<]([0-9]{6})([0-9])[A-Z0-9<]{14}[0-9<][0-9]")
        .expect("static regex")
});

/// Country formats (ICAO numbers as issued): FR 99AA99999, DE
/// C01X00T47, ES AAA999999, IT/PL/IE/FI AA9999999, NL AA99AA999, BE
/// AA999999, UK/DK 9 digits, SE 8 digits, AT A9999999, PT A999999.
fn plausible(tok: &str) -> bool {
    let digits = tok.bytes().filter(u8::is_ascii_digit).count();
    digits >= 1 && (tok.len() >= 7 || digits >= 4)
}

fn mrz(text: &str, out: &mut Vec<Cand>) {
    if !text.contains("<<") {
        return;
    }
    for c in MRZ2.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        let num = &c[1];
        let checks = [
            checksum::mrz_check(num) == Some(c[2].as_bytes()[0]),
            checksum::mrz_check(&c[4]) == Some(c[5].as_bytes()[0]),
            checksum::mrz_check(&c[6]) == Some(c[7].as_bytes()[0]),
        ];
        if checks.iter().filter(|&&x| x).count() < 2 {
            continue;
        }
        let g1 = c.get(1).map_or(m.start(), |g| g.start());
        let num_len = num.trim_end_matches('<').len();
        if num_len > 0 {
            out.push(Cand::new(EntityType::Passport, g1, g1 + num_len, 0.99).checked(Some("MRZ")));
        }
        if let Some(dob) = c.get(4) {
            out.push(
                Cand::new(EntityType::DateOfBirth, dob.start(), dob.end(), 0.97).checked(None),
            );
        }
        // Line 1 of the zone: `P<` + issuing state + names.
        let before = &text[..m.start()];
        let line1_end = before.trim_end_matches(['\n', '\r', ' ']).len();
        let line1_start = before[..line1_end].rfind('\n').map_or(0, |i| i + 1);
        let line1 = &text[line1_start..line1_end];
        if line1.len() >= 10 && line1.starts_with('P') && line1.is_ascii() {
            let name = line1[5..].trim_end_matches('<');
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'<') {
                let s = line1_start + 5;
                out.push(Cand::new(EntityType::Person, s, s + name.len(), 0.97).checked(None));
            }
        }
    }
}

/// `cues`: every passport cue in the text (`context::Keywords::passport`).
pub(crate) fn find(
    text: &str,
    lang: Option<Lang>,
    cues: &mut [(usize, usize)],
    out: &mut Vec<Cand>,
) {
    let _ = lang;
    mrz(text, out);
    let mut regions = Vec::new();
    context::regions_after(cues, text, 90, &mut regions);
    for (rs, re_) in regions {
        for m in TOKEN.find_iter(&text[rs..re_]) {
            let (s, e) = (rs + m.start(), rs + m.end());
            if !context::bounded(text, s, e) || !plausible(m.as_str()) {
                continue;
            }
            if text[e..].starts_with('<') || text[..s].ends_with(['<', '+']) {
                continue;
            }
            if !context::cue_before(&context::PASSPORT, text, s, 90) {
                continue;
            }
            // The number is the first document-like token after the cue.
            out.push(Cand::new(EntityType::Passport, s, e, 0.85));
        }
    }
}

/// Compiles this detector's automata now rather than on first use.
pub(crate) fn warm_up() {
    LazyLock::force(&TOKEN);
    LazyLock::force(&MRZ2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_specimen_mrz() {
        // ICAO Doc 9303 part 4 specimen (Utopia), check digits intact.
        let t = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10\n";
        let mut c = Vec::new();
        find(t, None, &mut context::Keywords::find(t).passport, &mut c);
        let kinds: Vec<_> = c.iter().map(|x| (x.kind, &t[x.start..x.end])).collect();
        assert!(
            kinds.contains(&(EntityType::Passport, "L898902C3")),
            "{kinds:?}"
        );
        assert!(kinds.contains(&(EntityType::DateOfBirth, "740812")));
        assert!(kinds.contains(&(EntityType::Person, "ERIKSSON<<ANNA<MARIA")));
        // Corrupt every check digit: nothing.
        let bad = t.replace("C36UTO7408122F1204159", "C35UTO7408121F1204158");
        let mut c = Vec::new();
        find(
            &bad,
            None,
            &mut context::Keywords::find(&bad).passport,
            &mut c,
        );
        assert!(
            c.iter()
                .all(|x| x.kind == EntityType::Passport && !x.validated)
                || c.is_empty()
        );
    }

    #[test]
    fn number_after_cue() {
        let t = "Document présenté : passeport n° 12AB34567.";
        let mut c = Vec::new();
        find(
            t,
            Some(Lang::Fr),
            &mut context::Keywords::find(t).passport,
            &mut c,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(&t[c[0].start..c[0].end], "12AB34567");
    }
}
