//! Name lists (placeholder).
pub(crate) fn warm_up() {}
