//! Tenant isolation and data safety against real API servers: each attack or ordinary mistake
//! that once took over or deleted an institution's namespaces, tried again and shown refused or
//! harmless. The operator runs as its own process under the least-privilege RBAC and the member
//! confinement policies in `charts/soberana-member/files/member-cluster.yaml`.

#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, ResourceQuota, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::{Value, json};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::soberana_install::store_kubeconfig;
use soberana_e2e::soberana_manifests::{examples_directory, yaml_documents};
use soberana_e2e::state_data_centre::{Installation, apply};
use soberana_e2e::{ControlPlane, Suite, wait_until};

mod common;

use common::{condition, member, start, start_with, tenant, wait_ready};

/// How long provisioning or a repair may take on this machine.
const CONVERGE: Duration = Duration::from_secs(90);
/// How soon an edit on a member must be undone: within a minute, through the member's policy
/// watch, even on a loaded 2-core machine (20 s was once exceeded in a full CI run).
const WITHIN_SECONDS: Duration = Duration::from_secs(60);
/// Every member site of the harness.
const ALL_SITES: [&str; 3] = ["state-dc", "national-cloud", "public-cloud"];

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "a_tenant_cannot_be_named_into_kube_system_or_onto_another_tenants_namespace",
            reserved_and_colliding_names,
        )
        .test(
            "a_reused_short_code_takes_nothing_and_its_deletion_deletes_nothing",
            reused_short_code,
        )
        .test(
            "a_namespace_that_is_not_the_tenants_is_never_adopted",
            foreign_namespace,
        )
        .test(
            "a_stricter_lowest_classification_deletes_nothing_until_a_person_confirms",
            stricter_classification,
        )
        .test(
            "deleting_every_classification_deletes_nothing",
            no_classifications,
        )
        .test(
            "a_kubeconfig_with_an_exec_plugin_runs_nothing",
            exec_kubeconfig,
        )
        .test("a_tenant_owner_cannot_dismantle_the_fences", owner_fences)
        .test(
            "a_residency_binding_edited_on_a_member_is_replaced_whole",
            residency_binding_restored,
        )
        .test(
            "the_operators_token_cannot_bind_admin_in_kube_system",
            stolen_operator_token,
        )
        .test(
            "the_operators_token_cannot_lower_pod_security_strip_a_tenant_uid_add_a_policy_or_run_privileged_pods",
            stolen_token_on_a_tenant,
        )
        .test(
            "a_lowered_pod_security_level_is_restored_by_the_drift_check",
            pod_security_restored,
        )
        .test(
            "a_foreign_admission_policy_refusing_soberanas_writes_is_named_on_the_site",
            foreign_policy_reported,
        )
        .test(
            "a_fence_edited_by_a_cluster_admin_is_restored_whole",
            edited_fence_restored,
        )
        .test(
            "residency_labels_cannot_change_through_status_or_job_templates",
            status_and_job_template_labels,
        )
        .run()
}

/// The message of the API server's refusal, or an error if it accepted.
fn refusal<T: std::fmt::Debug>(result: kube::Result<T>, what: &str) -> Result<String> {
    match result {
        Err(kube::Error::Api(status)) => Ok(status.message),
        Err(other) => bail!("{what}: failed without an answer from the API server: {other}"),
        Ok(accepted) => bail!("{what} was accepted: {accepted:?}"),
    }
}

async fn apply_refused(client: &Client, object: &Value) -> Result<String> {
    let tenants: Api<Tenant> = Api::all(client.clone());
    let name = object["metadata"]["name"].as_str().unwrap();
    refusal(
        tenants
            .patch(
                name,
                &PatchParams::apply("soberana-isolation-test").force(),
                &Patch::Apply(object),
            )
            .await,
        &format!("Tenant {name}"),
    )
}

async fn reserved_and_colliding_names(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "names-test").await?;
    let client = &installation.management;
    let message = apply_refused(client, &tenant("intruder", "kube", &[], &["system"])).await?;
    ensure!(
        message.contains("shortCode is reserved"),
        "the kube/system Tenant: {message}"
    );
    for code in ["soberana", "kube-public", "openshift-x"] {
        let message = apply_refused(client, &tenant("intruder", code, &[], &["prod"])).await?;
        ensure!(
            message.contains("shortCode is reserved"),
            "{code}: {message}"
        );
    }
    // The namespaces a data centre installs its add-ons in, before they are installed there.
    for code in [
        "istio",
        "istio-ingress",
        "cert-manager",
        "velero",
        "monitoring",
    ] {
        let message = apply_refused(client, &tenant("intruder", code, &[], &["prod"])).await?;
        ensure!(
            message.contains("spec.shortCode")
                && message.contains("shortCode is reserved for platform add-ons"),
            "{code}: {message}"
        );
    }
    let message =
        apply_refused(client, &tenant("intruder", "gatekeeper", &[], &["system"])).await?;
    ensure!(
        message.contains("spec.environments[0].name")
            && message.contains("environment name system is reserved"),
        "gatekeeper/system: {message}"
    );
    let message = apply_refused(client, &tenant("intruder", "minsa", &[], &["system"])).await?;
    ensure!(
        message.contains("environment name system is reserved"),
        "minsa/system: {message}"
    );
    // `a` + `b-prod` would spell `a-b` + `prod`: environment names carry no '-'.
    apply(client, &tenant("first-ab", "a-b", &["state-dc"], &["prod"])).await?;
    let message =
        apply_refused(client, &tenant("second-a", "a", &["state-dc"], &["b-prod"])).await?;
    ensure!(
        message.contains("environment name must be lowercase letters and digits only"),
        "a/b-prod: {message}"
    );
    wait_ready(client, "first-ab", CONVERGE).await?;
    // Nothing of the refused tenants reached kube-system.
    for site in ALL_SITES {
        let member = member(&plane, site).await?;
        let system = Api::<Namespace>::all(member.clone())
            .get("kube-system")
            .await?;
        ensure!(
            !system.labels().contains_key("soberana.io/tenant"),
            "{site}: kube-system was labelled {:?}",
            system.labels()
        );
        ensure!(
            Api::<RoleBinding>::namespaced(member.clone(), "kube-system")
                .get_opt("soberana-tenant-admins")
                .await?
                .is_none(),
            "{site}: a tenant admin binding reached kube-system"
        );
    }
    Ok(())
}

