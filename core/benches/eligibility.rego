# Which sites may host a workload: every hard filter of Soberana's placement engine
# (core/src/placement/filters.rs) written in Rego, as the baseline of the placement_vs_rego
# benchmark. Only eligibility: no scores, spread or reason sentences.
#
# input:
#   workload        the Workload object (camelCase, as the API stores it), plus
#                   `availabilityTargetPpm` when spec.availabilityTarget is set
#   classification  the workload's DataClassification, plus `minimumAvailabilityPpm` when
#                   spec.minimumAvailability is set
#   ceiling         the DataClassification named by the tenant's spec.highestClassification
#   tenant          the workload's Tenant
#   rules           the PlacementRules whose selector selects the workload
#   sites           optional: the Site objects, each plus `offeredAvailabilityPpm`; when absent
#                   they are read from data.sites (loaded once, so each input stays small)
#
# Availabilities arrive as integer parts per million (99.95 % is 999500), parsed once by the
# caller as the engine's Snapshot does, so the policy only compares integers.
#
# eligible: the set of names of the sites that pass every filter.
package soberana.eligibility

import rego.v1

sites := input.sites if {
	input.sites
} else := data.sites

eligible contains site.metadata.name if {
	within_tenant_ceiling
	some site in sites
	classification_allows(site)
	offers_availability(site)
	ready(site)
	tolerated(site)
	tenant_allows(site)
	rules_allow(site)
	fits(site)
}

# Facts of the workload, computed once per evaluation.

classification := input.classification.spec

within_tenant_ceiling if classification.rank <= input.ceiling.spec.rank

# The site must offer at least the classification's minimum and the workload's target.
minimum_ppm := max([
	object.get(input.classification, "minimumAvailabilityPpm", 0),
	object.get(input.workload, "availabilityTargetPpm", 0),
])

tolerations := object.get(input.workload.spec, "tolerations", [])

tenant_sites := object.get(input.tenant.spec, "allowedSites", [])

# Capacity needed on each chosen site: one replica's resources times the replicas.
demand[resource] := amount if {
	some resource in ["cpuMillicores", "memoryMebibytes", "storageGibibytes"]
	amount := object.get(input.workload.spec.resources, resource, 0) * input.workload.spec.replicas
}

# Requirements of the classification: jurisdiction, sovereignty tier, certifications, key
# custody, encryption in transit and backups.

classification_allows(site) if {
	facts := site.spec
	one_of_or_any(object.get(classification, "allowedJurisdictions", []), facts.jurisdiction)
	one_of_or_any(object.get(classification, "allowedSovereigntyTiers", []), facts.sovereigntyTier)
	held := object.get(facts, "certifications", [])
	every certification in object.get(classification, "requiredCertifications", []) {
		certification in held
	}
	key_custody_offered(facts)
	encrypts_in_transit(facts)
	keeps_backups(facts)
}

# An empty list allows any value.
one_of_or_any(allowed, _) if count(allowed) == 0

one_of_or_any(allowed, value) if value in allowed

key_custody_offered(_) if not classification.encryptionAtRest

# Key custody is ordered: the required model or a stronger one.
key_custody_offered(facts) if {
	some offered in object.get(facts, "keyCustody", [])
	custody_strength[offered] >= custody_strength[classification.encryptionAtRest.keyCustody]
}

custody_strength := {"StateHeldHsm": 3, "CustomerManaged": 2, "ProviderManaged": 1}

encrypts_in_transit(_) if not classification.encryptionInTransit

encrypts_in_transit(facts) if facts.encryptionInTransit

keeps_backups(_) if not classification.backup

# A site without backups keeps 0 copies.
keeps_backups(facts) if {
	object.get(facts, ["backup", "copies"], 0) >= classification.backup.copies
	backups_in_place(facts)
}

backups_in_place(_) if not classification.backup.sameJurisdiction

backups_in_place(facts) if not facts.backup

backups_in_place(facts) if facts.backup.jurisdiction == facts.jurisdiction

# Availability, readiness and taints.

offers_availability(site) if site.offeredAvailabilityPpm >= minimum_ppm

# The first Ready condition decides; a site never probed (no Ready condition) counts as ready.
ready(site) if not reported_not_ready(site)

reported_not_ready(site) if {
	readiness := [condition.status | some condition in site.status.conditions; condition.type == "Ready"]
	readiness[0] != "True"
}

tolerated(site) if {
	every taint in object.get(site.spec, "taints", []) {
		taint.key in tolerations
	}
}

# The tenant's allowed sites (empty allows every site) and the matching rules' constraints.

tenant_allows(_) if count(tenant_sites) == 0

tenant_allows(site) if site.metadata.name in tenant_sites

rules_allow(site) if {
	labels := object.get(site.metadata, "labels", {})
	every rule in input.rules {
		not site.metadata.name in object.get(rule.spec.constraints, "excludedSites", [])
		every key, value in object.get(rule.spec.constraints, "siteSelector", {}) {
			labels[key] == value
		}
	}
}

# Free capacity is capacity minus what status reports allocated, floored at zero.
fits(site) if {
	allocated := object.get(site, ["status", "allocated"], {})
	every resource, amount in demand {
		amount <= max([0, object.get(site.spec.capacity, resource, 0) - object.get(allocated, resource, 0)])
	}
}
