//! Properties of the policy engine (STYLE.md, "Property tests"): no rejected
//! candidate is ever chosen or used as fallback; the admitted set does not
//! depend on candidate order; tightening a policy never widens it.

use std::collections::BTreeSet;

use proptest::prelude::{Just, Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};

use crate::{
    Candidate, Country, Decision, DeploymentFacts, DeploymentId, Health, Hosting, LegalCluster,
    Provenance, Refusal, RequestFacts, Residency, Retention, Sensitivity, TenantPolicy, TrustTier,
    decide, evaluate,
};

const COUNTRIES: [&str; 9] = ["FR", "DE", "IE", "SE", "GB", "CH", "US", "JP", "NL"];

fn country() -> impl Strategy<Value = Country> {
    proptest::sample::select(&COUNTRIES[..]).prop_map(|c| Country::parse(c).unwrap())
}

fn tier() -> impl Strategy<Value = TrustTier> {
    proptest::sample::select(vec![
        TrustTier::InTenancy,
        TrustTier::EuSovereign,
        TrustTier::EuRegionForeignOperator,
        TrustTier::Foreign,
    ])
}

fn cluster() -> impl Strategy<Value = LegalCluster> {
    country().prop_map(Country::legal_cluster)
}

fn facts(i: usize) -> impl Strategy<Value = DeploymentFacts> {
    (
        country(),
        country(),
        country(),
        any::<bool>(),
        prop_oneof![Just(Retention::Zero), (1u32..60).prop_map(Retention::Days)],
        any::<bool>(),
        proptest::sample::select(vec!["Mistral AI", "Meta", "Hugging Face"]),
        proptest::sample::select(vec!["Apache-2.0", "proprietary"]),
    )
        .prop_map(
            move |(op, parent, dc, in_tenancy, retention, dpa, trainer, licence)| DeploymentFacts {
                id: DeploymentId(format!("d{i}")),
                operator: format!("op{i}"),
                operator_country: op,
                parent_jurisdiction: parent,
                dc_country: dc,
                region: "r".into(),
                hosting: if in_tenancy {
                    Hosting::InTenancy
                } else {
                    Hosting::Managed
                },
                retention,
                dpa_signed: dpa,
                provenance: Provenance {
                    trained_by: trainer.into(),
                    licence: licence.into(),
                },
            },
        )
}

fn catalogue() -> impl Strategy<Value = Vec<DeploymentFacts>> {
    (1usize..12).prop_flat_map(|n| (0..n).map(facts).collect::<Vec<_>>())
}

fn policy() -> impl Strategy<Value = TenantPolicy> {
    (
        proptest::collection::btree_set(cluster(), 0..4),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(0u32..45),
        any::<bool>(),
        proptest::option::of(proptest::collection::btree_set(
            proptest::sample::select(vec![
                "Mistral AI".to_owned(),
                "Meta".into(),
                "Hugging Face".into(),
            ]),
            0..3,
        )),
        (tier(), tier(), tier()),
    )
        .prop_map(
            |(clusters, same, cloud, ret, dpa, trainers, (t1, t2, t3))| TenantPolicy {
                admitted_clusters: clusters,
                residency: if same {
                    Residency::SameCluster
                } else {
                    Residency::AnyAdmitted
                },
                allow_cloud_act: cloud,
                max_retention_days: ret,
                require_dpa: dpa,
                admitted_trainers: trainers,
                admitted_licences: None,
                max_tier: t1,
                personal_data_max_tier: t2,
                special_category_max_tier: t3,
            },
        )
}

fn request() -> impl Strategy<Value = RequestFacts> {
    (
        proptest::option::of(country()),
        proptest::sample::select(vec![
            Sensitivity::None,
            Sensitivity::Personal,
            Sensitivity::SpecialCategory,
        ]),
    )
        .prop_map(|(region, sensitivity)| RequestFacts {
            region,
            sensitivity,
        })
}