/// A Deployment the institution runs in `namespace`, created on the member by its own people.
async fn run_service(member: &Client, namespace: &str, name: &str) -> Result<()> {
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "soberana.io/classification": "internal"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "soberana.io/classification": "internal"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "app", "image": "registry.invalid/app:1",
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
                    }]
                }
            }
        }
    }))?;
    Api::<Deployment>::namespaced(member.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .with_context(|| format!("creating Deployment {namespace}/{name}"))?;
    Ok(())
}

/// The Tenant's `Degraded` condition once its reason is `reason`.
async fn wait_degraded(client: &Client, name: &str, reason: &str) -> Result<Tenant> {
    let tenants: Api<Tenant> = Api::all(client.clone());
    let waited = wait_until(
        &format!("Tenant {name} to be Degraded with reason {reason}"),
        CONVERGE,
        || async {
            let tenant = tenants.get(name).await?;
            Ok(tenant.status.as_ref().is_some_and(|status| {
                condition(&status.conditions, "Degraded")
                    .is_some_and(|degraded| degraded.status == "True" && degraded.reason == reason)
            }))
        },
    )
    .await;
    let tenant = tenants.get(name).await?;
    waited.with_context(|| format!("its status: {:?}", tenant.status))?;
    Ok(tenant)
}

async fn reused_short_code(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "short-code-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("ministry-of-health", "minsa", &ALL_SITES, &["prod"]),
    )
    .await?;
    wait_ready(client, "ministry-of-health", CONVERGE).await?;
    let state_dc = member(&plane, "state-dc").await?;
    run_service(&state_dc, "minsa-prod", "patient-records").await?;

    let mut impostor = tenant("impostor", "minsa", &ALL_SITES, &["prod"]);
    impostor["spec"]["owners"] = json!([{"kind": "User", "name": "mallory"}]);
    impostor["spec"]["highestClassification"] = "public".into();
    impostor["spec"]["deletionPolicy"] = "Delete".into();
    apply(client, &impostor).await?;
    let held = wait_degraded(client, "impostor", "NameConflict").await?;
    let degraded = condition(&held.status.as_ref().unwrap().conditions, "Degraded").unwrap();
    ensure!(
        degraded
            .message
            .contains("shortCode minsa is already Tenant ministry-of-health's"),
        "the conflict names the other Tenant: {}",
        degraded.message
    );
    ensure!(
        !held.is_ready(),
        "the later Tenant must not be Ready: {:?}",
        held.status
    );

    // Deleting the impostor (deletionPolicy Delete) removes nothing of the ministry's.
    let tenants: Api<Tenant> = Api::all(client.clone());
    tenants.delete("impostor", &DeleteParams::default()).await?;
    wait_until("Tenant impostor to be gone", CONVERGE, || async {
        Ok(tenants.get_opt("impostor").await?.is_none())
    })
    .await?;
    for site in ALL_SITES {
        let member = member(&plane, site).await?;
        let namespace = Api::<Namespace>::all(member.clone())
            .get("minsa-prod")
            .await
            .with_context(|| format!("{site}: minsa-prod is gone"))?;
        ensure!(
            namespace.metadata.deletion_timestamp.is_none(),
            "{site}: minsa-prod is being deleted"
        );
        let labels = namespace.labels();
        ensure!(
            labels.get("soberana.io/tenant").map(String::as_str) == Some("ministry-of-health")
                && labels
                    .get("soberana.io/classification-ceiling")
                    .map(String::as_str)
                    == Some("confidential"),
            "{site}: minsa-prod was relabelled {labels:?}"
        );
        let binding = Api::<RoleBinding>::namespaced(member.clone(), "minsa-prod")
            .get("soberana-tenant-admins")
            .await?;
        let subjects: Vec<String> = binding
            .subjects
            .unwrap_or_default()
            .into_iter()
            .map(|subject| subject.name)
            .collect();
        ensure!(
            subjects == ["minsa-admins"],
            "{site}: the owners binding names {subjects:?}"
        );
    }
    ensure!(
        Api::<Deployment>::namespaced(state_dc, "minsa-prod")
            .get_opt("patient-records")
            .await?
            .is_some(),
        "the ministry's Deployment is gone"
    );
    wait_ready(client, "ministry-of-health", CONVERGE).await?;
    Ok(())
}

