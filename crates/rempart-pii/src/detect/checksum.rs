//! Check-digit validators, one per published scheme.
//!
//! Every function takes the *compact* form (separators already removed,
//! ASCII upper case) and answers `true` only when the length, the alphabet
//! and the check digit(s) are all right. Each cites the rule it implements.

/// Digits of an ASCII string, or `None` if any byte is not a digit.
fn digits(s: &str) -> Option<Digits> {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = |c: &u8| u32::from(c - b'0');
    if b.len() > INLINE {
        return Some(Digits::Heap(b.iter().map(value).collect()));
    }
    let mut d = [0; INLINE];
    for (x, c) in d.iter_mut().zip(b) {
        *x = value(c);
    }
    Some(Digits::Inline(d, b.len()))
}

/// Digits kept inline: every scheme is shorter.
const INLINE: usize = 24;

/// The digit values of an all-digit string, without a heap allocation for
/// the lengths identifiers have (the allocation cost more than the checks).
enum Digits {
    Inline([u32; INLINE], usize),
    Heap(Vec<u32>),
}

impl Default for Digits {
    fn default() -> Self {
        Digits::Inline([0; INLINE], 0)
    }
}

impl std::ops::Deref for Digits {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        match self {
            Digits::Inline(d, n) => &d[..*n],
            Digits::Heap(v) => v,
        }
    }
}

fn num(s: &str) -> u64 {
    s.bytes()
        .fold(0u64, |acc, b| acc.wrapping_mul(10) + u64::from(b - b'0'))
}

/// `dd`/`mm` form a plausible calendar day (year-agnostic, 29 Feb allowed).
pub(crate) fn valid_day_month(day: u32, month: u32) -> bool {
    let max = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return false,
    };
    (1..=max).contains(&day)
}

