//! The synthetic state data centre the core benchmarks run on: a national classification scheme,
//! M sites (StateOwned / NationalProvider / ForeignPublic in CR, PA and US, with taints, not-ready
//! and over-allocated sites), 20 tenants, 6 placement rules and N workloads, from a seeded
//! xorshift so that every run and every benchmark sees the same estate for the same size.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

const JURISDICTIONS: [&str; 3] = ["CR", "PA", "US"];
const AVAILABILITIES: [&str; 6] = ["99.0", "99.5", "99.9", "99.95", "99.99", "99.995"];
const CERTIFICATIONS: [(&str, u64); 5] = [
    ("ISO27001", 70),
    ("TierIII", 55),
    ("TierIV", 15),
    ("SOC2", 40),
    ("ISO27017", 30),
];
const REGIONS: [&str; 3] = ["norte", "central", "sur"];
const TENANTS: [&str; 20] = [
    "hacienda",
    "salud",
    "ccss",
    "educacion",
    "seguridad",
    "registro-civil",
    "tse",
    "migracion",
    "aduanas",
    "obras-publicas",
    "ambiente",
    "agricultura",
    "cultura",
    "turismo",
    "vivienda",
    "trabajo",
    "justicia",
    "presidencia",
    "estadistica",
    "correos",
];

/// xorshift64*: small, fast and deterministic; no external crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..bound` (bound > 0; the modulo bias is irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn index(&mut self, length: usize) -> usize {
        usize::try_from(self.below(length as u64)).expect("an index fits in usize")
    }

    /// True with `percent` % probability.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

fn typed<T: serde::de::DeserializeOwned>(kind: &str, value: Value) -> T {
    let text = value.to_string();
    serde_json::from_value(value)
        .unwrap_or_else(|error| panic!("generated {kind}: {error}\n{text}"))
}

fn site_name(index: usize) -> String {
    format!("site-{index:03}")
}

/// The national classification scheme: each level tightens the one below.
fn classifications() -> Vec<DataClassification> {
    let specs = [
        (
            "public",
            json!({"rank": 0, "legalBasis": "Ley 9097, derecho de petición y acceso a la información",
                   "minimumAvailability": "99.0"}),
        ),
        (
            "internal",
            json!({"rank": 10, "legalBasis": "Directriz MICITT-2023 de uso interno",
                   "allowedJurisdictions": ["CR", "PA"], "requiredCertifications": ["ISO27001"],
                   "encryptionAtRest": {"keyCustody": "ProviderManaged"},
                   "encryptionInTransit": true, "backup": {"copies": 1, "sameJurisdiction": false},
                   "minimumAvailability": "99.5"}),
        ),
        (
            "confidential",
            json!({"rank": 20, "legalBasis": "Ley 8968 de protección de datos personales, art. 10",
                   "allowedJurisdictions": ["CR"], "allowedSovereigntyTiers": ["StateOwned", "NationalProvider"],
                   "requiredCertifications": ["ISO27001", "TierIII"],
                   "encryptionAtRest": {"keyCustody": "CustomerManaged"}, "encryptionInTransit": true,
                   "backup": {"copies": 2, "sameJurisdiction": true}, "minimumAvailability": "99.9"}),
        ),
        (
            "restricted",
            json!({"rank": 30, "legalBasis": "Ley 7202 del Sistema Nacional de Archivos y Ley 8968, art. 9",
                   "allowedJurisdictions": ["CR"], "allowedSovereigntyTiers": ["StateOwned"],
                   "requiredCertifications": ["ISO27001", "TierIII", "ISO27017"],
                   "encryptionAtRest": {"keyCustody": "StateHeldHsm"}, "encryptionInTransit": true,
                   "backup": {"copies": 3, "sameJurisdiction": true}, "minimumAvailability": "99.95"}),
        ),
    ];
    specs
        .into_iter()
        .map(|(name, spec)| {
            typed(
                "DataClassification",
                json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
                       "metadata": {"name": name}, "spec": spec}),
            )
        })
        .collect()
}