async fn foreign_namespace(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "foreign-test").await?;
    let client = &installation.management;
    // Someone on state-dc already has `aduana-prod`, with a service of their own.
    let state_dc = member(&plane, "state-dc").await?;
    let namespace: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "aduana-prod", "labels": {"team": "legacy-customs"}}
    }))?;
    Api::<Namespace>::all(state_dc.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    apply(
        client,
        &tenant(
            "customs",
            "aduana",
            &["state-dc", "national-cloud"],
            &["prod"],
        ),
    )
    .await?;
    let held = wait_degraded(client, "customs", "NamespaceConflict").await?;
    let sites: BTreeMap<String, (ProvisioningState, String)> = held
        .status
        .unwrap()
        .sites
        .into_iter()
        .map(|entry| (entry.site, (entry.state, entry.message.unwrap_or_default())))
        .collect();
    let (state, message) = &sites["state-dc"];
    ensure!(
        *state == ProvisioningState::Conflict
            && message
                .contains("namespace aduana-prod already exists and belongs to the cluster itself"),
        "state-dc: {state:?} {message}"
    );
    ensure!(
        sites["national-cloud"].0 == ProvisioningState::Provisioned,
        "the other site is provisioned: {sites:?}"
    );
    let untouched = Api::<Namespace>::all(state_dc.clone())
        .get("aduana-prod")
        .await?;
    ensure!(
        untouched.labels()
            == &BTreeMap::from([
                ("team".to_owned(), "legacy-customs".to_owned()),
                (
                    "kubernetes.io/metadata.name".to_owned(),
                    "aduana-prod".to_owned()
                )
            ]),
        "the foreign namespace was written: {:?}",
        untouched.labels()
    );
    for policy in [
        "soberana-default-deny-ingress",
        "soberana-allow-same-tenant",
    ] {
        ensure!(
            Api::<NetworkPolicy>::namespaced(state_dc.clone(), "aduana-prod")
                .get_opt(policy)
                .await?
                .is_none(),
            "{policy} was written into the foreign namespace"
        );
    }
    Ok(())
}

/// Waits until the operator has probed `site` `more` times more (each probe of a reachable site
/// also runs its drift check): what a misbehaving operator would have done by then, it has done.
async fn probes_pass(operator: &OperatorProcess, site: &str, more: f64) -> Result<()> {
    let labels = [("site", site)];
    let count = || operator.metric("soberana_site_probes_total", &labels);
    let start = count().await?;
    wait_until(
        &format!("{more} more probes of {site}"),
        CONVERGE,
        || async { Ok(count().await? >= start + more) },
    )
    .await
}

/// The example DataClassifications, as `make demo` installs them.
fn example_classifications() -> Result<Vec<Value>> {
    Ok(
        yaml_documents(&examples_directory().join("classifications.yaml"))?
            .into_iter()
            .map(|(_, document)| document)
            .collect(),
    )
}

async fn restore_classifications(client: &Client) -> Result<()> {
    for classification in example_classifications()? {
        apply(client, &classification).await?;
    }
    Ok(())
}

/// Whether each site still has `namespace`, not being deleted.
async fn namespace_everywhere(plane: &ControlPlane, namespace: &str) -> Result<()> {
    for site in ALL_SITES {
        let member = member(plane, site).await?;
        let found = Api::<Namespace>::all(member).get_opt(namespace).await?;
        ensure!(
            found.is_some_and(|found| found.metadata.deletion_timestamp.is_none()),
            "{site}: {namespace} was deleted"
        );
    }
    Ok(())
}

async fn stricter_classification(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "stricter-test").await?;
    let client = &installation.management;
    let mut object = tenant("tax-administration", "hacienda", &[], &["prod"]);
    object["spec"]["deletionPolicy"] = "Delete".into();
    apply(client, &object).await?;
    wait_ready(client, "tax-administration", CONVERGE).await?;
    let public_cloud = member(&plane, "public-cloud").await?;
    run_service(&public_cloud, "hacienda-prod", "tax-portal").await?;

    let mut stricter = example_classifications()?
        .into_iter()
        .find(|document| document["metadata"]["name"] == "public")
        .context("the example classification public")?;
    stricter["spec"]["requiredCertifications"] = json!(["TierIII"]);
    apply(client, &stricter).await?;
    let outcome = async {
        let held = wait_degraded(client, "tax-administration", "RemovalPending").await?;
        let pending: Vec<String> = held
            .status
            .unwrap()
            .sites
            .into_iter()
            .filter(|entry| entry.state == ProvisioningState::RemovalPending)
            .map(|entry| entry.site)
            .collect();
        ensure!(
            pending == ["national-cloud", "public-cloud"],
            "the sites without TierIII wait for a person: {pending:?}"
        );
        // Give a deleting operator every chance: a few more probes, each with its drift check.
        probes_pass(&operator, "public-cloud", 3.0).await?;
        namespace_everywhere(&plane, "hacienda-prod").await?;
        ensure!(
            Api::<Deployment>::namespaced(public_cloud.clone(), "hacienda-prod")
                .get_opt("tax-portal")
                .await?
                .is_some(),
            "the running Deployment was deleted"
        );
        let gauge = operator
            .metric(
                "soberana_tenant_namespaces",
                &[("site", "public-cloud"), ("state", "removal_pending")],
            )
            .await?;
        ensure!(
            gauge >= 1.0,
            "removal_pending gauge on public-cloud: {gauge}"
        );

        // A person confirms one site: only that site's namespace goes.
        object["spec"]["confirmRemovalFrom"] = json!(["national-cloud"]);
        apply(client, &object).await?;
        let national = member(&plane, "national-cloud").await?;
        wait_until(
            "hacienda-prod to leave national-cloud",
            CONVERGE,
            || async {
                Ok(Api::<Namespace>::all(national.clone())
                    .get_opt("hacienda-prod")
                    .await?
                    .is_none_or(|namespace| namespace.metadata.deletion_timestamp.is_some()))
            },
        )
        .await?;
        ensure!(
            Api::<Namespace>::all(public_cloud.clone())
                .get_opt("hacienda-prod")
                .await?
                .is_some(),
            "public-cloud was not confirmed but lost its namespace"
        );
        anyhow::Ok(())
    }
    .await;
    restore_classifications(client).await?;
    outcome?;
    object["spec"]["confirmRemovalFrom"] = json!([]);
    apply(client, &object).await?;
    wait_ready(client, "tax-administration", CONVERGE).await?;
    Ok(())
}

