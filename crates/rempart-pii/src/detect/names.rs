//! Word lists for PERSON: given names and surnames (see `NOTICE` for their
//! source and licence), and the multilingual cue words — titles,
//! salutations, form labels, closings — and the stop words that must never
//! be read as names.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const FIRST: &str = include_str!("data/first_names.txt");
const LAST: &str = include_str!("data/surnames.txt");

/// Capitalised words that are never names by themselves: labels, greetings,
/// months and days, document words, street types, company words,
/// pronouns used as chat speakers ("Du:", "Me:").
const STOP: &str = "
name nom prénom prenom nombre apellidos apellido nome cognome naam voornaam voornamen achternaam
imię imie nazwisko vorname vornamen nachname familienname surname forename forenames given names
first last full date datum fecha data geburtsdatum geboortedatum birth naissance nascita nacimiento
address adresse adres dirección direccion indirizzo anschrift domicilio tel tél phone telefon
telefono teléfono email e-mail mail iban bic swift signature signatur firma handtekening podpis
mr mrs ms miss mx dr prof herr frau monsieur madame mademoiselle mme mlle mevrouw meneer heer dhr
mevr sig sig.ra signor signora signorina dott dottore dottoressa avv ing sr sra srta don doña dña
pan pani panie państwo dear cher chère chers liebe lieber sehr geehrte geehrter estimado estimada
querido querida caro cara gentile egregio egregia beste geachte szanowny szanowna hi hello hallo
hola ciao bonjour bonsoir salut hoi dag cześć witam dzień dobry buongiorno buenos días guten tag
morgen moin servus thanks thank merci danke gracias grazie bedankt dank dziękuję obrigado cheers
regards best kind cordialement salutations bien sincères grüße grüßen gruß freundlichen viele
saludos atentamente saluti distinti cordiali groet groeten vriendelijke hartelijke pozdrawiam
poważaniem yours sincerely faithfully
january february march april may june july august september october november december
janvier février mars avril mai juin juillet août septembre octobre novembre décembre
januar februar märz juni juli oktober dezember enero febrero marzo abril mayo junio julio agosto
septiembre octubre noviembre diciembre gennaio febbraio aprile maggio giugno luglio settembre
ottobre dicembre januari februari maart mei augustus
monday tuesday wednesday thursday friday saturday sunday lundi mardi mercredi jeudi vendredi
samedi dimanche montag dienstag mittwoch donnerstag freitag samstag sonntag lunes martes
miércoles jueves viernes sábado domingo lunedì martedì mercoledì giovedì venerdì sabato domenica
maandag dinsdag woensdag donderdag vrijdag zaterdag zondag
du tu me yo jij ik je ich io you moi ja ty wy sie ihr vous nous wir
rue avenue boulevard place chemin allée impasse quai route calle avenida paseo plaza via viale
piazza corso largo vicolo straße strasse weg allee platz gasse straat laan plein gracht street
road close drive way gardens crescent terrace ulica aleja
gmbh ag kg ohg gbr ug ltd limited plc llp inc sa sas sarl sl spa srl bv nv vof group groep gruppe
gruppo grupo holding bank banque banco banca sparkasse volksbank assurance versicherung
insurance seguros assicurazioni verzekeringen consulting services partners associés associati
asociados fils frères söhne figli hermanos hnos company compagnie compañía compagnia
the le la les de des du van von der den het di da del della dei el los las und et and y e en
of for für pour per por para con mit avec with
objet betreff betreff asunto oggetto onderwerp subject temat re fwd aw
invoice facture rechnung factura fattura factuur faktura order commande bestellung pedido ordine
bestelling zamówienie total totaal gesamt importe importo montant amount betrag bedrag kwota
ref référence referenz referencia riferimento referentie reference nr no numéro nummer número
numero numer client kunde cliente klant klient customer account compte konto cuenta conto
rekening rachunek contrat vertrag contrato contratto contract umowa
police polizei policía polizia politie policja hôpital krankenhaus hospital ospedale ziekenhuis
szpital clinique klinik clínica clinica kliniek klinika pharmacie apotheke farmacia apotheek
apteka docteur doktor doctor médico medico arts lekarz patient patiente paziente paciente
patiënt pacjent
monsieur madame
sécurité sociale social security national insurance steuer
france deutschland germany españa spain italia italy nederland netherlands belgique belgië
belgium polska poland portugal sverige sweden suomi finland danmark denmark österreich austria
ireland éire irlande schweiz suisse svizzera switzerland europe europa
paris london berlin madrid roma rome wien amsterdam bruxelles brussel warszawa lisboa
whatsapp paypal iban sepa visa mastercard amex google apple microsoft amazon
ok oui non ja nein sí si no nee tak nie yes
";

