//! What a deployment declares about itself, and the trust tier derived from it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jurisdiction::{Country, LegalCluster, ParseError};

/// Identifier of a deployment in the catalogue (`mistral-eu`, `vllm-paris`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(pub String);

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DeploymentId {
    fn from(s: &str) -> Self {
        DeploymentId(s.to_owned())
    }
}

/// Who runs the inference hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hosting {
    /// The organisation's own tenancy (embedded engine, self-hosted vLLM on
    /// its own servers or its own cloud account).
    InTenancy,
    /// A provider's managed API.
    Managed,
}

/// How long the operator keeps prompts and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// Nothing is kept after the response (zero data retention).
    Zero,
    /// Kept for this many days (abuse monitoring and the like).
    Days(u32),
}

impl Retention {
    /// Days kept (0 for zero retention).
    pub fn days(self) -> u32 {
        match self {
            Retention::Zero => 0,
            Retention::Days(d) => d,
        }
    }
}

/// Where the model's weights come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Who trained the model (`Mistral AI`, `Hugging Face`, `Meta`).
    pub trained_by: String,
    /// The licence of the weights (`Apache-2.0`, `proprietary`).
    pub licence: String,
}

/// The facts a deployment declares in the catalogue. The trust tier is
/// derived from these, never from the deployment's name or kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentFacts {
    /// The deployment's id.
    pub id: DeploymentId,
    /// The company operating the service (`Mistral AI`, `OVHcloud`, or the
    /// organisation itself for in-tenancy deployments).
    pub operator: String,
    /// Country where the operator is incorporated.
    pub operator_country: Country,
    /// Country of the operator's ultimate parent company (decides exposure
    /// to foreign access laws such as the US CLOUD Act).
    pub parent_jurisdiction: Country,
    /// Country of the data centre that processes the requests.
    pub dc_country: Country,
    /// Region name as the operator calls it (`eu-west-paris`, `fr-par`).
    pub region: String,
    /// Who runs the hardware.
    pub hosting: Hosting,
    /// Retention of prompts and outputs by the operator.
    pub retention: Retention,
    /// Whether a data-processing agreement (GDPR Art. 28) is signed.
    pub dpa_signed: bool,
    /// Where the model comes from.
    pub provenance: Provenance,
}

impl DeploymentFacts {
    /// Legal cluster of the data centre.
    pub fn cluster(&self) -> LegalCluster {
        self.dc_country.legal_cluster()
    }

    /// Whether the operator or its parent is subject to the US CLOUD Act.
    pub fn cloud_act_exposed(&self) -> bool {
        self.parent_jurisdiction.cloud_act_exposed() || self.operator_country.cloud_act_exposed()
    }

    /// The trust tier (DESIGN.md, "Trust tiers of a deployment"):
    ///
    /// - `in_tenancy`: the organisation runs it, in a European data centre;
    /// - `eu_sovereign`: a managed service whose operator, parent and data
    ///   centre are all under European law and none is CLOUD-Act exposed;
    /// - `eu_region_foreign_operator`: a European data centre, but an operator
    ///   or parent under foreign law (e.g. a US hyperscaler's EU region);
    /// - `foreign`: anything else.
    pub fn tier(&self) -> TrustTier {
        let dc = self.cluster();
        if !dc.is_european() {
            return TrustTier::Foreign;
        }
        if self.hosting == Hosting::InTenancy {
            return TrustTier::InTenancy;
        }
        let operator_eu = self.operator_country.legal_cluster().is_european();
        let parent_eu = self.parent_jurisdiction.legal_cluster().is_european();
        if operator_eu && parent_eu && !self.cloud_act_exposed() {
            TrustTier::EuSovereign
        } else {
            TrustTier::EuRegionForeignOperator
        }
    }
}

/// How far data travels from the organisation. Ordered from most to least
/// trusted: `InTenancy < EuSovereign < EuRegionForeignOperator < Foreign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustTier {
    /// Runs in the organisation's own tenancy.
    InTenancy,
    /// EU operator, EU parent, EU region.
    EuSovereign,
    /// EU region, foreign (e.g. US) operator or parent.
    EuRegionForeignOperator,
    /// Anything else.
    Foreign,
}

impl TrustTier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustTier::InTenancy => "in_tenancy",
            TrustTier::EuSovereign => "eu_sovereign",
            TrustTier::EuRegionForeignOperator => "eu_region_foreign_operator",
            TrustTier::Foreign => "foreign",
        }
    }

    /// Parse the wire name.
    pub fn parse(s: &str) -> Result<TrustTier, ParseError> {
        match s {
            "in_tenancy" => Ok(TrustTier::InTenancy),
            "eu_sovereign" => Ok(TrustTier::EuSovereign),
            "eu_region_foreign_operator" => Ok(TrustTier::EuRegionForeignOperator),
            "foreign" => Ok(TrustTier::Foreign),
            _ => Err(ParseError::Tier),
        }
    }
}

impl fmt::Display for TrustTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn facts(
        id: &str,
        op: &str,
        parent: &str,
        dc: &str,
        hosting: Hosting,
    ) -> DeploymentFacts {
        DeploymentFacts {
            id: id.into(),
            operator: format!("{id}-operator"),
            operator_country: Country::parse(op).unwrap(),
            parent_jurisdiction: Country::parse(parent).unwrap(),
            dc_country: Country::parse(dc).unwrap(),
            region: "r".into(),
            hosting,
            retention: Retention::Zero,
            dpa_signed: true,
            provenance: Provenance {
                trained_by: "Mistral AI".into(),
                licence: "Apache-2.0".into(),
            },
        }
    }

    #[test]
    fn tiers_follow_the_facts_not_the_name() {
        use Hosting::*;
        assert_eq!(
            facts("x", "FR", "FR", "FR", InTenancy).tier(),
            TrustTier::InTenancy
        );
        assert_eq!(
            facts("x", "FR", "FR", "FR", Managed).tier(),
            TrustTier::EuSovereign
        );
        // Azure OpenAI in Sweden Central: Irish operator, US parent.
        assert_eq!(
            facts("x", "IE", "US", "SE", Managed).tier(),
            TrustTier::EuRegionForeignOperator
        );
        // A self-hosted vLLM in a US data centre is still foreign.
        assert_eq!(
            facts("x", "FR", "FR", "US", InTenancy).tier(),
            TrustTier::Foreign
        );
        assert_eq!(
            facts("mistral-eu", "US", "US", "US", Managed).tier(),
            TrustTier::Foreign
        );
        // A UK operator in London is sovereign for a UK tenant.
        assert_eq!(
            facts("x", "GB", "GB", "GB", Managed).tier(),
            TrustTier::EuSovereign
        );
    }
}