async fn no_classifications(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "no-classifications-test").await?;
    let client = &installation.management;
    let mut object = tenant("civil-registry", "tse", &[], &["prod"]);
    object["spec"]["deletionPolicy"] = "Delete".into();
    apply(client, &object).await?;
    wait_ready(client, "civil-registry", CONVERGE).await?;
    let classifications: Api<DataClassification> = Api::all(client.clone());
    for classification in classifications.list(&Default::default()).await? {
        classifications
            .delete(&classification.name_any(), &DeleteParams::default())
            .await?;
    }
    let outcome = async {
        let held = wait_degraded(client, "civil-registry", "NoClassifications").await?;
        let ready = condition(&held.status.as_ref().unwrap().conditions, "Ready").unwrap();
        ensure!(
            ready.status == "False" && ready.message.contains("nothing is changed on any site"),
            "Ready says why: {ready:?}"
        );
        probes_pass(&operator, "public-cloud", 3.0).await?;
        namespace_everywhere(&plane, "tse-prod").await
    }
    .await;
    restore_classifications(client).await?;
    outcome?;
    wait_ready(client, "civil-registry", CONVERGE).await?;
    Ok(())
}

async fn exec_kubeconfig(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "exec-test").await?;
    let client = &installation.management;
    let marker = plane.directory().join("exec-plugin-ran");
    let _ = std::fs::remove_file(&marker);
    let server = plane.cluster("state-dc")?.server().to_owned();
    // Were the plugin ever run, `touch` would leave the marker (and then fail as a plugin).
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: site\n\
         clusters:\n- name: site\n  cluster:\n    server: {server}\n\
         contexts:\n- name: site\n  context:\n    cluster: site\n    user: plugin\n\
         users:\n- name: plugin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: touch\n      args: [\"{}\"]\n      interactiveMode: Never\n",
        marker.display()
    );
    store_kubeconfig(client, "site-plugin", &kubeconfig).await?;
    apply(
        client,
        &json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site",
            "metadata": {"name": "plugin-site"},
            "spec": {
                "provider": "a site whose kubeconfig runs a command",
                "sovereigntyTier": "StateOwned", "jurisdiction": "CR",
                "offeredAvailability": "99.9", "capacity": {},
                "connection": {"secretName": "site-plugin"}
            }
        }),
    )
    .await?;
    let sites: Api<Site> = Api::all(client.clone());
    let outcome = wait_until(
        "plugin-site to report UnsafeKubeconfig",
        CONVERGE,
        || async {
            let site = sites.get("plugin-site").await?;
            Ok(site.status.as_ref().is_some_and(|status| {
                condition(&status.conditions, "Reachable").is_some_and(|reachable| {
                    reachable.status == "False"
                        && reachable.reason == "UnsafeKubeconfig"
                        && reachable.message.contains("exec")
                })
            }))
        },
    )
    .await;
    // Several probes, each building the site's client: a plugin, if run, leaves its marker.
    let probed = probes_pass(&operator, "plugin-site", 3.0).await;
    let ran = marker.exists();
    sites
        .delete("plugin-site", &DeleteParams::default())
        .await?;
    outcome?;
    probed?;
    ensure!(!ran, "the kubeconfig's exec plugin ran inside the operator");
    Ok(())
}

async fn owner_fences(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "fences-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("social-security", "ccss", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "social-security", CONVERGE).await?;
    wait_residency_enforced(client, "state-dc").await?;
    let cluster = plane.cluster("state-dc")?;
    let owner = cluster.client_as("ana", &["ccss-admins"]).await?;

    // What an owner is for still works: running the institution's services.
    run_service(&owner, "ccss-prod", "pensions").await?;

    let policies: Api<NetworkPolicy> = Api::namespaced(owner.clone(), "ccss-prod");
    let message = refusal(
        policies
            .delete("soberana-default-deny-ingress", &DeleteParams::default())
            .await,
        "the owner deleting the default-deny NetworkPolicy",
    )?;
    ensure!(message.contains("forbidden"), "{message}");
    let quotas: Api<ResourceQuota> = Api::namespaced(owner.clone(), "ccss-prod");
    let raise = json!({"spec": {"hard": {"requests.cpu": "999"}}});
    let message = refusal(
        quotas
            .patch(
                "soberana-quota",
                &PatchParams::default(),
                &Patch::Merge(&raise),
            )
            .await,
        "the owner raising the quota",
    )?;
    ensure!(message.contains("forbidden"), "{message}");
    let bindings: Api<RoleBinding> = Api::namespaced(owner.clone(), "ccss-prod");
    let widen = json!({"subjects": [{"kind": "Group", "name": "everyone", "apiGroup": "rbac.authorization.k8s.io"}]});
    let message = refusal(
        bindings
            .patch(
                "soberana-tenant-admins",
                &PatchParams::default(),
                &Patch::Merge(&widen),
            )
            .await,
        "the owner widening Soberana's owner binding",
    )?;
    ensure!(
        message.contains("only Soberana may change or delete"),
        "{message}"
    );
    let admin_binding: RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "self-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "User", "name": "ana", "apiGroup": "rbac.authorization.k8s.io"}]
    }))?;
    let message = refusal(
        bindings
            .create(&PostParams::default(), &admin_binding)
            .await,
        "the owner binding themselves to cluster-admin in their namespace",
    )?;
    ensure!(message.contains("forbidden"), "{message}");
    // A namespace label that would lower Pod Security is Soberana's too.
    let namespaces: Api<Namespace> = Api::all(cluster.client().await?);
    let lower =
        json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}});
    let message = refusal(
        namespaces
            .patch("ccss-prod", &PatchParams::default(), &Patch::Merge(&lower))
            .await,
        "an administrator lowering the tenant namespace's Pod Security level",
    )?;
    ensure!(message.contains("only Soberana may change"), "{message}");
    owner_cannot_route_around_isolation(&owner, "ccss-prod", "pensions").await
}

