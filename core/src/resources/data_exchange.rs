//! `DataExchange`: an interoperability agreement — one institution's service (the provider)
//! opened to another institution (the consumer) for one purpose, under one legal basis, for a
//! bounded time, once both sides approved it. Soberana judges it with the placement engine's
//! residency rules before any path opens, opens exactly that path on the sites where both ends
//! run, and closes it when the agreement expires, is revoked or stops complying.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An agreement letting a consumer institution call a provider institution's service.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "soberana.io",
    version = "v1alpha1",
    kind = "DataExchange",
    status = "DataExchangeStatus",
    shortname = "dx",
    category = "soberana",
    derive = "PartialEq",
    doc = "An interoperability agreement: a consumer institution may call a provider institution's service, for a purpose and legal basis, until it expires.",
    printcolumn(
        name = "Provider",
        type_ = "string",
        json_path = ".spec.provider.tenant"
    ),
    printcolumn(
        name = "Consumer",
        type_ = "string",
        json_path = ".spec.consumer.tenant"
    ),
    printcolumn(
        name = "Classification",
        type_ = "string",
        json_path = ".spec.classification"
    ),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    // `string`, not `date`: kubectl prints a `date` column as the age since then, and a time in
    // the future as `<invalid>`.
    printcolumn(
        name = "Expires",
        type_ = "string",
        json_path = ".spec.validity.notAfter"
    )
)]
#[x_kube(
    validation = Rule::new("self.provider.tenant != self.consumer.tenant").message("provider.tenant and consumer.tenant must differ: a tenant's own namespaces already reach each other")
)]
#[serde(rename_all = "camelCase")]
pub struct DataExchangeSpec {
    /// The institution offering the service, and which service.
    pub provider: ExchangeProvider,
    /// The institution calling it.
    pub consumer: ExchangeConsumer,
    /// Name of the DataClassification of the data exchanged; at least as sensitive as the
    /// provider Workload's own.
    #[schemars(length(min = 1, max = 253))]
    pub classification: String,
    /// What the consumer uses the data for, as the agreement states it.
    #[schemars(length(min = 1, max = 512))]
    pub purpose: String,
    /// The law, decree or agreement that allows the exchange.
    #[schemars(length(min = 1, max = 512))]
    pub legal_basis: String,
    /// When the agreement is in force.
    pub validity: Validity,
    /// Who approved it on each side; it is active only once both have.
    #[serde(default)]
    pub approvals: Approvals,
    /// Set to end the agreement before it expires; the path closes at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
}

/// The provider end: a Workload of the provider tenant and the ports it serves on.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeProvider {
    /// The providing Tenant.
    #[schemars(length(min = 1, max = 253))]
    pub tenant: String,
    /// The environment of the provider Workload (its namespace is `<shortCode>-<environment>`).
    #[schemars(length(min = 1, max = 30))]
    pub environment: String,
    /// The provider Workload's name.
    #[schemars(length(min = 1, max = 253))]
    pub workload: String,
    /// The ports opened to the consumer, and only these.
    #[schemars(length(min = 1, max = 16))]
    pub ports: Vec<ExchangePort>,
}

/// One port of the provider's pods.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExchangePort {
    /// The port number on the provider's pods.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default)]
    pub protocol: ExchangeProtocol,
}

impl ExchangePort {
    /// `8443/TCP`, as tables and the API show a port.
    pub fn label(&self) -> String {
        format!("{}/{}", self.port, self.protocol.as_str())
    }
}

/// A transport protocol, as NetworkPolicies name them.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExchangeProtocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl ExchangeProtocol {
    /// The name NetworkPolicies use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        }
    }
}

/// The consumer end: environments of the consumer tenant, optionally only some Workloads.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeConsumer {
    /// The consuming Tenant.
    #[schemars(length(min = 1, max = 253))]
    pub tenant: String,
    /// The consumer's environments whose namespaces may call the provider.
    #[schemars(length(min = 1, max = 16))]
    pub environments: Vec<String>,
    /// Only these Workloads of the consumer (by name) may call; all of the environments'
    /// Workloads when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub workloads: Vec<String>,
}

