//! ADDRESS: a street line (street type + name + house number, in each
//! country's order), extended over flat/floor details and the postcode +
//! city (same line or following lines, UK and Irish postcodes included).
//!
//! Street types are the generic words of each language — `rue`, `via`,
//! `calle`, `ul.`, `Road` before or after the name, `-straße`, `-weg`,
//! `-straat`, `-laan`, `-gade`, `-vägen` as suffixes — never a list of
//! street names, so unseen streets are found the same way.

use super::{Cand, Lang, context};
use crate::entity::EntityType;
use regex::Regex;
use std::sync::LazyLock;

/// A capitalised (or upper-case) word of a name.
const CW: &str = r"\p{Lu}[\p{L}\p{M}'’\.\-]*";
/// Lower-case particles inside street and city names.
const PART: &str = r"(?:(?i:de|del|de la|de las|de los|des|du|la|le|les|della|delle|dello|dei|degli|di|da|dal|dalla|do|dos|das|e|y|i|van|van de|van der|der|den|het|am|an|im|auf|zum|zur|of|the|sur|en|aux|au|à|sous|lès|on|upon)[ ]|(?i:d|l|dell|all|sull)['’])";
/// A house number: `12`, `12a`, `12 bis`, `24/5/7`, `2-4`.
const NUM: &str =
    r"[0-9]{1,4}[a-zA-Z]?(?:[ ](?i:bis|ter|quater))?(?:[/\-][0-9]{1,3}[a-zA-Z]?){0,2}";

/// A house number written before the street (1–3 digits, `bis`/`ter`).
const NUM_HEAD: &str = r"[0-9]{1,3}[a-zA-Z]?(?:[ ](?i:bis|ter|quater))?";

const PREFIX_TYPES: &str = r"rue|avenue|av\.|av|c\.|vial|canale|boulevard|bd|bld|blvd|place|chemin|allée|impasse|quai|route|cours|square|passage|voie|chaussée|rond-point|faubourg|sentier|promenade|esplanade|parvis|cité|hameau|calle|c/|avenida|avda\.|avd\.|paseo|plaza|pza\.|camino|carretera|ctra\.|ronda|travesía|travesia|glorieta|rambla|carrer|gran vía|gran via|vía|via|viale|piazza|piazzale|corso|largo|vicolo|contrada|strada|borgo|lungomare|lungotevere|stretto|salita|incrocio|rotonda|rua|travessa|praça|praca|estrada|alameda|calçada|beco|callejón|cuesta|pasaje|pasadizo|urbanización|acceso|cañada|ul\.|ulica|al\.|aleja|os\.|osiedle|pl\.|plac|rynek";

const SUFFIX_TYPES: &str = r"straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|steig|pfad|chaussee|markt|graben|kamp|wall|stieg|gürtel|kai|zeile|steg|hof|berg|brücke|feld|garten|anger|aue|winkel|hain|heide|bogen|straat|laan|plein|gracht|kade|singel|dijk|steeg|dreef|pad|baan|lei|boulevard|dreve|gade|vej|allé|vænget|vænge|plads|stræde|torv|vang|gatan|vägen|väg|gata|gränd|torget|stigen|backen|allén|katu|tie|kuja|polku|väylä|kaari|rinne|tori|raitti";

const EN_TYPES: &str = r"street|st\.|road|rd\.|lane|avenue|ave\.|close|drive|way|gardens|crescent|place|court|terrace|grove|hill|park|square|row|mews|walk|view|rise|green|parade|quay|wharf|villas|boulevard|circus|gate|yard|fields|meadows|vale|wynd|brae|end|lawn|heights|side|common|orchard|passage|chase|croft|approach|embankment";