/// What an owner could use to reach past the tenant's NetworkPolicies and agreements: an
/// Endpoints object or EndpointSlice pointing anywhere, a Service with external IPs or a node
/// port, an Ingress on the shared controller, the API server's proxy. Each is refused.
async fn owner_cannot_route_around_isolation(
    owner: &Client,
    namespace: &str,
    service: &str,
) -> Result<()> {
    let endpoints: Endpoints = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kube-dns-mirror"},
        "subsets": [{"addresses": [{"ip": "10.96.0.10"}], "ports": [{"port": 53}]}]
    }))?;
    let message = refusal(
        Api::<Endpoints>::namespaced(owner.clone(), namespace)
            .create(&PostParams::default(), &endpoints)
            .await,
        "the owner creating Endpoints",
    )?;
    ensure!(message.contains("forbidden"), "Endpoints: {message}");
    let slice: EndpointSlice = serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kube-dns-mirror", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.96.0.10"]}]
    }))?;
    let message = refusal(
        Api::<EndpointSlice>::namespaced(owner.clone(), namespace)
            .create(&PostParams::default(), &slice)
            .await,
        "the owner creating an EndpointSlice",
    )?;
    ensure!(message.contains("forbidden"), "EndpointSlice: {message}");
    owner_services_stay_cluster_ip(owner, namespace, service).await?;
    owner_ingress_and_proxy_refused(owner, namespace, service).await
}

/// An owner's Services: ClusterIP without external IPs, and nothing else.
async fn owner_services_stay_cluster_ip(
    owner: &Client,
    namespace: &str,
    service: &str,
) -> Result<()> {
    let services: Api<Service> = Api::namespaced(owner.clone(), namespace);
    // An ordinary Service for the owner's own pods is theirs to write.
    let ordinary: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": service},
        "spec": {"ports": [{"port": 80}], "selector": {"app": service}}
    }))?;
    services
        .create(&PostParams::default(), &ordinary)
        .await
        .with_context(|| format!("the owner creating the ClusterIP Service {service}"))?;
    let captured: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "capture"},
        "spec": {"ports": [{"port": 443}], "externalIPs": ["8.8.8.8"]}
    }))?;
    let message = refusal(
        services.create(&PostParams::default(), &captured).await,
        "the owner creating a Service with externalIPs",
    )?;
    ensure!(
        message.contains("may not set spec.externalIPs"),
        "externalIPs: {message}"
    );
    for kind in ["NodePort", "LoadBalancer"] {
        let exposed: Service = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("exposed-{}", kind.to_lowercase())},
            "spec": {"type": kind, "ports": [{"port": 80}], "selector": {"app": service}}
        }))?;
        let message = refusal(
            services.create(&PostParams::default(), &exposed).await,
            &format!("the owner creating a {kind} Service"),
        )?;
        ensure!(
            message.contains(&format!("may only be of type ClusterIP, not {kind}")),
            "{kind}: {message}"
        );
    }
    // Changing the owner's own ClusterIP Service into a NodePort is the same.
    let widen = json!({"spec": {"type": "NodePort"}});
    let message = refusal(
        services
            .patch(service, &PatchParams::default(), &Patch::Merge(&widen))
            .await,
        "the owner turning a ClusterIP Service into a NodePort",
    )?;
    ensure!(
        message.contains("may only be of type ClusterIP"),
        "{message}"
    );
    Ok(())
}

/// An Ingress on the shared controller, and the API server's proxy to the owner's Service.
async fn owner_ingress_and_proxy_refused(
    owner: &Client,
    namespace: &str,
    service: &str,
) -> Result<()> {
    let ingress: Ingress = serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "elsewhere"},
        "spec": {"defaultBackend": {"service": {"name": service, "port": {"number": 80}}}}
    }))?;
    let message = refusal(
        Api::<Ingress>::namespaced(owner.clone(), namespace)
            .create(&PostParams::default(), &ingress)
            .await,
        "the owner creating an Ingress",
    )?;
    ensure!(message.contains("forbidden"), "Ingress: {message}");
    for path in [
        format!("/api/v1/namespaces/{namespace}/services/{service}:80/proxy/"),
        format!("/api/v1/namespaces/{namespace}/services/{service}:80/proxy/anything"),
    ] {
        let request = http::Request::get(&path).body(Vec::new())?;
        let message = refusal(owner.request_text(request).await, &format!("GET {path}"))?;
        ensure!(message.contains("forbidden"), "{path}: {message}");
        let request = http::Request::post(&path).body(b"{}".to_vec())?;
        let message = refusal(owner.request_text(request).await, &format!("POST {path}"))?;
        ensure!(message.contains("forbidden"), "{path}: {message}");
    }
    Ok(())
}

/// Waits until `site` reports its residency policies in force.
async fn wait_residency_enforced(client: &Client, site: &str) -> Result<()> {
    let sites: Api<Site> = Api::all(client.clone());
    wait_until(
        &format!("residency enforced on {site}"),
        CONVERGE,
        || async {
            let site = sites.get(site).await?;
            Ok(site.status.as_ref().is_some_and(|status| {
                condition(&status.conditions, "ResidencyEnforced")
                    .is_some_and(|enforced| enforced.status == "True")
            }))
        },
    )
    .await
}