/// When the agreement is in force: from `notBefore` (default: as soon as approved) until
/// `notAfter`, which is required — no agreement is open-ended.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.notBefore) || self.notBefore < self.notAfter").message("validity.notBefore must be before validity.notAfter")
)]
#[serde(rename_all = "camelCase")]
pub struct Validity {
    /// Not in force before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// Not in force from this time on (RFC 3339).
    pub not_after: Time,
}

/// Each side's approval. Each is written by the person approving, as themselves: the
/// management cluster's `soberana-exchange-approvals` admission policy refuses an approval whose
/// `approvedBy` is not the writer's own user name (or whose `groups` the writer does not hold),
/// and Soberana honours it only from an owner of that side's Tenant.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Approvals {
    /// The provider institution's approval, by one of the provider Tenant's owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Approval>,
    /// The consumer institution's approval, by one of the consumer Tenant's owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<Approval>,
}

/// One approval: who gave it (as the management cluster authenticated them), and the
/// reference of the signed document. It covers the agreement's terms as they were when it was
/// given: a later change to the provider, consumer, classification, purpose, legal basis or
/// validity is refused unless the approvals are given again in the same write (or removed).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The user name of the approver, exactly as the management cluster authenticates them;
    /// only that user may write it (setting or changing it as anyone else is refused at
    /// admission). Honoured when it is a `User` owner of the side's Tenant.
    #[schemars(length(min = 1, max = 256))]
    pub approved_by: String,
    /// Groups the approver holds and approves as (each one checked at admission against the
    /// writer's groups); the approval is honoured when one is a `Group` owner of the side's
    /// Tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub groups: Vec<String>,
    /// The reference of the signed approval (file number, resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub reference: Option<String>,
}

/// An early end of the agreement.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    /// Who revoked it.
    #[schemars(length(min = 1, max = 256))]
    pub revoked_by: String,
    /// Why.
    #[schemars(length(min = 1, max = 512))]
    pub reason: String,
}

/// Where an agreement stands.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum ExchangeState {
    /// Awaiting an approval, `notBefore`, or the provider Workload's placement.
    Pending,
    /// Approved, in force and compliant: the paths are open.
    Active,
    /// It does not comply (residency, ceiling, unknown objects); `reasons` says why. Nothing
    /// is open.
    Refused,
    /// `notAfter` passed; the paths are closed.
    Expired,
    /// Revoked; the paths are closed.
    Revoked,
}

impl ExchangeState {
    /// The name shown in status, metrics and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Active => "Active",
            Self::Refused => "Refused",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }
}

/// What Soberana found and did.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataExchangeStatus {
    /// `Ready` (the agreement is in force and its paths are open) and others; keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the agreement stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ExchangeState>,
    /// Why it is not active (every reason, per site where a site is at fault).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The sites where the path is open (both ends run there), as each site confirmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_on: Vec<String>,
    /// The sites where the path should be closed but the site has not confirmed it is (it did
    /// not answer, or a NetworkPolicy could not be deleted): the `Ready` condition names what
    /// is still there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub still_open_on: Vec<String>,
    /// Pairs of sites where the provider runs on one and the consumer only on the other:
    /// these need the site-to-site path, which Soberana does not open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_site: Vec<CrossSitePath>,
}

/// A provider site and the consumer sites that would reach it across sites.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CrossSitePath {
    /// Where the provider runs.
    pub provider_site: String,
    /// Where consumers run without the provider.
    pub consumer_sites: Vec<String>,
}

/// `provider-site ← consumer-site, …`, as tables show a path that would cross sites.
pub fn cross_site_label(provider_site: &str, consumer_sites: &[String]) -> String {
    format!("{provider_site} ← {}", consumer_sites.join(", "))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use kube::CustomResourceExt;

    use super::DataExchange;

    /// kubectl prints a `date` column as the age since then: every future `notAfter` showed as
    /// `<invalid>`. The date itself is what a reader of the table needs.
    #[test]
    fn the_expires_column_shows_the_date_not_an_age() {
        let crd = DataExchange::crd();
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap();
        let expires = columns
            .iter()
            .find(|column| column.name == "Expires")
            .unwrap();
        assert_eq!(expires.json_path, ".spec.validity.notAfter");
        assert_eq!(expires.type_, "string");
    }
}
