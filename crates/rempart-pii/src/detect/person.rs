//! PERSON (placeholder).
use super::{Cand, Lang};
pub(crate) fn find(_text: &str, _lang: Option<Lang>, _lists: bool, _out: &mut Vec<Cand>) {}