async fn residency_binding_restored(plane: Arc<ControlPlane>) -> Result<()> {
    // Scans far apart: only the watch of the member's policies can bring them back in time.
    let settings = OperatorSettings {
        residency_scan_interval: 3600,
        ..OperatorSettings::default()
    };
    let (installation, _operator) = start_with(&plane, "residency-binding-test", &settings).await?;
    wait_residency_enforced(&installation.management, "public-cloud").await?;
    let public_cloud = member(&plane, "public-cloud").await?;
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(public_cloud.clone());
    // An administrator on the member switches residency off for every namespace.
    let off = json!({"spec": {"matchResources": {"namespaceSelector": {"matchLabels": {"residency": "off"}}}}});
    bindings
        .patch(
            "soberana-residency",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": "soberana-residency"},
                "spec": off["spec"],
            })),
        )
        .await?;
    wait_until(
        "the residency binding to be restored without the namespaceSelector",
        WITHIN_SECONDS,
        || async {
            let binding = bindings.get("soberana-residency").await?;
            Ok(binding
                .spec
                .match_resources
                .and_then(|resources| resources.namespace_selector)
                .is_none())
        },
    )
    .await?;
    Ok(())
}

/// A client with the operator's own credentials on `site` (the kubeconfig in its Site Secret).
async fn operator_on(installation: &Installation, site: &str) -> Result<Client> {
    let kubeconfig = Kubeconfig::from_yaml(&installation.site_kubeconfigs[site])?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn stolen_operator_token(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "stolen-token-test").await?;
    let stolen = operator_on(&installation, "state-dc").await?;
    let bindings: Api<RoleBinding> = Api::namespaced(stolen.clone(), "kube-system");
    for role in ["cluster-admin", "soberana-tenant-admin"] {
        let binding: RoleBinding = serde_json::from_value(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("stolen-{role}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}]
        }))?;
        let message = refusal(
            bindings.create(&PostParams::default(), &binding).await,
            &format!("the operator's token binding {role} in kube-system"),
        )?;
        ensure!(
            message.contains("forbidden") || message.contains("soberana-operator may"),
            "{role}: {message}"
        );
    }
    let namespaces: Api<Namespace> = Api::all(stolen.clone());
    let takeover = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {
            "name": "kube-system",
            "labels": {"app.kubernetes.io/managed-by": "soberana", "soberana.io/tenant": "mallory"},
            "annotations": {"soberana.io/tenant-uid": "forged"}
        }
    });
    let message = refusal(
        namespaces
            .patch(
                "kube-system",
                &PatchParams::apply("mallory").force(),
                &Patch::Apply(&takeover),
            )
            .await,
        "the operator's token labelling kube-system as a tenant's",
    )?;
    ensure!(message.contains("soberana-operator may not"), "{message}");
    // A platform namespace the API server itself does not protect.
    let tools: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-tools"}
    }))?;
    Api::<Namespace>::all(plane.cluster("state-dc")?.client().await?)
        .create(&PostParams::default(), &tools)
        .await?;
    let message = refusal(
        namespaces
            .delete("kube-tools", &DeleteParams::default())
            .await,
        "the operator's token deleting namespace kube-tools",
    )?;
    ensure!(message.contains("soberana-operator may not"), "{message}");
    Ok(())
}

/// A Deployment into `namespace` whose pod template is `pod_spec` (with classified labels, so
/// that only the operator's confinement can refuse it).
fn deployment(name: &str, pod_spec: &Value) -> Result<Deployment> {
    let labels = json!({"app": name, "soberana.io/classification": "internal"});
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}
        }
    }))?)
}

async fn stolen_token_on_a_tenant(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "stolen-token-tenant-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("housing-ministry", "mivah", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "housing-ministry", CONVERGE).await?;
    wait_residency_enforced(client, "state-dc").await?;
    let stolen = operator_on(&installation, "state-dc").await?;
    token_cannot_change_tenant_namespace(&plane, &stolen).await?;
    token_cannot_add_admission_policies(&stolen).await?;
    token_cannot_run_node_root(&stolen).await
}

/// On the tenant namespace `mivah-prod` of state-dc.
async fn token_cannot_change_tenant_namespace(plane: &ControlPlane, stolen: &Client) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(stolen.clone());
    // Pod Security may be set only to what a Tenant can ask for, never removed.
    for (label, level) in [
        ("pod-security.kubernetes.io/enforce", "privileged"),
        ("pod-security.kubernetes.io/audit", "privileged"),
        ("pod-security.kubernetes.io/enforce-version", "v1.0"),
    ] {
        let lower = json!({"metadata": {"labels": {label: level}}});
        let message = refusal(
            namespaces
                .patch("mivah-prod", &PatchParams::default(), &Patch::Merge(&lower))
                .await,
            &format!("the operator's token setting {label}={level} on mivah-prod"),
        )?;
        ensure!(
            message.contains("may set the Pod Security labels of namespace mivah-prod only to restricted or baseline"),
            "{label}={level}: {message}"
        );
    }
    let remove = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": null}}});
    let message = refusal(
        namespaces
            .patch(
                "mivah-prod",
                &PatchParams::default(),
                &Patch::Merge(&remove),
            )
            .await,
        "the operator's token removing the Pod Security label of mivah-prod",
    )?;
    ensure!(
        message.contains("may not remove pod-security.kubernetes.io/enforce"),
        "{message}"
    );
    // The tenant UID may be neither removed nor replaced.
    for uid in [Value::Null, json!("forged")] {
        let strip = json!({"metadata": {"annotations": {"soberana.io/tenant-uid": uid}}});
        let message = refusal(
            namespaces
                .patch("mivah-prod", &PatchParams::default(), &Patch::Merge(&strip))
                .await,
            &format!("the operator's token setting soberana.io/tenant-uid of mivah-prod to {uid}"),
        )?;
        ensure!(
            message.contains("may never remove or replace the annotation soberana.io/tenant-uid of namespace mivah-prod")
                || (!uid.is_null() && message.contains("namespace mivah-prod is not one, or carries another Tenant UID")),
            "tenant-uid {uid}: {message}"
        );
    }
    // Labels and annotations that are not Soberana's are not its to change.
    let foreign = json!({"metadata": {"labels": {"backup.example/exclude": "true"}}});
    let message = refusal(
        namespaces
            .patch(
                "mivah-prod",
                &PatchParams::default(),
                &Patch::Merge(&foreign),
            )
            .await,
        "the operator's token adding a label of someone else's to mivah-prod",
    )?;
    ensure!(
        message.contains("may change only Soberana's own labels and annotations"),
        "{message}"
    );
    let live = Api::<Namespace>::all(member(plane, "state-dc").await?)
        .get("mivah-prod")
        .await?;
    ensure!(
        live.labels()
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str)
            == Some("restricted")
            && live.annotations().contains_key("soberana.io/tenant-uid"),
        "mivah-prod changed: {:?} {:?}",
        live.labels(),
        live.annotations()
    );

    Ok(())
}