/// Titles and salutations after which a name follows (lower case; the
/// trailing dot is optional in the text).
pub(crate) const TITLES: &[&str] = &[
    // "my name is" in each language: the name follows.
    "name is",
    "naam is",
    "je m'appelle",
    "m'appelle",
    "ich heiße",
    "heiße",
    "me llamo",
    "llamo",
    "mi chiamo",
    "chiamo",
    "ik heet",
    "heet",
    "nazywam się",
    "chamo-me",
    "m",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "herr",
    "frau",
    "hr",
    "fr",
    "monsieur",
    "madame",
    "mademoiselle",
    "mme",
    "mlle",
    "mevrouw",
    "meneer",
    "de heer",
    "dhr",
    "mevr",
    "mw",
    "sig",
    "sig.ra",
    "sig.na",
    "sig.ra",
    "signor",
    "signora",
    "signorina",
    "dott",
    "dott.ssa",
    "dottor",
    "avv",
    "ing",
    "sr",
    "sra",
    "srta",
    "don",
    "doña",
    "d",
    "dña",
    "d./dña",
    "pan",
    "pani",
    "pana",
    "panią",
    "panu",
    "dear",
    "cher",
    "chère",
    "liebe",
    "lieber",
    "sehr geehrte",
    "sehr geehrter",
    "estimado",
    "estimada",
    "querido",
    "querida",
    "caro",
    "cara",
    "gentile",
    "egregio",
    "egregia",
    "beste",
    "geachte",
    "szanowny",
    "szanowna",
    "szanowny panie",
    "szanowna pani",
    "hi",
    "hello",
    "hallo",
    "hola",
    "ciao",
    "bonjour",
    "salut",
    "hoi",
    "dag",
    "cześć",
    "witam",
    "dzień dobry",
    "buongiorno",
    "buenos días",
    "guten tag",
    "moin",
    "servus",
    "dr.",
    "dr. med",
    "dr. med.",
    "prof. dr",
    "mag",
    "dipl.-ing",
    "mgr",
    "inż",
];

/// Form labels after which the value is a name (lower case, without the
/// trailing colon).
pub(crate) const LABELS: &[&str] = &[
    "nom",
    "prénom",
    "prenom",
    "prénoms",
    "nom et prénom",
    "nom, prénom",
    "vos nom et prénom",
    "nom de naissance",
    "nom d'usage",
    "titulaire",
    "titulaire du compte",
    "conjoint",
    "bénéficiaire",
    "élève",
    "facturé à",
    "assuré",
    "assurée",
    "conducteur",
    "signataire",
    "locataire",
    "bailleur",
    "propriétaire",
    "contact",
    "interlocuteur",
    "médecin",
    "patient",
    "patientin",
    "einsender",
    "patiente",
    "name",
    "vorname",
    "vorname(n)",
    "vornamen",
    "nachname",
    "familienname",
    "geburtsname",
    "kontoinhaber",
    "kontoinhaberin",
    "empfänger",
    "auftraggeber",
    "versicherungsnehmer",
    "versicherungsnehmerin",
    "versicherte person",
    "mieter",
    "vermieter",
    "ansprechpartner",
    "ansprechpartnerin",
    "arzt",
    "ärztin",
    "absender",
    "zahlungspflichtiger",
    "nombre",
    "apellidos",
    "apellido",
    "nombre y apellidos",
    "apellidos y nombre",
    "titular",
    "conductor",
    "deudor",
    "nombre del deudor",
    "nombre del titular",
    "arrendatario",
    "arrendador",
    "solicitante",
    "paciente",
    "médico",
    "contacto",
    "nome",
    "cognome",
    "cognome e nome",
    "nome e cognome",
    "intestatario",
    "intestatario del conto",
    "intestataria",
    "richiedente",
    "debitore",
    "conduttore",
    "locatore",
    "paziente",
    "medico",
    "referente",
    "naam",
    "voornaam",
    "voornamen",
    "achternaam",
    "naam en voornaam",
    "geslachtsnaam",
    "verzekeringnemer",
    "verzekeringnemer/bestuurder",
    "bestuurder",
    "verhuurder",
    "huurder",
    "aan",
    "t.n.v",
    "ten name van",
    "rekeninghouder",
    "aanvrager",
    "contactpersoon",
    "patiënt",
    "huisarts",
    "imię",
    "imiona",
    "nazwisko",
    "imię i nazwisko",
    "nadawca",
    "odbiorca",
    "właściciel",
    "najemca",
    "wynajmujący",
    "pacjent",
    "lekarz",
    "full name",
    "first name",
    "first name(s)",
    "first names",
    "surname",
    "given names",
    "forenames",
    "customer",
    "policyholder",
    "landlord",
    "tenant",
    "next of kin",
    "guarantor",
    "applicant",
    "employee",
    "employee name",
    "account holder",
    "account name",
    "beneficiary",
    "payee",
    "payer",
    "cardholder",
    "card holder",
    "partner",
    "spouse",
    "contact name",
    "signed",
    "signature",
    "summary completed by",
    "gp",
    "consultant",
    "agent",
    "from",
    "to",
    "sloinne",
    "réamhainm",
    "previous landlord",
    "current landlord",
    "employer contact",
    "nom du titulaire",
    "vorname und name",
    "name, vorname",
    "cliente",
    "klant",
    "kunde",
    "client",
    "titular de la cuenta",
    "titular da conta",
    "nome do titular",
    "beneficiario",
    "ordenante",
    "pagador",
    "begunstigde",
    "opdrachtgever",
    "zleceniodawca",
    "odbiorca przelewu",
];

