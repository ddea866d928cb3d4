//! Chunk labels and the eligibility predicate a query carries.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The label set every chunk carries (set per document at ingestion).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Labels {
    /// Owning tenant: a principal of another tenant never sees the chunk.
    pub tenant: String,
    /// Groups allowed to read; empty means every principal of the tenant.
    pub groups: BTreeSet<String>,
    /// Purposes the data may be processed for (GDPR Art. 5(1)(b), purpose
    /// limitation); empty means no restriction.
    pub purposes: BTreeSet<String>,
    /// Under legal hold: retrievable as usual, but
    /// [`Bm25Index::delete_document`](crate::Bm25Index::delete_document)
    /// refuses to delete it until the hold is lifted.
    pub legal_hold: bool,
}

impl Labels {
    /// Labels readable by every principal of `tenant`.
    pub fn tenant(tenant: impl Into<String>) -> Labels {
        Labels {
            tenant: tenant.into(),
            groups: BTreeSet::new(),
            purposes: BTreeSet::new(),
            legal_hold: false,
        }
    }

    /// Restricts reading to members of `group` (adds to the allowed groups).
    pub fn with_group(mut self, group: impl Into<String>) -> Labels {
        self.groups.insert(group.into());
        self
    }

    /// Restricts processing to `purpose` (adds to the allowed purposes).
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Labels {
        self.purposes.insert(purpose.into());
        self
    }

    /// Sets the legal hold flag.
    pub fn with_legal_hold(mut self, hold: bool) -> Labels {
        self.legal_hold = hold;
        self
    }
}

/// Who is asking and why: the eligibility predicate of a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The caller's tenant.
    pub tenant: String,
    /// The caller's groups.
    pub groups: BTreeSet<String>,
    /// The purpose of this query, if declared.
    pub purpose: Option<String>,
}

impl Principal {
    /// A principal of `tenant` with no groups and no declared purpose.
    pub fn new(tenant: impl Into<String>) -> Principal {
        Principal {
            tenant: tenant.into(),
            groups: BTreeSet::new(),
            purpose: None,
        }
    }

    /// Adds a group.
    pub fn with_group(mut self, group: impl Into<String>) -> Principal {
        self.groups.insert(group.into());
        self
    }

    /// Declares the purpose.
    pub fn with_purpose(mut self, purpose: impl Into<String>) -> Principal {
        self.purpose = Some(purpose.into());
        self
    }

    /// Whether this principal may see a chunk labelled `labels`: same
    /// tenant; if the chunk names groups, at least one shared; if it names
    /// purposes, the query's declared purpose is one of them (no declared
    /// purpose → denied). Fails closed on everything else.
    pub fn admits(&self, labels: &Labels) -> bool {
        if labels.tenant != self.tenant {
            return false;
        }
        if !labels.groups.is_empty() && labels.groups.is_disjoint(&self.groups) {
            return false;
        }
        if !labels.purposes.is_empty() {
            match &self.purpose {
                Some(p) if labels.purposes.contains(p) => {}
                _ => return false,
            }
        }
        true
    }
}

/// The id of `labels` among the distinct label sets of an index, adding it
/// when new: chunks refer to their set by id, and eligibility is evaluated
/// once per set.
pub(crate) fn intern(
    sets: &mut Vec<Labels>,
    ids: &mut std::collections::HashMap<Labels, u32>,
    labels: &Labels,
) -> u32 {
    if let Some(&i) = ids.get(labels) {
        return i;
    }
    let i = sets.len() as u32;
    sets.push(labels.clone());
    ids.insert(labels.clone(), i);
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_by_tenant_group_and_purpose() {
        let l = Labels::tenant("acme")
            .with_group("hr")
            .with_purpose("payroll");
        let p = Principal::new("acme").with_group("hr");
        assert!(!p.admits(&l), "no declared purpose");
        assert!(p.clone().with_purpose("payroll").admits(&l));
        assert!(!p.clone().with_purpose("marketing").admits(&l));
        assert!(
            !Principal::new("acme")
                .with_group("sales")
                .with_purpose("payroll")
                .admits(&l)
        );
        assert!(
            !Principal::new("other")
                .with_group("hr")
                .with_purpose("payroll")
                .admits(&l)
        );
        assert!(Principal::new("acme").admits(&Labels::tenant("acme")));
        assert!(!Principal::new("acme").admits(&Labels::tenant("acme").with_group("hr")));
    }
}