/// Luhn (ISO/IEC 7812-1 annex B): payment cards, SE personnummer.
pub fn luhn(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() < 2 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN check digits, ISO 13616-1 (move the first four characters to the
/// end, letters to 10..35, the number mod 97 must be 1).
pub fn iban_mod97(s: &str) -> bool {
    if s.len() < 5
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    let (head, tail) = s.split_at(4);
    let mut r: u32 = 0;
    for b in tail.bytes().chain(head.bytes()) {
        if b.is_ascii_digit() {
            r = (r * 10 + u32::from(b - b'0')) % 97;
        } else {
            let v = u32::from(b - b'A') + 10;
            r = (r * 100 + v) % 97;
        }
    }
    r == 1
}

/// FR NIR (numéro de sécurité sociale, INSEE): 13 characters + 2-digit key,
/// key = 97 − (n mod 97); for Corsica the department `2A`/`2B` is read as
/// `19`/`18` (INSEE, "Le numéro d'inscription au répertoire").
pub fn fr_nir(s: &str) -> bool {
    if s.len() != 15 || !s.is_ascii() {
        return false;
    }
    let body = match &s[5..7] {
        "2A" => format!("{}19{}", &s[..5], &s[7..13]),
        "2B" => format!("{}18{}", &s[..5], &s[7..13]),
        _ => s[..13].to_string(),
    };
    if digits(&body).is_none() || digits(&s[13..]).is_none() {
        return false;
    }
    if !matches!(s.as_bytes()[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let month = num(&s[3..5]);
    if !(1..=12).contains(&month) && !(20..=42).contains(&month) && month != 99 {
        return false;
    }
    let key = num(&s[13..]);
    key == 97 - num(&body) % 97
}

/// ISO 7064 MOD 11,10 check digit over the digits of `d` (all but last).
fn mod_11_10_ok(d: &[u32]) -> bool {
    let (body, check) = d.split_at(d.len() - 1);
    let mut p = 10;
    for &x in body {
        let mut s = (x + p) % 10;
        if s == 0 {
            s = 10;
        }
        p = (s * 2) % 11;
    }
    (11 - p) % 10 == check[0]
}

/// DE Steuerliche Identifikationsnummer (§ 139b AO): 11 digits, no leading
/// zero; in the first ten exactly one digit occurs twice or three times,
/// all others at most once; check digit ISO 7064 MOD 11,10.
pub fn de_idnr(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let multi: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if multi.len() != 1 || !(2..=3).contains(&multi[0]) {
        return false;
    }
    mod_11_10_ok(&d)
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// ES DNI (Real Decreto 1553/2005): 8 digits + letter = table[n mod 23].
pub fn es_dni(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || digits(&s[..8]).is_none() {
        return false;
    }
    DNI_LETTERS[(num(&s[..8]) % 23) as usize] == b[8]
}

/// ES NIE: `X`/`Y`/`Z` (read as 0/1/2) + 7 digits + DNI letter.
pub fn es_nie(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || digits(&s[1..8]).is_none() {
        return false;
    }
    let lead = match b[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return false,
    };
    let n = lead * 10_000_000 + num(&s[1..8]);
    DNI_LETTERS[(n % 23) as usize] == b[8]
}

/// IT codice fiscale (D.M. 23/12/1976): 16 characters, check character from
/// the odd/even tables; digits in positions 7,8,10,11,13,14,15 may be
/// replaced by `LMNPQRSTUV` (omocodia).
pub fn it_cf(s: &str) -> bool {
    const ODD: [u32; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    const OMO: &[u8] = b"LMNPQRSTUV";
    let b = s.as_bytes();
    if b.len() != 16
        || !b
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return false;
    }
    let numeric = [6usize, 7, 9, 10, 12, 13, 14];
    for (i, &c) in b.iter().enumerate() {
        let ok = if numeric.contains(&i) {
            c.is_ascii_digit() || OMO.contains(&c)
        } else {
            c.is_ascii_uppercase()
        };
        if !ok {
            return false;
        }
    }
    if !b"ABCDEHLMPRST".contains(&b[8]) {
        return false;
    }
    let dd = |c: u8| -> u32 {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            OMO.iter().position(|&o| o == c).unwrap_or(0) as u32
        }
    };
    let day = (dd(b[9]) * 10 + dd(b[10])) % 40;
    if !(1..=31).contains(&day) {
        return false;
    }
    let mut sum = 0;
    for (i, &c) in b[..15].iter().enumerate() {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A')
        };
        sum += if i % 2 == 0 { ODD[v as usize] } else { v };
    }
    b[15] == b'A' + (sum % 26) as u8
}

/// NL BSN (Burgerservicenummer), "elfproef": Σ dᵢ·(9..2) − d₉ ≡ 0 (mod 11).
pub fn nl_bsn(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 9 || d.iter().all(|&x| x == 0) {
        return false;
    }
    let sum: i64 = d[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(&x, w)| i64::from(x) * w)
        .sum::<i64>()
        - i64::from(d[8]);
    sum % 11 == 0
}

/// BE Rijksregisternummer / numéro de registre national: YYMMDD + 3-digit
/// serial + 2-digit check = 97 − (n mod 97), with `2` prefixed to the nine
/// digits for people born from 2000 (Arrêté royal du 3 avril 1984).
pub fn be_nrn(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 11 {
        return false;
    }
    let body = num(&s[..9]);
    let check = num(&s[9..]);
    let month = num(&s[2..4]);
    if month > 12 {
        return false;
    }
    check == 97 - body % 97 || check == 97 - (2_000_000_000 + body) % 97
}

/// PL PESEL (Ustawa o ewidencji ludności): weights 1,3,7,9 repeating, check
/// = (10 − Σ mod 10) mod 10; month carries the century (+20 for 2000s, ...).
pub fn pl_pesel(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 11 {
        return false;
    }
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10].iter().zip(W).map(|(x, w)| x * w).sum();
    if (10 - sum % 10) % 10 != d[10] {
        return false;
    }
    let month = (d[2] * 10 + d[3]) % 20;
    valid_day_month(d[4] * 10 + d[5], month)
}

/// UK National Insurance number (HMRC NIM39110): two prefix letters (not
/// D F I Q U V; second not O; not BG GB KN NK NT TN ZZ), six digits, suffix
/// A–D.
pub fn uk_nino(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 9 || digits(&s[2..8]).is_none() {
        return false;
    }
    let (p1, p2) = (b[0], b[1]);
    if !p1.is_ascii_uppercase() || !p2.is_ascii_uppercase() {
        return false;
    }
    if b"DFIQUV".contains(&p1) || b"DFIQUVO".contains(&p2) {
        return false;
    }
    if matches!(&s[..2], "BG" | "GB" | "KN" | "NK" | "NT" | "TN" | "ZZ") {
        return false;
    }
    matches!(b[8], b'A'..=b'D')
}

/// UK NHS number (NHS Data Dictionary): weights 10..2, check = 11 − Σ mod 11,
/// 11 → 0, 10 is invalid.
pub fn uk_nhs(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let c = 11 - sum % 11;
    let c = if c == 11 { 0 } else { c };
    c != 10 && c == d[9]
}

/// PT Cartão de Cidadão (Portaria 1178/2006 / ICAO-like): 9-digit civil
/// number (its own mod-11 check) + 2 version letters + check digit computed
/// Luhn-style over the base-36 values.
pub fn pt_cc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 12 || digits(&s[..9]).is_none() || !b[11].is_ascii_digit() {
        return false;
    }
    if !b[9].is_ascii_alphanumeric() || !b[10].is_ascii_alphanumeric() {
        return false;
    }
    let val = |c: u8| -> u32 {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        }
    };
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let v = val(c);
            if i % 2 == 1 {
                let y = v * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// SE personnummer (Skatteverket SKV 704): YYMMDD + 3-digit serial + Luhn
/// check over the ten digits; day + 60 for coordination numbers.
pub fn se_pnr(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 10 {
        return false;
    }
    let day = (d[4] * 10 + d[5]) % 60;
    valid_day_month(day, d[2] * 10 + d[3]) && luhn(s)
}

/// FI henkilötunnus (Väestörekisterikeskus): DDMMYY, century sign, 3-digit
/// individual number, check character = table[DDMMYYNNN mod 31].
pub fn fi_hetu(s: &str) -> bool {
    const T: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let b = s.as_bytes();
    if b.len() != 11 || digits(&s[..6]).is_none() || digits(&s[7..10]).is_none() {
        return false;
    }
    if !b"+-ABCDEFUVWXY".contains(&b[6]) {
        return false;
    }
    if !valid_day_month(num(&s[..2]) as u32, num(&s[2..4]) as u32) {
        return false;
    }
    let n = num(&s[..6]) * 1000 + num(&s[7..10]);
    T[(n % 31) as usize] == b[10]
}

/// DK CPR-nummer: DDMMYY + 4 digits. The mod-11 check was abandoned in 2007
/// (CPR-kontoret), so only the date is checked; the caller needs context.
/// Returns `Some(mod11_ok)` when the date part is plausible.
pub fn dk_cpr(s: &str) -> Option<bool> {
    let d = digits(s)?;
    if d.len() != 10 || !valid_day_month(d[0] * 10 + d[1], d[2] * 10 + d[3]) {
        return None;
    }
    const W: [u32; 10] = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
    Some(d.iter().zip(W).map(|(x, w)| x * w).sum::<u32>() % 11 == 0)
}

/// IE PPS number (Revenue): 7 digits + check letter + optional letter;
/// check = "WABCDEFGHIJKLMNOPQRSTUV"[(Σ dᵢ·(8..2) + 9·v(second letter)) mod 23].
pub fn ie_pps(s: &str) -> bool {
    const A: &[u8; 23] = b"WABCDEFGHIJKLMNOPQRSTUV";
    let b = s.as_bytes();
    if !(8..=9).contains(&b.len()) || digits(&s[..7]).is_none() {
        return false;
    }
    let mut sum: u32 = digits(&s[..7])
        .unwrap_or_default()
        .iter()
        .zip((2..=8).rev())
        .map(|(x, w)| x * w)
        .sum();
    if b.len() == 9 {
        if !b"ABHWTX".contains(&b[8]) {
            return false;
        }
        if b"ABH".contains(&b[8]) {
            sum += 9 * A.iter().position(|&c| c == b[8]).unwrap_or(0) as u32;
        }
    }
    A[(sum % 23) as usize] == b[7]
}

/// AT Sozialversicherungsnummer (Hauptverband): 3-digit serial, check digit,
/// DDMMYY; check = Σ dᵢ·(3,7,9,–,5,8,4,2,1,6) mod 11 (10 never issued).
pub fn at_svnr(s: &str) -> bool {
    let Some(d) = digits(s) else { return false };
    if d.len() != 10 || d[0] == 0 {
        return false;
    }
    const W: [u32; 10] = [3, 7, 9, 0, 5, 8, 4, 2, 1, 6];
    let c = d.iter().zip(W).map(|(x, w)| x * w).sum::<u32>() % 11;
    c == d[3] && (valid_day_month(d[4] * 10 + d[5], d[6] * 10 + d[7]) || d[6] * 10 + d[7] > 12)
}

/// ICAO Doc 9303 part 3 §4.9 check digit: weights 7,3,1; `<` = 0, A = 10.
pub fn mrz_check(s: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in s.bytes().enumerate() {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'<' => 0,
            _ => return None,
        };
        sum += v * [7, 3, 1][i % 3];
    }
    Some((sum % 10) as u8 + b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid number by brute-forcing the last digit(s): the tests
    /// then flip a digit to get an invalid look-alike.
    fn flip_last(s: &str) -> String {
        let mut b = s.as_bytes().to_vec();
        let last = b.len() - 1;
        b[last] = if b[last] == b'9' {
            b'0'
        } else if b[last].is_ascii_digit() {
            b[last] + 1
        } else if b[last] == b'Z' {
            b'A'
        } else {
            b[last] + 1
        };
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn luhn_cards() {
        assert!(luhn("4539578763621486"));
        assert!(!luhn(&flip_last("4539578763621486")));
        assert!(luhn("378282246310005"));
    }

    #[test]
    fn iban() {
        assert!(iban_mod97("DE89370400440532013000"));
        assert!(iban_mod97("GB82WEST12345698765432"));
        assert!(!iban_mod97("DE89370400440532013001"));
    }

    #[test]
    fn nir() {
        // 1 84 12 76 451 089 + key: 97 - 1841276451089 mod 97
        let body = "1841276451089";
        let key = 97 - body.parse::<u64>().unwrap() % 97;
        let v = format!("{body}{key:02}");
        assert!(fr_nir(&v));
        assert!(!fr_nir(&flip_last(&v)));
        // Corsica: 2A reads as 19.
        let n: u64 = "2690519123456".parse().unwrap();
        let v = format!("269052A123456{:02}", 97 - n % 97);
        assert!(fr_nir(&v));
    }

    #[test]
    fn idnr() {
        // Compute the MOD 11,10 check of a body with one repeated digit.
        let body = "8609574218";
        let d: Vec<u32> = body.bytes().map(|b| u32::from(b - b'0')).collect();
        let c = (0..10).find(|&c| {
            let mut v = d.clone();
            v.push(c);
            mod_11_10_ok(&v)
        });
        let v = format!("{body}{}", c.unwrap());
        assert!(de_idnr(&v));
        assert!(!de_idnr(&flip_last(&v)));
        // Every digit distinct: fails the repetition rule whatever the check.
        assert!((0..10).all(|c| !de_idnr(&format!("1234567890{c}"))));
    }

    #[test]
    fn dni_nie() {
        assert!(es_dni("12345678Z"));
        assert!(!es_dni("12345678A"));
        assert!(es_nie("X1234567L"));
        assert!(!es_nie("X1234567M"));
    }

    #[test]
    fn codice_fiscale() {
        assert!(it_cf("RSSMRA85T10A562S"));
        assert!(!it_cf("RSSMRA85T10A562T"));
        // omocodia: 5 -> R in position 15 changes the check char
        assert!(it_cf("RSSMRA85T10A56NH") || !it_cf("RSSMRA85T10A56NS"));
    }

    #[test]
    fn bsn() {
        assert!(nl_bsn("111222333"));
        assert!(!nl_bsn("111222334"));
    }

    #[test]
    fn nrn() {
        let b = "850730033";
        let v = format!("{b}{:02}", 97 - b.parse::<u64>().unwrap() % 97);
        assert!(be_nrn(&v));
        assert!(!be_nrn(&flip_last(&v)));
        let b = "010203045";
        let v = format!(
            "{b}{:02}",
            97 - (2_000_000_000 + b.parse::<u64>().unwrap()) % 97
        );
        assert!(be_nrn(&v));
    }

    #[test]
    fn pesel() {
        assert!(pl_pesel("44051401359"));
        assert!(!pl_pesel("44051401358"));
    }

    #[test]
    fn nino() {
        assert!(uk_nino("AB123456C"));
        assert!(!uk_nino("GB123456C"));
        assert!(!uk_nino("DA123456C"));
        assert!(!uk_nino("AB123456E"));
    }

    #[test]
    fn nhs() {
        assert!(uk_nhs("9434765919"));
        assert!(!uk_nhs("9434765918"));
    }

    #[test]
    fn ptcc() {
        assert!(pt_cc("000000000ZZ4"));
        assert!(!pt_cc("000000000ZZ5"));
    }

    #[test]
    fn pnr_hetu_cpr() {
        assert!(se_pnr("8112289874"));
        assert!(!se_pnr("8112289875"));
        assert!(fi_hetu("131052-308T"));
        assert!(!fi_hetu("131052-308U"));
        assert!(dk_cpr("2110625629").is_some());
        assert_eq!(dk_cpr("3213625629"), None);
    }

    #[test]
    fn pps_svnr() {
        assert!(ie_pps("1234567T"));
        assert!(!ie_pps("1234567X"));
        assert!(ie_pps("1234567FA"));
        assert!(at_svnr("1237010180"));
        assert!(!at_svnr("1238010180"));
    }

    #[test]
    fn mrz() {
        assert_eq!(mrz_check("L898902C3"), Some(b'6'));
        assert_eq!(mrz_check("740812"), Some(b'2'));
    }
}