/// Closings: the next line usually holds the sender's name.
pub(crate) const CLOSINGS: &[&str] = &[
    "cordialement",
    "bien cordialement",
    "bien à vous",
    "salutations",
    "merci",
    "merci d'avance",
    "bonne journée",
    "mit freundlichen grüßen",
    "freundliche grüße",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "grüße",
    "lg",
    "vg",
    "danke",
    "saludos",
    "un saludo",
    "atentamente",
    "gracias",
    "un abrazo",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "un saluto",
    "grazie",
    "met vriendelijke groet",
    "vriendelijke groet",
    "groet",
    "groeten",
    "hartelijke groet",
    "bedankt",
    "best regards",
    "kind regards",
    "regards",
    "thanks",
    "thank you",
    "many thanks",
    "best",
    "cheers",
    "yours sincerely",
    "yours faithfully",
    "sincerely",
    "pozdrawiam",
    "z poważaniem",
    "z wyrazami szacunku",
    "dziękuję",
    "com os melhores cumprimentos",
    "obrigado",
    "obrigada",
];

/// Words that join the parts of a name without being capitalised.
pub(crate) const PARTICLES: &[&str] = &[
    "de", "del", "della", "di", "da", "dal", "dos", "das", "do", "du", "des", "la", "le", "van",
    "von", "der", "den", "ter", "ten", "zu", "y", "i", "e", "'t", "op", "het", "mac", "af",
];

/// [`LABELS`] as a set.
pub(crate) static LABEL_SET: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| LABELS.iter().copied().collect());
/// [`TITLES`] as a set (trailing dots removed).
pub(crate) static TITLE_SET: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| TITLES.iter().map(|t| t.trim_end_matches('.')).collect());
/// Last words of every title and inline label (`sig.ra` -> `ra`,
/// `t.n.v.` -> `v`): the cheap gate before the full cue lookup.
pub(crate) static TITLE_LAST: LazyLock<FastSet<String>> = LazyLock::new(|| {
    TITLES
        .iter()
        .copied()
        .chain(["t.n.v", "facturé à", "ten name van"])
        .filter_map(|t| {
            t.rsplit(|c: char| !c.is_alphabetic())
                .find(|w| !w.is_empty())
        })
        .map(str::to_lowercase)
        .collect()
});
/// [`CLOSINGS`] as a set.
pub(crate) static CLOSING_SET: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| CLOSINGS.iter().copied().collect());

/// FNV-1a: the name sets hash short strings on the hot path, where SipHash
/// (DoS-resistant, but slow) buys nothing — the keys are our own lists.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A set with the FNV hasher.
pub(crate) type FastSet<T> = HashSet<T, std::hash::BuildHasherDefault<Fnv>>;