/// Tighten a policy by one random step.
fn tighten(p: &TenantPolicy, step: u8, pick: usize) -> TenantPolicy {
    let mut t = p.clone();
    match step % 8 {
        0 => {
            if let Some(c) = t
                .admitted_clusters
                .iter()
                .nth(pick % t.admitted_clusters.len().max(1))
                .copied()
            {
                t.admitted_clusters.remove(&c);
            }
        }
        1 => t.residency = Residency::SameCluster,
        2 => t.allow_cloud_act = false,
        3 => t.max_retention_days = Some(t.max_retention_days.map_or(pick as u32 % 30, |d| d / 2)),
        4 => t.require_dpa = true,
        5 => {
            let all: BTreeSet<String> = ["Mistral AI", "Meta", "Hugging Face"]
                .map(String::from)
                .into();
            let mut set = t.admitted_trainers.clone().unwrap_or(all);
            if let Some(x) = set.iter().nth(pick % set.len().max(1)).cloned() {
                set.remove(&x);
            }
            t.admitted_trainers = Some(set);
        }
        6 => t.max_tier = t.max_tier.min(TrustTier::EuSovereign),
        _ => t.special_category_max_tier = TrustTier::InTenancy,
    }
    t
}

fn ids(d: &Decision) -> BTreeSet<DeploymentId> {
    d.admitted().iter().map(|a| a.id().clone()).collect()
}

