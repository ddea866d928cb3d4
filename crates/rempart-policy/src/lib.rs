//! Decides, per request, which deployments a tenant's jurisdiction policy
//! admits — fail-closed — and explains every rejection.
//!
//! This crate does no I/O: no network, no clock, no files. Facts come in as
//! values and a [`Decision`] comes out; the caller records it verbatim.
//!
//! # Brief overview
//!
//! - [`DeploymentFacts`] are what a deployment declares (operator, parent
//!   jurisdiction, data-centre country, retention, DPA, provenance); its
//!   [`TrustTier`] is derived from them, never from a name.
//! - [`TenantPolicy`] is a tenant's set of restrictions; its `Default` is the
//!   strict European one (EU-GDPR only, no CLOUD-Act exposure, special
//!   categories in-tenancy only).
//! - [`decide`] evaluates every candidate, orders the admitted healthy ones
//!   by [`Strategy`] and mints an [`Admitted`] proof for each. Upstream code
//!   demands that proof, so a deployment the policy rejected cannot be
//!   called — not for fallback, retry, shadow traffic or cache.
//! - [`Route`] picks an alias's candidate list by explainable rules.
//!
//! ```
//! use rempart_policy::*;
//!
//! let facts = |id: &str, op: &str, parent: &str, dc: &str| DeploymentFacts {
//!     id: id.into(),
//!     operator: id.into(),
//!     operator_country: Country::parse(op).unwrap(),
//!     parent_jurisdiction: Country::parse(parent).unwrap(),
//!     dc_country: Country::parse(dc).unwrap(),
//!     region: "r".into(),
//!     hosting: Hosting::Managed,
//!     retention: Retention::Zero,
//!     dpa_signed: true,
//!     provenance: Provenance { trained_by: "Mistral AI".into(), licence: "Apache-2.0".into() },
//! };
//! let us = facts("us-api", "US", "US", "US");
//! let eu = facts("mistral-eu", "FR", "FR", "FR");
//! let candidates = [
//!     Candidate { facts: &us, price_eur_per_mtok: 1.0 },
//!     Candidate { facts: &eu, price_eur_per_mtok: 2.0 },
//! ];
//! let req = RequestFacts { region: Country::parse("DE"), sensitivity: Sensitivity::Personal };
//! let d = decide(&req, &TenantPolicy::default(), &candidates, Strategy::Priority, |_| Health::UP);
//! assert_eq!(d.chosen().unwrap().id().0, "mistral-eu");
//! assert_eq!(d.rejected[0].id.0, "us-api");
//! assert_eq!(d.rejected[0].reasons[0].code(), "cluster_not_admitted");
//! ```
#![warn(missing_docs)]

mod decide;
mod facts;
mod jurisdiction;
mod route;
mod tenant;

// The public interface is:
pub use decide::{
    Admitted, Candidate, Decision, Health, Reason, Refusal, Rejected, Strategy, decide, evaluate,
};
pub use facts::{DeploymentFacts, DeploymentId, Hosting, Provenance, Retention, TrustTier};
pub use jurisdiction::{Country, LegalCluster, ParseError};
pub use route::{Condition, Route, RouteInput, Rule, Selection};
pub use tenant::{RequestFacts, Residency, Sensitivity, TenantPolicy};

#[cfg(test)]
mod proptests;