/// The stop list, given names and surnames in one map (one lookup per word
/// on the hot path): [`IN_STOP`] | [`IN_FIRST`] | [`IN_LAST`].
pub(crate) struct Lists {
    pub words: HashMap<String, u8, std::hash::BuildHasherDefault<Fnv>>,
    /// The keys of `words` of at most 16 bytes, same bits, and
    /// those of [`PARTICLES`] ([`IN_PARTICLE`]), [`TITLE_LAST`]
    /// ([`IN_TITLE_LAST`]) and [`LABEL_SET`] ([`IN_LABEL`]): an ASCII
    /// word (or run of words joined by spaces) of the text is
    /// looked up by its lower-cased bytes packed in two `u64`s
    /// ([`WordTable::key`]), with no lower-casing into a buffer and no
    /// string compare.
    pub table: WordTable,
}

/// A stop word (never a name on its own).
pub(crate) const IN_STOP: u8 = 1;
/// A given name (stop words excluded).
pub(crate) const IN_FIRST: u8 = 2;
/// A surname (stop words excluded).
pub(crate) const IN_LAST: u8 = 4;
/// One of [`PARTICLES`] (in [`Lists::table`] only).
pub(crate) const IN_PARTICLE: u8 = 8;
/// In [`TITLE_LAST`] (in [`Lists::table`] only).
pub(crate) const IN_TITLE_LAST: u8 = 16;
/// In [`LABEL_SET`] (in [`Lists::table`] only).
pub(crate) const IN_LABEL: u8 = 32;

/// An open-addressing table of short words (1 to 16 bytes, no NUL):
/// each key is its bytes packed little-endian into two `u64`s, zero
/// padded, so a probe is two compares; linear probing, at most half full.
pub(crate) struct WordTable {
    keys: Box<[[u64; 2]]>,
    vals: Box<[u8]>,
    shift: u32,
}

impl WordTable {
    /// The longest key.
    pub(crate) const MAX: usize = 16;

    /// `bytes` (1 to 16, no NUL) packed as a key.
    pub(crate) fn pack(bytes: &[u8]) -> [u64; 2] {
        let mut buf = [0u8; 16];
        buf[..bytes.len()].copy_from_slice(bytes);
        let (a, b) = buf.split_at(8);
        [
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        ]
    }

    /// The key of the word `text[s..s + len]` (1 to 16 bytes, each an
    /// ASCII letter, `-`, `'` or a space), lower-cased: those bytes
    /// lower-case by setting bit 0x20 (the others have it already).
    #[inline]
    pub(crate) fn key(text: &[u8], s: usize, len: usize) -> [u64; 2] {
        debug_assert!((1..=Self::MAX).contains(&len));
        let (mut a, mut b) = match text.get(s..s + 16) {
            Some(w) => {
                let (x, y) = w.split_at(8);
                (
                    u64::from_le_bytes(x.try_into().unwrap_or_default()),
                    u64::from_le_bytes(y.try_into().unwrap_or_default()),
                )
            }
            None => {
                let k = Self::pack(&text[s..s + len]);
                (k[0], k[1])
            }
        };
        let mask = |n: usize| -> u64 {
            if n >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            }
        };
        let (ma, mb) = (mask(len), mask(len.saturating_sub(8)));
        a = (a | 0x2020_2020_2020_2020) & ma;
        b = if len > 8 {
            (b | 0x2020_2020_2020_2020) & mb
        } else {
            0
        };
        [a, b]
    }

    #[inline]
    fn slot(&self, k: [u64; 2]) -> usize {
        let h = (k[0] ^ k[1].rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // `shift` < 64: the table has at least two slots.
        usize::try_from(h >> self.shift).unwrap_or_default()
    }

    /// A table of `entries` (bits of equal keys or-ed); keys must be 1 to
    /// 16 bytes without NUL.
    pub(crate) fn new<'a>(entries: impl IntoIterator<Item = (&'a [u8], u8)>) -> WordTable {
        let entries: Vec<([u64; 2], u8)> = entries
            .into_iter()
            .map(|(k, v)| {
                assert!((1..=Self::MAX).contains(&k.len()) && !k.contains(&0));
                (Self::pack(k), v)
            })
            .collect();
        let size = (entries.len() * 2).next_power_of_two().max(2);
        let mut t = WordTable {
            keys: vec![[0; 2]; size].into_boxed_slice(),
            vals: vec![0; size].into_boxed_slice(),
            shift: 64 - size.trailing_zeros(),
        };
        let mask = size - 1;
        for (k, v) in entries {
            let mut i = t.slot(k);
            while t.keys[i] != [0; 2] && t.keys[i] != k {
                i = (i + 1) & mask;
            }
            t.keys[i] = k;
            t.vals[i] |= v;
        }
        t
    }

    /// The bits of `k` (0 when absent).
    #[inline]
    pub(crate) fn get(&self, k: [u64; 2]) -> u8 {
        let mask = self.keys.len() - 1;
        let mut i = self.slot(k);
        loop {
            let here = self.keys[i];
            if here == k {
                return self.vals[i];
            }
            if here[0] == 0 {
                return 0;
            }
            i = (i + 1) & mask;
        }
    }
}