proptest! {
    #[test]
    fn rejected_is_never_chosen_nor_fallback(
        cat in catalogue(), p in policy(), r in request(), down in proptest::collection::vec(any::<bool>(), 12)
    ) {
        let cands: Vec<Candidate> = cat.iter().map(|f| Candidate { facts: f, price_eur_per_mtok: 1.0 }).collect();
        let d = decide(&r, &p, &cands, crate::Strategy::Priority, |id| {
            let i: usize = id.0[1..].parse().unwrap();
            if down[i] { Health::DOWN } else { Health::UP }
        });
        let rejected: BTreeSet<_> = d.rejected.iter().map(|x| x.id.clone()).collect();
        for a in d.admitted() {
            prop_assert!(!rejected.contains(a.id()));
            // Admitted means every check passes, and the facts say so.
            let f = cat.iter().find(|f| &f.id == a.id()).unwrap();
            prop_assert!(evaluate(&r, &p, f).is_empty());
            prop_assert!(p.admitted_clusters.contains(&f.cluster()));
            prop_assert!(p.allow_cloud_act || !f.cloud_act_exposed());
            prop_assert!(f.tier() <= p.max_tier);
            if r.sensitivity == Sensitivity::SpecialCategory {
                prop_assert!(f.tier() <= p.special_category_max_tier);
            }
        }
        for x in &d.rejected {
            prop_assert!(!x.reasons.is_empty());
        }
        // Every candidate lands in exactly one bucket.
        prop_assert_eq!(d.admitted().len() + d.unavailable.len() + d.rejected.len(), cat.len());
        prop_assert_eq!(d.refusal().is_none(), d.chosen().is_some());
    }

    #[test]
    fn admitted_set_is_independent_of_candidate_order(
        cat in catalogue(), p in policy(), r in request(), seed in any::<u64>()
    ) {
        let cands: Vec<Candidate> = cat.iter().map(|f| Candidate { facts: f, price_eur_per_mtok: 1.0 }).collect();
        let mut shuffled = cands.clone();
        // Deterministic Fisher-Yates from the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let a = decide(&r, &p, &cands, crate::Strategy::Priority, |_| Health::UP);
        let b = decide(&r, &p, &shuffled, crate::Strategy::Priority, |_| Health::UP);
        prop_assert_eq!(ids(&a), ids(&b));
    }

    #[test]
    fn tightening_never_widens_the_admitted_set(
        cat in catalogue(), p in policy(), r in request(), steps in proptest::collection::vec((any::<u8>(), any::<usize>()), 1..4)
    ) {
        let cands: Vec<Candidate> = cat.iter().map(|f| Candidate { facts: f, price_eur_per_mtok: 1.0 }).collect();
        let mut tight = p.clone();
        for (step, pick) in steps {
            tight = tighten(&tight, step, pick);
        }
        let loose = ids(&decide(&r, &p, &cands, crate::Strategy::Priority, |_| Health::UP));
        let strict = ids(&decide(&r, &tight, &cands, crate::Strategy::Priority, |_| Health::UP));
        prop_assert!(strict.is_subset(&loose), "tightened policy admitted {:?} beyond {:?}", strict, loose);
    }

    #[test]
    fn cost_strategy_orders_by_price_and_keeps_the_set(
        cat in catalogue(), p in policy(), r in request(), prices in proptest::collection::vec(0.0f64..100.0, 12)
    ) {
        let cands: Vec<Candidate> = cat.iter().enumerate().map(|(i, f)| Candidate { facts: f, price_eur_per_mtok: prices[i] }).collect();
        let by_cost = decide(&r, &p, &cands, crate::Strategy::Cost, |_| Health::UP);
        let by_prio = decide(&r, &p, &cands, crate::Strategy::Priority, |_| Health::UP);
        prop_assert_eq!(ids(&by_cost), ids(&by_prio));
        let costs: Vec<f64> = by_cost.admitted().iter().map(|a| prices[a.id().0[1..].parse::<usize>().unwrap()]).collect();
        prop_assert!(costs.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn uk_and_eu_requests_stay_in_their_cluster() {
    let mk = |id: &str, c: &str| DeploymentFacts {
        id: id.into(),
        operator: id.into(),
        operator_country: Country::parse(c).unwrap(),
        parent_jurisdiction: Country::parse(c).unwrap(),
        dc_country: Country::parse(c).unwrap(),
        region: "r".into(),
        hosting: Hosting::Managed,
        retention: Retention::Zero,
        dpa_signed: true,
        provenance: Provenance {
            trained_by: "Mistral AI".into(),
            licence: "Apache-2.0".into(),
        },
    };
    let paris = mk("paris", "FR");
    let london = mk("london", "GB");
    let cands = [
        Candidate {
            facts: &paris,
            price_eur_per_mtok: 1.0,
        },
        Candidate {
            facts: &london,
            price_eur_per_mtok: 1.0,
        },
    ];
    let policy = TenantPolicy {
        admitted_clusters: [LegalCluster::EuGdpr, LegalCluster::UkGdpr].into(),
        residency: Residency::SameCluster,
        ..TenantPolicy::default()
    };
    let at = |c: &str| RequestFacts {
        region: Country::parse(c),
        sensitivity: Sensitivity::None,
    };
    let uk = decide(
        &at("GB"),
        &policy,
        &cands,
        crate::Strategy::Priority,
        |_| Health::UP,
    );
    assert_eq!(
        uk.admitted()
            .iter()
            .map(|a| a.id().0.as_str())
            .collect::<Vec<_>>(),
        ["london"]
    );
    assert_eq!(uk.rejected[0].reasons[0].code(), "outside_request_cluster");
    let eu = decide(
        &at("DE"),
        &policy,
        &cands,
        crate::Strategy::Priority,
        |_| Health::UP,
    );
    assert_eq!(
        eu.admitted()
            .iter()
            .map(|a| a.id().0.as_str())
            .collect::<Vec<_>>(),
        ["paris"]
    );
    let unknown = RequestFacts {
        region: None,
        sensitivity: Sensitivity::None,
    };
    let d = decide(&unknown, &policy, &cands, crate::Strategy::Priority, |_| {
        Health::UP
    });
    assert_eq!(d.refusal(), Some(Refusal::Policy));
}

#[test]
fn special_category_stays_in_tenancy_by_default() {
    let mut managed = crate::facts::tests::facts("mistral", "FR", "FR", "FR", Hosting::Managed);
    managed.retention = Retention::Days(30);
    let local = crate::facts::tests::facts("local", "FR", "FR", "FR", Hosting::InTenancy);
    let cands = [
        Candidate {
            facts: &managed,
            price_eur_per_mtok: 1.0,
        },
        Candidate {
            facts: &local,
            price_eur_per_mtok: 1.0,
        },
    ];
    let req = RequestFacts {
        region: None,
        sensitivity: Sensitivity::SpecialCategory,
    };
    let d = decide(
        &req,
        &TenantPolicy::default(),
        &cands,
        crate::Strategy::Priority,
        |_| Health::UP,
    );
    assert_eq!(d.chosen().unwrap().id().0, "local");
    assert_eq!(d.rejected[0].reasons[0].code(), "sensitivity_needs_tier");
    let d = decide(
        &req,
        &TenantPolicy::default(),
        &cands,
        crate::Strategy::Priority,
        |id| {
            if id.0 == "local" {
                Health::DOWN
            } else {
                Health::UP
            }
        },
    );
    assert_eq!(d.refusal(), Some(Refusal::NoneHealthy));
}
