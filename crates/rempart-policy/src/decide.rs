//! The routing decision: which candidates a tenant's policy admits, in what
//! order, and why every other one was rejected.

use std::fmt;

use serde::Serialize;

use crate::facts::{DeploymentFacts, DeploymentId, Hosting, TrustTier};
use crate::jurisdiction::{Country, LegalCluster};
use crate::tenant::{RequestFacts, Residency, Sensitivity, TenantPolicy};

/// Why the policy rejected a candidate. A refusal is a value, audited verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The data centre's legal cluster is not admitted by the tenant.
    ClusterNotAdmitted {
        /// The deployment's cluster.
        cluster: LegalCluster,
    },
    /// The tenant keeps requests in their own cluster and this one differs.
    OutsideRequestCluster {
        /// The request's cluster.
        request: LegalCluster,
        /// The deployment's cluster.
        deployment: LegalCluster,
    },
    /// The tenant keeps requests in their own cluster and the request's
    /// region is unknown.
    RequestRegionUnknown,
    /// The operator or its parent is subject to the US CLOUD Act.
    CloudActExposed {
        /// The parent's country.
        parent: Country,
    },
    /// The operator keeps data longer than admitted.
    RetentionTooLong {
        /// Days kept.
        days: u32,
        /// Days admitted.
        max: u32,
    },
    /// A managed deployment without a signed DPA.
    NoDpa,
    /// The model's trainer is not admitted.
    TrainerNotAdmitted {
        /// Who trained it.
        trained_by: String,
    },
    /// The weights' licence is not admitted.
    LicenceNotAdmitted {
        /// The licence.
        licence: String,
    },
    /// The deployment's tier is beyond the tenant's limit.
    TierNotAdmitted {
        /// The deployment's tier.
        tier: TrustTier,
        /// The least trusted tier admitted.
        max: TrustTier,
    },
    /// The request's sensitivity needs a more trusted tier.
    SensitivityNeedsTier {
        /// The request's sensitivity.
        sensitivity: Sensitivity,
        /// The deployment's tier.
        tier: TrustTier,
        /// The least trusted tier admitted for that sensitivity.
        max: TrustTier,
    },
}

impl Reason {
    /// Machine-readable code (`cluster_not_admitted`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::ClusterNotAdmitted { .. } => "cluster_not_admitted",
            Reason::OutsideRequestCluster { .. } => "outside_request_cluster",
            Reason::RequestRegionUnknown => "request_region_unknown",
            Reason::CloudActExposed { .. } => "cloud_act_exposed",
            Reason::RetentionTooLong { .. } => "retention_too_long",
            Reason::NoDpa => "no_dpa",
            Reason::TrainerNotAdmitted { .. } => "trainer_not_admitted",
            Reason::LicenceNotAdmitted { .. } => "licence_not_admitted",
            Reason::TierNotAdmitted { .. } => "tier_not_admitted",
            Reason::SensitivityNeedsTier { .. } => "sensitivity_needs_tier",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ClusterNotAdmitted { cluster } => {
                write!(
                    f,
                    "data centre in {cluster}, which the tenant does not admit"
                )
            }
            Reason::OutsideRequestCluster {
                request,
                deployment,
            } => write!(
                f,
                "request from {request} must stay in {request}, deployment is in {deployment}"
            ),
            Reason::RequestRegionUnknown => {
                f.write_str("request region unknown and the tenant requires same-cluster residency")
            }
            Reason::CloudActExposed { parent } => {
                write!(
                    f,
                    "operator exposed to the US CLOUD Act (parent in {parent})"
                )
            }
            Reason::RetentionTooLong { days, max } => {
                write!(
                    f,
                    "operator retains data {days} days, the tenant admits {max}"
                )
            }
            Reason::NoDpa => f.write_str("no data-processing agreement signed (GDPR Art. 28)"),
            Reason::TrainerNotAdmitted { trained_by } => {
                write!(f, "model trained by {trained_by}, not admitted")
            }
            Reason::LicenceNotAdmitted { licence } => {
                write!(f, "model licence {licence} not admitted")
            }
            Reason::TierNotAdmitted { tier, max } => {
                write!(f, "trust tier {tier} is beyond the tenant's limit {max}")
            }
            Reason::SensitivityNeedsTier {
                sensitivity,
                tier,
                max,
            } => write!(
                f,
                "{} data admitted up to tier {max}, deployment is {tier}",
                sensitivity.as_str()
            ),
        }
    }
}

