//! A tenant's jurisdiction policy and the facts of one request.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::facts::TrustTier;
use crate::jurisdiction::{Country, LegalCluster};

/// Where a request may be processed relative to where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Residency {
    /// Only in the request's own legal cluster (EU users to the EU cluster,
    /// UK users to the UK cluster). A request whose region is unknown is
    /// refused (fail-closed).
    SameCluster,
    /// In any admitted cluster.
    #[default]
    AnyAdmitted,
}

/// How sensitive the request's content is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// No personal data detected.
    #[default]
    None,
    /// Ordinary personal data (GDPR Art. 4(1)).
    Personal,
    /// Special categories of personal data (GDPR Art. 9(1): health, religion,
    /// trade-union membership, ...).
    SpecialCategory,
}

impl Sensitivity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::None => "none",
            Sensitivity::Personal => "personal",
            Sensitivity::SpecialCategory => "special_category",
        }
    }
}

/// A tenant's policy. Every field is a restriction; [`TenantPolicy::default`]
/// is the strict European default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicy {
    /// Legal clusters where the tenant's data may be processed.
    pub admitted_clusters: BTreeSet<LegalCluster>,
    /// Whether requests must stay in their own cluster.
    pub residency: Residency,
    /// Whether operators exposed to the US CLOUD Act are admitted.
    pub allow_cloud_act: bool,
    /// Longest operator retention admitted, in days (`Some(0)`: zero
    /// retention required; `None`: any).
    pub max_retention_days: Option<u32>,
    /// Whether managed deployments need a signed DPA (GDPR Art. 28).
    pub require_dpa: bool,
    /// Admitted model trainers (case-insensitive); `None` admits any.
    pub admitted_trainers: Option<BTreeSet<String>>,
    /// Admitted weight licences (case-insensitive); `None` admits any.
    pub admitted_licences: Option<BTreeSet<String>>,
    /// The least trusted tier admitted at all.
    pub max_tier: TrustTier,
    /// The least trusted tier admitted for requests carrying personal data.
    pub personal_data_max_tier: TrustTier,
    /// The least trusted tier admitted for special-category data.
    pub special_category_max_tier: TrustTier,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            admitted_clusters: BTreeSet::from([LegalCluster::EuGdpr]),
            residency: Residency::AnyAdmitted,
            allow_cloud_act: false,
            max_retention_days: Some(30),
            require_dpa: true,
            admitted_trainers: None,
            admitted_licences: None,
            max_tier: TrustTier::EuSovereign,
            personal_data_max_tier: TrustTier::EuSovereign,
            special_category_max_tier: TrustTier::InTenancy,
        }
    }
}

/// What the policy engine knows about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestFacts {
    /// Where the request comes from, if located.
    pub region: Option<Country>,
    /// How sensitive its content is.
    pub sensitivity: Sensitivity,
}

impl RequestFacts {
    /// The request's legal cluster, if located.
    pub fn cluster(&self) -> Option<LegalCluster> {
        self.region.map(Country::legal_cluster)
    }
}