static STREET: LazyLock<Regex> = LazyLock::new(|| {
    let prefix = format!(
        r"(?:{NUM_HEAD}(?:[ ]?,)?[ ])?(?-u:\b)(?i:{PREFIX_TYPES})(?:[ ]{PART}*{CW}|[ ]{PART}+{CW}){{1,6}}(?:,?[ ]{NUM})?"
    );
    let suffix = format!(
        r"(?:(?:Am|Im|An der|An den|Auf der|Auf dem|Zum|Zur|In der|In den|Unter den|Hinter der|Alte|Neue)[ ]{CW}|(?:{CW}[ ])?(?:\p{{Lu}}[\p{{L}}\-]*)?(?i:{SUFFIX_TYPES})(?:[ ](?:op|naar|auf|am|an der|bei)[ ]{CW})?|(?i:gran[ ]v[ií]a),?)[ ]{NUM}"
    );
    let english = format!(
        r"(?:(?i:flat|apartment|apt\.?|unit|suite)[ ][0-9]{{1,4}}[A-Za-z]?,[ ])?[0-9]{{1,4}}[A-Za-z]?,?[ ](?:{CW}[ ]){{1,3}}(?i:{EN_TYPES})"
    );
    context::re(&format!("{prefix}|{suffix}|{english}"))
});

const SEP: &str = r"^(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]{1,3}|[ ]?[–-][ ]?)";
const CITY: &str = r"(?:'s-|'t[ ])?\p{Lu}[\p{L}\p{M}'’\-\.]*(?:[ ](?:\p{Lu}[\p{L}\p{M}'’\-\.]*|am|an|im|upon|on|sur|en|le|la|de|del|di|der|bei|ob|in|\([\p{L}]+\))){0,3}";
const UKPC: &str =
    r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}|[AC-FHKNPRTV-Y][0-9]{2}[0-9W]?[ ][A-Z0-9]{4})";

static EXTRA: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:[0-9]{{1,2}}\.?[ºo°ª]\.?[ ]?(?i:[A-Z](?:[^\p{{L}}]|$)|izda\.?|dcha\.?|izq\.?|dto\.?|esq\.?|frente|centro)|(?i:piso)[ ][0-9]+(?:,[ ](?i:puerta)[ ][0-9]+)?|(?i:puerta)[ ][0-9]+|(?i:int\.|interno)[ ]?[0-9]+|(?i:scala)[ ][A-Z]|(?i:bte|boîte|bus)[ ][0-9]+|[0-9]\.[ ](?i:th|tv|mf)\.|(?i:st\.)|(?i:lgh)[ ][0-9]+|[A-C][ ][0-9]{{1,3}}|(?i:appt?\.?|apt\.?|bât\.?|bâtiment|étage|flat|apartment)[ ][0-9A-Z]{{1,4}})"
    ))
});

static POSTCITY: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:[A-Z]{{1,2}}-)?(?:[0-9]{{4}}[ ][A-Z]{{2}}|[0-9]{{5}}|[0-9]{{4}}-[0-9]{{3}}|[0-9]{{2}}-[0-9]{{3}}|[0-9]{{3}}[ ][0-9]{{2}}|[0-9]{{4}})[ ]{{1,2}}{CITY}"
    ))
});

static UKTAIL: LazyLock<Regex> = LazyLock::new(|| {
    context::re(&format!(
        r"{SEP}(?:{CITY}(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]))?(?:(?i:co\.)[ ]{CITY}(?:,[ ]?|[ ]*\r?\n[ \t]*|[ ]))?{UKPC}"
    ))
});

static LEADING: LazyLock<Regex> = LazyLock::new(|| {
    context::re(
        r"(?:(?i:flat|apartment|apt|unit|appt|app|bât|bâtiment)\.?[ ][0-9A-Z]{1,4}|(?i:résidence|residenza|residencia)(?:[ ]\p{L}+){1,3}),[ ]$",
    )
});

