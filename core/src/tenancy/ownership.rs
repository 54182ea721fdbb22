//! Whose a member namespace is. A Tenant's name can be reused after it is deleted, and a short
//! code can collide with a namespace the cluster already has (`kube-system`); only the UID of the
//! Tenant recorded on the namespace proves it is that tenant's. Soberana writes to or deletes a
//! namespace only when this says it is the tenant's own.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels;

/// A Tenant as its namespaces record it: its name and its UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantIdentity {
    pub name: String,
    pub uid: String,
}

/// Whether a namespace on a member may be written or deleted for a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceOwnership {
    /// No such namespace: the tenant may create it.
    Absent,
    /// It carries this tenant's UID (or, written before UIDs were recorded, this tenant's name
    /// and Soberana's mark with no UID at all).
    Ours,
    /// Someone else's; the text says whose, for a status message.
    Foreign(String),
}

impl NamespaceOwnership {
    /// Judges an existing namespace's metadata (`None` when it does not exist).
    pub fn of(existing: Option<&ObjectMeta>, identity: &TenantIdentity) -> Self {
        let Some(metadata) = existing else {
            return Self::Absent;
        };
        let label = |key: &str| {
            metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(key))
                .map(String::as_str)
        };
        let recorded_uid = metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(labels::TENANT_UID))
            .map(String::as_str);
        let managed = label(labels::MANAGED_BY) == Some(labels::MANAGER);
        let tenant = label(labels::TENANT);
        match (recorded_uid, managed, tenant) {
            (Some(uid), _, _) if uid == identity.uid => Self::Ours,
            (None, true, Some(name)) if name == identity.name => Self::Ours,
            (Some(_), true, Some(name)) if name == identity.name => {
                Self::Foreign(format!("an earlier Tenant also named {name} (another UID)"))
            }
            (_, true, Some(name)) => Self::Foreign(format!("Tenant {name}")),
            _ => Self::Foreign("the cluster itself (not a Soberana tenant namespace)".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn identity() -> TenantIdentity {
        TenantIdentity {
            name: "ministry-of-health".to_owned(),
            uid: "uid-1".to_owned(),
        }
    }

    fn namespace(labels: &[(&str, &str)], uid: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some("minsa-prod".to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
            ),
            annotations: uid
                .map(|uid| BTreeMap::from([(labels::TENANT_UID.to_owned(), uid.to_owned())])),
            ..ObjectMeta::default()
        }
    }

    const OURS: [(&str, &str); 2] = [
        (labels::MANAGED_BY, labels::MANAGER),
        (labels::TENANT, "ministry-of-health"),
    ];

    #[test]
    fn a_missing_namespace_may_be_created() {
        assert_eq!(
            NamespaceOwnership::of(None, &identity()),
            NamespaceOwnership::Absent
        );
    }

    #[test]
    fn the_uid_proves_ownership() {
        let existing = namespace(&OURS, Some("uid-1"));
        assert_eq!(
            NamespaceOwnership::of(Some(&existing), &identity()),
            NamespaceOwnership::Ours
        );
    }

    #[test]
    fn a_namespace_written_before_uids_were_recorded_is_recognised_by_its_labels() {
        let existing = namespace(&OURS, None);
        assert_eq!(
            NamespaceOwnership::of(Some(&existing), &identity()),
            NamespaceOwnership::Ours
        );
    }

    #[test]
    fn the_same_name_with_another_uid_is_an_earlier_tenant() {
        let existing = namespace(&OURS, Some("uid-0"));
        assert_eq!(
            NamespaceOwnership::of(Some(&existing), &identity()),
            NamespaceOwnership::Foreign(
                "an earlier Tenant also named ministry-of-health (another UID)".to_owned()
            )
        );
    }

    #[test]
    fn another_tenants_namespace_is_named() {
        let existing = namespace(
            &[
                (labels::MANAGED_BY, labels::MANAGER),
                (labels::TENANT, "ccss"),
            ],
            Some("uid-9"),
        );
        assert_eq!(
            NamespaceOwnership::of(Some(&existing), &identity()),
            NamespaceOwnership::Foreign("Tenant ccss".to_owned())
        );
    }

    #[test]
    fn a_namespace_soberana_never_made_is_the_clusters() {
        let existing = namespace(&[("kubernetes.io/metadata.name", "kube-system")], None);
        assert!(matches!(
            NamespaceOwnership::of(Some(&existing), &identity()),
            NamespaceOwnership::Foreign(owner) if owner.contains("the cluster itself")
        ));
        // Borrowing our labels without our UID does not make a namespace ours either.
        let forged = namespace(
            &[(labels::TENANT, "ministry-of-health")],
            Some("uid-forged"),
        );
        assert!(matches!(
            NamespaceOwnership::of(Some(&forged), &identity()),
            NamespaceOwnership::Foreign(_)
        ));
    }
}