async fn token_cannot_add_admission_policies(stolen: &Client) -> Result<()> {
    // A policy of its own, refusing everyone (system:masters included), under a new name: by a
    // plain create and by an apply that would create it.
    let deny_all = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "mallory-deny-everything"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*"]}]},
            "validations": [{"expression": "false"}]
        }
    });
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(stolen.clone());
    let message = refusal(
        policies
            .create(
                &PostParams::default(),
                &serde_json::from_value(deny_all.clone())?,
            )
            .await,
        "the operator's token creating a deny-everything admission policy",
    )?;
    ensure!(message.contains("forbidden"), "create: {message}");
    let message = refusal(
        policies
            .patch(
                "mallory-deny-everything",
                &PatchParams::apply("mallory").force(),
                &Patch::Apply(&deny_all),
            )
            .await,
        "the operator's token applying a deny-everything admission policy",
    )?;
    ensure!(message.contains("forbidden"), "apply: {message}");
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "mallory-deny-everything"},
        "spec": {"policyName": "soberana-residency", "validationActions": ["Deny"]}
    });
    let message = refusal(
        Api::<ValidatingAdmissionPolicyBinding>::all(stolen.clone())
            .create(&PostParams::default(), &serde_json::from_value(binding)?)
            .await,
        "the operator's token binding a policy under a new name",
    )?;
    ensure!(message.contains("forbidden"), "binding: {message}");

    Ok(())
}

/// In the tenant namespace `mivah-prod` of state-dc.
async fn token_cannot_run_node_root(stolen: &Client) -> Result<()> {
    // Node root through a workload: refused whatever the namespace's Pod Security level says.
    let deployments: Api<Deployment> = Api::namespaced(stolen.clone(), "mivah-prod");
    let container = |security: Value| json!({"name": "shell", "image": "registry.invalid/shell:1", "securityContext": security});
    let attempts = [
        (
            "privileged",
            json!({"containers": [container(json!({"privileged": true}))]}),
            "may not write a privileged container",
        ),
        (
            "host-pid",
            json!({"hostPID": true, "containers": [container(json!({}))]}),
            "may not write a pod sharing the node's namespaces",
        ),
        (
            "host-network",
            json!({"hostNetwork": true, "containers": [container(json!({}))]}),
            "may not write a pod sharing the node's namespaces",
        ),
        (
            "host-root",
            json!({
                "containers": [container(json!({}))],
                "volumes": [{"name": "root", "hostPath": {"path": "/"}}]
            }),
            "may not write a pod mounting a hostPath volume",
        ),
        (
            "node-root",
            json!({
                "hostPID": true,
                "initContainers": [{"name": "init", "image": "registry.invalid/shell:1", "securityContext": {"privileged": true}}],
                "containers": [container(json!({}))],
                "volumes": [{"name": "root", "hostPath": {"path": "/"}}]
            }),
            "soberana-operator may not write",
        ),
    ];
    for (name, pod_spec, expected) in attempts {
        let message = refusal(
            deployments
                .create(&PostParams::default(), &deployment(name, &pod_spec)?)
                .await,
            &format!("the operator's token creating Deployment {name} in mivah-prod"),
        )?;
        ensure!(message.contains(expected), "{name}: {message}");
    }
    // What the operator itself writes still goes through: an ordinary pod template.
    deployments
        .create(
            &PostParams::default(),
            &deployment(
                "ordinary",
                &json!({"containers": [container(json!({"runAsNonRoot": true}))]}),
            )?,
        )
        .await
        .context("an ordinary Deployment by the operator's token")?;
    Ok(())
}

/// The one Pod Security change the member still admits from the operator's token (another level
/// a Tenant could ask for) is undone by the drift check, with a Warning Event.
async fn pod_security_restored(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "pod-security-drift-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("labour-ministry", "mtss", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "labour-ministry", CONVERGE).await?;
    let stolen = operator_on(&installation, "state-dc").await?;
    let lower = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
    Api::<Namespace>::all(stolen)
        .patch(
            "mtss-prod",
            &PatchParams::apply("mallory").force(),
            &Patch::Apply(&json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "mtss-prod", "labels": lower["metadata"]["labels"]},
            })),
        )
        .await
        .context("the operator's token lowering mtss-prod to baseline")?;
    let namespaces: Api<Namespace> = Api::all(member(&plane, "state-dc").await?);
    wait_until(
        "mtss-prod's Pod Security level to be restricted again",
        CONVERGE,
        || async {
            let live = namespaces.get("mtss-prod").await?;
            Ok(live
                .labels()
                .get("pod-security.kubernetes.io/enforce")
                .map(String::as_str)
                == Some("restricted"))
        },
    )
    .await?;
    let events = Api::<k8s_openapi::api::events::v1::Event>::all(client.clone());
    wait_until(
        "a Warning Event naming the restored namespace",
        CONVERGE,
        || async {
            let listed = events
                .list(&kube::api::ListParams::default().fields("regarding.name=labour-ministry"))
                .await?;
            Ok(listed.items.iter().any(|event| {
                event.type_.as_deref() == Some("Warning")
                    && event.reason.as_deref() == Some("ObjectsEdited")
                    && event.note.as_deref().is_some_and(|note| {
                        note.contains("site state-dc") && note.contains("Namespace mtss-prod")
                    })
            }))
        },
    )
    .await?;
    Ok(())
}