/// Every reason the policy has to reject `facts` for this request; empty
/// means admitted. Checks are independent, so the list explains everything.
pub fn evaluate(req: &RequestFacts, policy: &TenantPolicy, facts: &DeploymentFacts) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let cluster = facts.cluster();
    if !policy.admitted_clusters.contains(&cluster) {
        reasons.push(Reason::ClusterNotAdmitted { cluster });
    }
    if policy.residency == Residency::SameCluster {
        match req.cluster() {
            None => reasons.push(Reason::RequestRegionUnknown),
            Some(request) if request != cluster => reasons.push(Reason::OutsideRequestCluster {
                request,
                deployment: cluster,
            }),
            Some(_) => {}
        }
    }
    if !policy.allow_cloud_act && facts.cloud_act_exposed() {
        let parent = if facts.parent_jurisdiction.cloud_act_exposed() {
            facts.parent_jurisdiction
        } else {
            facts.operator_country
        };
        reasons.push(Reason::CloudActExposed { parent });
    }
    if let Some(max) = policy.max_retention_days {
        let days = facts.retention.days();
        if facts.hosting == Hosting::Managed && days > max {
            reasons.push(Reason::RetentionTooLong { days, max });
        }
    }
    if policy.require_dpa && facts.hosting == Hosting::Managed && !facts.dpa_signed {
        reasons.push(Reason::NoDpa);
    }
    if let Some(trainers) = &policy.admitted_trainers
        && !contains_ci(trainers, &facts.provenance.trained_by)
    {
        reasons.push(Reason::TrainerNotAdmitted {
            trained_by: facts.provenance.trained_by.clone(),
        });
    }
    if let Some(licences) = &policy.admitted_licences
        && !contains_ci(licences, &facts.provenance.licence)
    {
        reasons.push(Reason::LicenceNotAdmitted {
            licence: facts.provenance.licence.clone(),
        });
    }
    let tier = facts.tier();
    if tier > policy.max_tier {
        reasons.push(Reason::TierNotAdmitted {
            tier,
            max: policy.max_tier,
        });
    }
    let sensitive_max = match req.sensitivity {
        Sensitivity::None => None,
        Sensitivity::Personal => Some(policy.personal_data_max_tier),
        Sensitivity::SpecialCategory => Some(policy.special_category_max_tier),
    };
    if let Some(max) = sensitive_max
        && tier > max
    {
        reasons.push(Reason::SensitivityNeedsTier {
            sensitivity: req.sensitivity,
            tier,
            max,
        });
    }
    reasons
}

fn contains_ci(set: &std::collections::BTreeSet<String>, value: &str) -> bool {
    set.iter().any(|s| s.eq_ignore_ascii_case(value))
}

/// How admitted candidates are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The alias's order.
    #[default]
    Priority,
    /// Cheapest first (ties keep the alias's order).
    Cost,
    /// Lowest observed latency first (unknown latency last).
    Latency,
}

/// A candidate deployment for a request.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its declared facts.
    pub facts: &'a DeploymentFacts,
    /// Blended price, EUR per million tokens (for [`Strategy::Cost`]).
    pub price_eur_per_mtok: f64,
}

/// A deployment's current health, as seen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Health {
    /// False when its circuit breaker is open.
    pub up: bool,
    /// Smoothed latency, milliseconds, if observed.
    pub latency_ms: Option<f64>,
}