pub(crate) static LISTS: LazyLock<Lists> = LazyLock::new(|| {
    let stop: FastSet<&'static str> = STOP.split_whitespace().collect();
    let load = |src: &str| -> FastSet<String> {
        src.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !stop.contains(l.as_str()))
            .collect()
    };
    let first = load(FIRST);
    let last = load(LAST);
    let mut words: HashMap<String, u8, std::hash::BuildHasherDefault<Fnv>> = HashMap::default();
    for (set, bit) in [(&first, IN_FIRST), (&last, IN_LAST)] {
        for w in set {
            *words.entry(w.clone()).or_default() |= bit;
        }
    }
    for w in &stop {
        *words.entry((*w).to_string()).or_default() |= IN_STOP;
    }
    let table = WordTable::new(
        words
            .iter()
            .filter(|(k, _)| k.len() <= WordTable::MAX)
            .map(|(k, &bits)| (k.as_bytes(), bits))
            .chain(PARTICLES.iter().map(|p| (p.as_bytes(), IN_PARTICLE)))
            .chain(
                TITLE_LAST
                    .iter()
                    .map(|t| (t.as_bytes(), IN_TITLE_LAST))
                    .chain(LABEL_SET.iter().map(|l| (l.as_bytes(), IN_LABEL)))
                    .filter(|(k, _)| k.is_ascii() && k.len() <= WordTable::MAX),
            ),
    );
    Lists { words, table }
});

/// Forces the lists to load.
pub(crate) fn warm_up() {
    LazyLock::force(&LISTS);
    LazyLock::force(&LABEL_SET);
    LazyLock::force(&TITLE_SET);
    LazyLock::force(&CLOSING_SET);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_table_holds_the_short_ascii_keys() {
        let l = &*LISTS;
        for (k, &bits) in &l.words {
            if k.len() <= WordTable::MAX {
                let p = u8::from(PARTICLES.contains(&k.as_str())) * IN_PARTICLE;
                let lists = IN_STOP | IN_FIRST | IN_LAST | IN_PARTICLE;
                assert_eq!(
                    l.table.get(WordTable::pack(k.as_bytes())) & lists,
                    bits | p,
                    "{k}"
                );
            }
        }
        for p in PARTICLES {
            assert_ne!(l.table.get(WordTable::pack(p.as_bytes())) & IN_PARTICLE, 0);
        }
        for (set, bit) in [
            (
                TITLE_LAST.iter().map(String::as_str).collect::<Vec<_>>(),
                IN_TITLE_LAST,
            ),
            (LABEL_SET.iter().copied().collect(), IN_LABEL),
        ] {
            for k in set {
                if k.is_ascii() && k.len() <= WordTable::MAX {
                    assert_ne!(l.table.get(WordTable::pack(k.as_bytes())) & bit, 0, "{k}");
                }
            }
        }
        assert_eq!(
            l.table.get(WordTable::key(b"Full Name:", 0, 9)) & IN_LABEL,
            IN_LABEL
        );
        // Upper-case text finds the lower-case key; the text may end
        // right after the word or run on past 16 bytes.
        let text = b"xx VAN-DER'S yy Christian";
        let k = WordTable::key(text, 3, 3);
        assert_eq!(k, WordTable::pack(b"van"));
        assert_eq!(WordTable::key(text, 3, 9), WordTable::pack(b"van-der's"));
        assert_eq!(WordTable::key(text, 16, 9), WordTable::pack(b"christian"));
        assert_eq!(l.table.get(WordTable::pack(b"zzqx")), 0);
    }
}