/// The Site's `Degraded` condition once `judge` accepts it.
async fn wait_site_degraded(
    client: &Client,
    site: &str,
    what: &str,
    judge: impl Fn(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition) -> bool,
) -> Result<()> {
    let sites: Api<Site> = Api::all(client.clone());
    wait_until(what, CONVERGE, || async {
        let site = sites.get(site).await?;
        Ok(site
            .status
            .as_ref()
            .is_some_and(|status| condition(&status.conditions, "Degraded").is_some_and(&judge)))
    })
    .await
}

async fn foreign_policy_reported(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "foreign-policy-test").await?;
    let client = &installation.management;
    wait_residency_enforced(client, "public-cloud").await?;
    wait_site_degraded(
        client,
        "public-cloud",
        "public-cloud not Degraded",
        |degraded| degraded.status == "False",
    )
    .await?;
    // A cluster admin freezes everything Soberana writes, system:masters included.
    let admin = member(&plane, "public-cloud").await?;
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(admin.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(admin.clone());
    let freeze: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "platform-freeze"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [
                {"apiGroups": ["", "apps", "networking.k8s.io", "rbac.authorization.k8s.io"], "apiVersions": ["*"],
                 "operations": ["CREATE", "UPDATE", "DELETE"],
                 "resources": ["namespaces", "resourcequotas", "limitranges", "services", "deployments", "networkpolicies", "rolebindings"]}
            ]},
            "validations": [{"expression": "false", "message": "frozen"}]
        }
    }))?;
    policies.create(&PostParams::default(), &freeze).await?;
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "platform-freeze"},
        "spec": {"policyName": "platform-freeze", "validationActions": ["Deny"]}
    }))?;
    bindings.create(&PostParams::default(), &binding).await?;
    let reported = wait_site_degraded(
        client,
        "public-cloud",
        "public-cloud Degraded, naming platform-freeze",
        |degraded| {
            degraded.status == "True"
                && degraded.reason == "ForeignAdmissionPolicies"
                && degraded.message.contains("platform-freeze")
        },
    )
    .await;
    // Admission policies are not subject to admission policies: the admin can always lift it.
    bindings
        .delete("platform-freeze", &DeleteParams::default())
        .await?;
    policies
        .delete("platform-freeze", &DeleteParams::default())
        .await?;
    reported?;
    wait_site_degraded(
        client,
        "public-cloud",
        "public-cloud no longer Degraded",
        |degraded| degraded.status == "False",
    )
    .await?;
    Ok(())
}

async fn edited_fence_restored(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "edited-fence-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("public-works", "mopt", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "public-works", CONVERGE).await?;
    // A cluster admin may break glass; the fence is put back as the Tenant says.
    let admin = member(&plane, "state-dc").await?;
    let quotas: Api<ResourceQuota> = Api::namespaced(admin.clone(), "mopt-prod");
    let raise = json!({"spec": {"hard": {"requests.cpu": "999", "limits.cpu": "999"}}});
    quotas
        .patch(
            "soberana-quota",
            &PatchParams::default(),
            &Patch::Merge(&raise),
        )
        .await?;
    let policies: Api<NetworkPolicy> = Api::namespaced(admin.clone(), "mopt-prod");
    let open = json!({"spec": {"ingress": [{}]}});
    policies
        .patch(
            "soberana-default-deny-ingress",
            &PatchParams::default(),
            &Patch::Merge(&open),
        )
        .await?;
    wait_until(
        "the edited quota and NetworkPolicy to be restored",
        CONVERGE,
        || async {
            let hard = quotas
                .get("soberana-quota")
                .await?
                .spec
                .and_then(|spec| spec.hard)
                .unwrap_or_default();
            let deny = policies
                .get("soberana-default-deny-ingress")
                .await?
                .spec
                .unwrap_or_default();
            Ok(
                hard.get("requests.cpu").map(|quantity| quantity.0.as_str()) == Some("4")
                    && !hard.contains_key("limits.cpu")
                    && deny.ingress.unwrap_or_default().is_empty(),
            )
        },
    )
    .await?;
    Ok(())
}

async fn status_and_job_template_labels(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "status-labels-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("environment-ministry", "minae", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "environment-ministry", CONVERGE).await?;
    wait_residency_enforced(client, "state-dc").await?;
    let admin = member(&plane, "state-dc").await?;
    // The status subresource would change a tenant's labels without the namespace policy.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let relabel =
        json!({"metadata": {"labels": {"soberana.io/classification-ceiling": "restricted"}}});
    let message = refusal(
        namespaces
            .patch_status(
                "minae-prod",
                &PatchParams::default(),
                &Patch::Merge(&relabel),
            )
            .await,
        "raising the classification ceiling through namespaces/status",
    )?;
    ensure!(
        message.contains("through the status subresource"),
        "{message}"
    );
    // A CronJob whose Jobs would carry another classification than its own.
    let cronjob: CronJob = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "reports", "labels": {"soberana.io/classification": "internal"}},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "metadata": {"labels": {"soberana.io/classification": "confidential"}},
                "spec": {"template": {
                    "metadata": {"labels": {"soberana.io/classification": "internal"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "registry.invalid/report:1"}]}
                }}
            }
        }
    }))?;
    let message = refusal(
        Api::<CronJob>::namespaced(admin, "minae-prod")
            .create(&PostParams::default(), &cronjob)
            .await,
        "a CronJob whose job template carries another classification",
    )?;
    ensure!(
        message.contains("the job template's soberana.io/classification is confidential"),
        "{message}"
    );
    Ok(())
}