impl Health {
    /// Healthy, latency unknown.
    pub const UP: Health = Health {
        up: true,
        latency_ms: None,
    };
    /// Circuit open.
    pub const DOWN: Health = Health {
        up: false,
        latency_ms: None,
    };
}

/// Proof that the policy admitted a deployment for one request. Only
/// [`decide`] mints it (the field is private), and upstream calls demand it:
/// a call to a deployment the policy did not admit does not compile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admitted {
    id: DeploymentId,
    tier: TrustTier,
}

impl Admitted {
    /// The admitted deployment.
    pub fn id(&self) -> &DeploymentId {
        &self.id
    }

    /// Its trust tier (decides the PII handling it requires).
    pub fn tier(&self) -> TrustTier {
        self.tier
    }
}

/// A rejected candidate and every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The deployment.
    pub id: DeploymentId,
    /// Why (never empty).
    pub reasons: Vec<Reason>,
}

/// Why no deployment can serve the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The route has no candidates at all.
    NoCandidates,
    /// Every candidate was rejected by the policy (HTTP 403).
    Policy,
    /// Admitted candidates exist but none is healthy (HTTP 503).
    NoneHealthy,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    admitted: Vec<Admitted>,
    /// Admitted by the policy but currently unhealthy (circuit open).
    pub unavailable: Vec<DeploymentId>,
    /// Rejected by the policy, with reasons, in candidate order.
    pub rejected: Vec<Rejected>,
}

impl Decision {
    /// The deployment to try first.
    pub fn chosen(&self) -> Option<&Admitted> {
        self.admitted.first()
    }

    /// Every admitted, healthy deployment in the order to try them: the
    /// chosen one then the fallbacks. Nothing else may be contacted.
    pub fn admitted(&self) -> &[Admitted] {
        &self.admitted
    }

    /// Why nothing can serve, if so.
    pub fn refusal(&self) -> Option<Refusal> {
        if !self.admitted.is_empty() {
            None
        } else if !self.unavailable.is_empty() {
            Some(Refusal::NoneHealthy)
        } else if !self.rejected.is_empty() {
            Some(Refusal::Policy)
        } else {
            Some(Refusal::NoCandidates)
        }
    }
}

/// Decide which candidates may serve a request, fail-closed.
///
/// Each candidate is evaluated against the tenant's policy ([`evaluate`]);
/// the admitted ones that are healthy are ordered by `strategy` (stable, so
/// ties keep the candidates' order). A candidate appears in exactly one of
/// `admitted`, `unavailable` and `rejected`.
pub fn decide(
    req: &RequestFacts,
    policy: &TenantPolicy,
    candidates: &[Candidate<'_>],
    strategy: Strategy,
    health: impl Fn(&DeploymentId) -> Health,
) -> Decision {
    let mut admitted: Vec<(Admitted, f64)> = Vec::new();
    let mut unavailable = Vec::new();
    let mut rejected = Vec::new();
    for c in candidates {
        let reasons = evaluate(req, policy, c.facts);
        if !reasons.is_empty() {
            rejected.push(Rejected {
                id: c.facts.id.clone(),
                reasons,
            });
            continue;
        }
        let h = health(&c.facts.id);
        if !h.up {
            unavailable.push(c.facts.id.clone());
            continue;
        }
        let key = match strategy {
            Strategy::Priority => 0.0,
            Strategy::Cost => c.price_eur_per_mtok,
            Strategy::Latency => h.latency_ms.unwrap_or(f64::INFINITY),
        };
        admitted.push((
            Admitted {
                id: c.facts.id.clone(),
                tier: c.facts.tier(),
            },
            key,
        ));
    }
    admitted.sort_by(|a, b| a.1.total_cmp(&b.1));
    Decision {
        admitted: admitted.into_iter().map(|(a, _)| a).collect(),
        unavailable,
        rejected,
    }
}