fn site(rng: &mut Rng, index: usize) -> Site {
    let name = site_name(index);
    let roll = rng.below(100);
    let (tier, jurisdiction, provider) = if roll < 30 {
        ("StateOwned", "CR", "agencia-digital".to_owned())
    } else if roll < 65 {
        let jurisdiction = if rng.chance(75) { "CR" } else { "PA" };
        (
            "NationalProvider",
            jurisdiction,
            format!("proveedor-nacional-{}", rng.below(4)),
        )
    } else {
        // A foreign public cloud, sometimes with a region inside the country.
        let jurisdiction = *rng.pick(&["CR", "CR", "US", "US", "PA"]);
        (
            "ForeignPublic",
            jurisdiction,
            format!("nube-publica-{}", rng.below(3)),
        )
    };
    let certifications: Vec<&str> = CERTIFICATIONS
        .iter()
        .filter(|(_, percent)| rng.chance(*percent))
        .map(|(certification, _)| *certification)
        .collect();
    let (hsm, own, managed) = match tier {
        "StateOwned" => (85, 10, 30),
        "NationalProvider" => (50, 40, 80),
        _ => (35, 25, 95), // some foreign clouds take keys from the state's HSM or key manager
    };
    let mut custody = Vec::new();
    if rng.chance(hsm) {
        custody.push("StateHeldHsm");
    }
    if rng.chance(own) {
        custody.push("CustomerManaged");
    }
    if rng.chance(managed) {
        custody.push("ProviderManaged");
    }
    let cpu = 16_000 * (2 + rng.below(30));
    let mut spec = json!({
        "provider": provider, "sovereigntyTier": tier, "jurisdiction": jurisdiction,
        "region": format!("{}-{}", jurisdiction.to_lowercase(), rng.pick(&REGIONS)),
        "zones": (0..1 + rng.below(3)).map(|zone| format!("{name}-z{zone}")).collect::<Vec<_>>(),
        "certifications": certifications, "keyCustody": custody,
        "encryptionInTransit": rng.chance(88),
        "offeredAvailability": rng.pick(&AVAILABILITIES),
        "capacity": {"cpuMillicores": cpu, "memoryMebibytes": cpu * 4, "storageGibibytes": 1_000 * (1 + rng.below(40))},
    });
    if rng.chance(88) {
        let elsewhere = rng.chance(30);
        let backup_in = if elsewhere {
            *rng.pick(&JURISDICTIONS)
        } else {
            jurisdiction
        };
        spec["backup"] = json!({"copies": rng.below(5), "jurisdiction": backup_in});
    }
    if rng.chance(90) {
        spec["costIndex"] = json!(rng.below(101));
    }
    let mut taints = Vec::new();
    if rng.chance(8) {
        taints.push(json!({"key": "maintenance", "reason": "ventana de mantenimiento"}));
    }
    if rng.chance(4) {
        taints.push(json!({"key": "cordon"}));
    }
    spec["taints"] = json!(taints);

    let mut labels = BTreeMap::new();
    let class = rng.below(100);
    if class < 30 {
        labels.insert("soberana.io/tier", "gold");
    } else if class < 80 {
        labels.insert("soberana.io/tier", "silver");
    }
    if (tier == "StateOwned" && rng.chance(80)) || (tier == "NationalProvider" && rng.chance(30)) {
        labels.insert("network", "red-estatal");
    }
    labels.insert("region", *rng.pick(&REGIONS));

    let mut object = json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site",
        "metadata": {"name": name, "labels": labels}, "spec": spec,
    });
    if rng.chance(90) {
        let ready = match rng.below(100) {
            0..85 => "True",
            85..95 => "False",
            _ => "Unknown",
        };
        let mut status = json!({});
        if rng.chance(92) {
            status["conditions"] = json!([{
                "type": "Ready", "status": ready, "reason": "Probed", "message": "last probe",
                "lastTransitionTime": "2026-01-15T10:00:00Z"
            }]);
        }
        if rng.chance(90) {
            let used = |rng: &mut Rng, total: u64| {
                if rng.chance(4) {
                    total + 1 + rng.below(total) // over-allocated: no free capacity at all
                } else {
                    total * rng.below(96) / 100
                }
            };
            let storage = spec["capacity"]["storageGibibytes"].as_u64().unwrap();
            status["allocated"] = json!({
                "cpuMillicores": used(rng, cpu), "memoryMebibytes": used(rng, cpu * 4),
                "storageGibibytes": used(rng, storage),
            });
        }
        object["status"] = status;
    }
    typed("Site", object)
}

fn tenants(rng: &mut Rng, site_count: usize) -> Vec<Tenant> {
    TENANTS
        .iter()
        .map(|name| {
            let ceiling = match rng.below(100) {
                0..25 => "restricted",
                25..60 => "confidential",
                60..85 => "internal",
                _ => "public",
            };
            let mut allowed = Vec::new();
            if rng.chance(25) {
                allowed = (0..site_count)
                    .filter(|_| rng.chance(50))
                    .map(site_name)
                    .collect();
                if allowed.is_empty() {
                    allowed.push(site_name(rng.index(site_count)));
                }
            }
            typed(
                "Tenant",
                json!({
                    "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
                    "spec": {"displayName": format!("Institución {name}"), "shortCode": name,
                             "highestClassification": ceiling,
                             "environments": [{"name": "prod"}, {"name": "staging"}],
                             "quota": {"cpuMillicores": 64_000, "memoryMebibytes": 262_144},
                             "allowedSites": allowed}
                }),
            )
        })
        .collect()
}