/// Extends a street line over extras and the postcode/city.
fn extend(text: &str, mut end: usize) -> (usize, bool) {
    let mut with_city = false;
    for _ in 0..4 {
        let rest = &text[end..];
        if let Some(m) = POSTCITY.find(rest) {
            end += m.end();
            with_city = true;
            break;
        }
        if let Some(m) = UKTAIL.find(rest) {
            if context::right_boundary(text, end + m.end()) {
                end += m.end();
                with_city = true;
                break;
            }
        }
        match EXTRA.find(rest) {
            Some(m) => {
                let mut e = end + m.end();
                while !text.is_char_boundary(e)
                    || text[..e].ends_with(|c: char| !c.is_alphanumeric() && c != '.')
                {
                    e -= 1;
                }
                if e <= end {
                    break;
                }
                end = e;
            }
            None => break,
        }
    }
    (end, with_city)
}

pub(crate) fn find(text: &str, lang: Option<Lang>, out: &mut Vec<Cand>) {
    let _ = lang;
    for m in STREET.find_iter(text) {
        let (mut s, mut e) = (m.start(), m.end());
        let street = m.as_str();
        if !street.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        // Trim a house-number look-ahead char the regex had to consume.
        while e > s && !text[..e].ends_with(|c: char| c.is_alphanumeric() || c == '.') {
            e -= 1;
        }
        if text[..e].ends_with('.') && !street.trim_end().ends_with(|c: char| c.is_ascii_digit()) {
            // keep abbreviations such as `St.` only
        }
        if !context::left_boundary(text, s) {
            continue;
        }
        // A street-like name in quotes is a product or listing title.
        if text[..s].ends_with(['"', '\'', '„', '“', '«', '‚', '‘']) {
            continue;
        }
        // A trailing "number" that runs on (a postcode, `2.0`) is not the
        // house number: cut back to before it.
        let runs_on = |e: usize| {
            !context::right_boundary(text, e)
                || (text[e..].starts_with(['.', ','])
                    && text[e + 1..].starts_with(|c: char| c.is_ascii_digit()))
        };
        if runs_on(e) {
            let cut = text[s..e]
                .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '-');
            let cut = cut.trim_end_matches([' ', ',']);
            e = s + cut.len();
            if e <= s || runs_on(e) || !text[s..e].starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
        }
        // No house number after a prefix type and no number before: not an
        // address ("la rue Victor Hugo").
        if !text[s..e].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.')
            && !text[s..e].starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        if let Some(lm) = LEADING.find(context::line_before(text, s)) {
            s -= lm.end() - lm.start();
        }
        let (end, with_city) = extend(text, e);
        let has_num = text[s..end].bytes().any(|b| b.is_ascii_digit());
        if !has_num {
            continue;
        }
        e = end;
        let score = if with_city { 0.95 } else { 0.8 };
        out.push(Cand::new(EntityType::Address, s, e, score));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(t: &str) -> Vec<&str> {
        let mut c = Vec::new();
        find(t, None, &mut c);
        c.iter().map(|x| &t[x.start..x.end]).collect()
    }

    #[test]
    fn street_lines_and_cities() {
        assert_eq!(
            addrs("Adresse : 12 bis, rue des Acacias, 69003 Lyon."),
            vec!["12 bis, rue des Acacias, 69003 Lyon"]
        );
        assert_eq!(
            addrs("Anschrift: Lindenstraße 4a\n10115 Berlin\nTel"),
            vec!["Lindenstraße 4a\n10115 Berlin"]
        );
        assert_eq!(
            addrs("Dirección: Calle Mayor, 5, 2º B, 28013 Madrid"),
            vec!["Calle Mayor, 5, 2º B, 28013 Madrid"]
        );
        assert_eq!(
            addrs("Adres: Dorpsstraat 9, 1234 AB Ergens"),
            vec!["Dorpsstraat 9, 1234 AB Ergens"]
        );
        assert_eq!(
            addrs("Flat 2, 7 Mill Lane, Leeds LS6 2AB"),
            vec!["Flat 2, 7 Mill Lane, Leeds LS6 2AB"]
        );
        assert_eq!(
            addrs("ul. Polna 3/4, 00-950 Warszawa"),
            vec!["ul. Polna 3/4, 00-950 Warszawa"]
        );
        assert!(addrs("Kreuzung Bahnhofstraße / Lindenweg").is_empty());
    }
}