fn rules(rng: &mut Rng, site_count: usize) -> Vec<PlacementRule> {
    let mut some_sites = |count: usize| -> Vec<String> {
        (0..count)
            .map(|_| site_name(rng.index(site_count)))
            .collect()
    };
    let audited = some_sites(2);
    let retiring = some_sites(1);
    let legacy = some_sites(3);
    [
        json!({"name": "estatal-para-restringidos", "spec": {"priority": 100,
            "selector": {"classifications": ["restricted"]},
            "constraints": {"siteSelector": {"network": "red-estatal"}},
            "preferences": {"sovereignty": 80, "cost": 0, "availability": 20, "proximity": 0}}}),
        json!({"name": "exclusion-por-auditoria", "spec": {"priority": 10,
            "selector": {"tenants": ["hacienda", "aduanas"]},
            "constraints": {"excludedSites": audited}}}),
        json!({"name": "criticos-en-oro", "spec": {"priority": 50,
            "selector": {"matchLabels": {"criticality": "high"}},
            "constraints": {"siteSelector": {"soberana.io/tier": "gold"},
                            "spread": {"minimumSites": 2, "across": "Zones"}}}}),
        json!({"name": "retiro-programado", "spec": {"priority": 0,
            "constraints": {"excludedSites": retiring}}}),
        json!({"name": "salud-en-el-norte", "spec": {"priority": 20,
            "selector": {"tenants": ["salud", "ccss"], "classifications": ["confidential"]},
            "constraints": {"siteSelector": {"region": "norte"}},
            "preferences": {"sovereignty": 30, "cost": 10, "availability": 40, "proximity": 20}}}),
        json!({"name": "sistemas-heredados", "spec": {"priority": -5,
            "selector": {"matchLabels": {"legacy": "true"}},
            "constraints": {"excludedSites": legacy}}}),
    ]
    .into_iter()
    .map(|rule| {
        typed(
            "PlacementRule",
            json!({"apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule",
                   "metadata": {"name": rule["name"]}, "spec": rule["spec"]}),
        )
    })
    .collect()
}

fn workload(
    rng: &mut Rng,
    index: usize,
    tenants: &[Tenant],
    classifications: &[DataClassification],
    site_count: usize,
) -> Workload {
    let tenant = rng.pick(tenants);
    let tenant_name = tenant.metadata.name.clone().unwrap();
    let ceiling_rank = classifications
        .iter()
        .find(|classification| {
            classification.metadata.name.as_deref()
                == Some(tenant.spec.highest_classification.as_str())
        })
        .unwrap()
        .spec
        .rank;
    // Mostly within the tenant's ceiling; sometimes above it, which no site can fix.
    let candidates: Vec<&DataClassification> = classifications
        .iter()
        .filter(|classification| rng.chance(8) || classification.spec.rank <= ceiling_rank)
        .collect();
    let classification = if candidates.is_empty() {
        &classifications[0]
    } else {
        *rng.pick(&candidates)
    };
    let big = rng.chance(5);
    let cpu = if big {
        32_000 + 16_000 * rng.below(8)
    } else {
        100 * (1 + rng.below(40))
    };
    let mut spec = json!({
        "tenant": tenant_name, "classification": classification.metadata.name,
        "replicas": 1 + rng.below(6),
        "resources": {"cpuMillicores": cpu, "memoryMebibytes": cpu * (1 + rng.below(8)),
                      "storageGibibytes": if rng.chance(30) { 0 } else { 10 * rng.below(50) }},
    });
    if rng.chance(30) {
        spec["availabilityTarget"] = json!(rng.pick(&AVAILABILITIES));
    }
    let tolerations = match rng.below(100) {
        0..10 => json!(["maintenance"]),
        10..13 => json!(["maintenance", "cordon"]),
        _ => json!([]),
    };
    spec["tolerations"] = tolerations;
    if rng.chance(15) {
        let across = rng.pick(&["Sites", "Zones", "Providers"]);
        spec["spread"] = json!({"minimumSites": 2, "maximumSites": 3, "across": across});
    }
    if rng.chance(20) {
        spec["dataLocation"] = json!({"site": site_name(rng.index(site_count))});
    }
    if rng.chance(3) {
        spec["labels"] = json!({"legacy": "true"});
    }
    let mut labels = json!({"app": format!("svc-{}", index % 97)});
    if rng.chance(15) {
        labels["criticality"] = json!("high");
    }
    typed(
        "Workload",
        json!({"apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
               "metadata": {"name": format!("svc-{index:05}"), "namespace": format!("{tenant_name}-prod"),
                            "labels": labels},
               "spec": spec}),
    )
}

/// Everything at one size.
pub struct World {
    pub sites: Vec<Site>,
    pub classifications: Vec<DataClassification>,
    pub tenants: Vec<Tenant>,
    pub rules: Vec<PlacementRule>,
    pub workloads: Vec<Workload>,
}

impl World {
    pub fn generate(workload_count: usize, site_count: usize) -> Self {
        let mut rng =
            Rng::new(0x50BE_7A4A_2026 ^ ((site_count as u64) << 32) ^ workload_count as u64);
        let classifications = classifications();
        let sites = (0..site_count).map(|index| site(&mut rng, index)).collect();
        let tenants = tenants(&mut rng, site_count);
        let rules = rules(&mut rng, site_count);
        let workloads = (0..workload_count)
            .map(|index| workload(&mut rng, index, &tenants, &classifications, site_count))
            .collect();
        Self {
            sites,
            classifications,
            tenants,
            rules,
            workloads,
        }
    }
}
