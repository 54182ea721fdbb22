//! Proof that the harness runs real Kubernetes: three clusters, each with its own identity, that
//! serve CRDs with CEL validation, server-side apply, admission policies, garbage collection,
//! token and access reviews, run a Deployment's Pods on their nodes (and lose them when the nodes
//! stop answering), and survive an API-server restart with their data.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;
use soberana_e2e::simulated_nodes::node_ready;
use soberana_e2e::{ControlPlane, Suite, pinned_kubernetes_version, wait_until};

const SITES: [&str; 3] = ["state-dc", "national-cloud", "public-cloud"];
const FIELD_MANAGER: &str = "soberana-e2e";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    Suite::new(&SITES)
        .test(
            "three_clusters_serve_with_their_own_identities",
            three_clusters_serve_with_their_own_identities,
        )
        .test(
            "version_reports_the_stamped_release",
            version_reports_the_stamped_release,
        )
        .test(
            "custom_resource_is_validated_applied_and_given_status",
            custom_resource_is_validated_applied_and_given_status,
        )
        .test(
            "admission_policy_rejects_labelled_deployment",
            admission_policy_rejects_labelled_deployment,
        )
        .test("deleted_namespace_disappears", deleted_namespace_disappears)
        .test(
            "service_account_token_and_access_reviews",
            service_account_token_and_access_reviews,
        )
        .test(
            "deployment_pods_run_on_the_sites_node",
            deployment_pods_run_on_the_sites_node,
        )
        .test(
            "pods_that_fit_no_node_stay_pending_with_the_schedulers_reason",
            pods_that_fit_no_node_stay_pending_with_the_schedulers_reason,
        )
        .test(
            "a_site_whose_nodes_stop_loses_its_available_replicas",
            a_site_whose_nodes_stop_loses_its_available_replicas,
        )
        .test(
            "api_server_outage_spares_other_sites_and_restart_keeps_data",
            api_server_outage_spares_other_sites_and_restart_keeps_data,
        )
        .run()
}

async fn three_clusters_serve_with_their_own_identities(plane: Arc<ControlPlane>) -> Result<()> {
    ensure!(plane.clusters().len() == 3, "expected three clusters");
    for cluster in plane.clusters() {
        let namespaces: Api<Namespace> = Api::all(cluster.client().await?);
        let names: Vec<String> = namespaces
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|namespace| namespace.metadata.name)
            .collect();
        ensure!(
            names.iter().any(|name| name == "kube-system"),
            "{}: namespaces {names:?} lack kube-system",
            cluster.name()
        );
    }
    // Site A's administrator credentials, pointed at site B, are refused: distinct CAs.
    let [first, second] = [plane.cluster(SITES[0])?, plane.cluster(SITES[1])?];
    ensure!(
        first.ca_certificate_pem() != second.ca_certificate_pem(),
        "clusters share a CA"
    );
    let mut kubeconfig = Kubeconfig::read_from(first.kubeconfig())?;
    for named in &mut kubeconfig.clusters {
        if let Some(cluster) = named.cluster.as_mut() {
            cluster.server = Some(second.server().to_owned());
        }
    }
    let foreign = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    let namespaces: Api<Namespace> = Api::all(Client::try_from(foreign)?);
    ensure!(
        namespaces.list(&Default::default()).await.is_err(),
        "{}'s credentials were accepted by {}",
        first.name(),
        second.name()
    );
    Ok(())
}

async fn version_reports_the_stamped_release(plane: Arc<ControlPlane>) -> Result<()> {
    let pinned = pinned_kubernetes_version()?;
    ensure!(
        pinned.starts_with("v1.36."),
        "harness pins {pinned}, expected the 1.36 line"
    );
    for cluster in plane.clusters() {
        let version = cluster.client().await?.apiserver_version().await?;
        ensure!(
            version.git_version == pinned && version.major == "1" && version.minor == "36",
            "{} reports {} ({}.{}), expected {pinned}",
            cluster.name(),
            version.git_version,
            version.major,
            version.minor
        );
    }
    Ok(())
}

async fn custom_resource_is_validated_applied_and_given_status(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let client = plane.cluster(SITES[0])?.client().await?;
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let definition: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "capacityprobes.harness.soberana.io"},
        "spec": {
            "group": "harness.soberana.io",
            "scope": "Namespaced",
            "names": {"plural": "capacityprobes", "singular": "capacityprobe", "kind": "CapacityProbe"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["minimum", "maximum"],
                            "properties": {"minimum": {"type": "integer"}, "maximum": {"type": "integer"}},
                            "x-kubernetes-validations": [{
                                "rule": "self.minimum <= self.maximum",
                                "message": "minimum must not exceed maximum"
                            }]
                        },
                        "status": {"type": "object", "properties": {"observed": {"type": "integer"}}}
                    }
                }}
            }]
        }
    }))?;
    definitions
        .patch(
            "capacityprobes.harness.soberana.io",
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&definition),
        )
        .await?;
    wait_until(
        "the CapacityProbe CRD to be established",
        SETTLE_TIMEOUT,
        || {
            let definitions = definitions.clone();
            async move {
                let definition = definitions
                    .get("capacityprobes.harness.soberana.io")
                    .await?;
                Ok(definition
                    .status
                    .and_then(|status| status.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|condition| {
                        condition.type_ == "Established" && condition.status == "True"
                    }))
            }
        },
    )
    .await?;

    let namespace = create_namespace(&client, "crd-proof").await?;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "harness.soberana.io",
        "v1",
        "CapacityProbe",
    ));
    let probes: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
    let probe = |name: &str, minimum: i64, maximum: i64| -> Result<DynamicObject> {
        Ok(serde_json::from_value(json!({
            "apiVersion": "harness.soberana.io/v1", "kind": "CapacityProbe",
            "metadata": {"name": name}, "spec": {"minimum": minimum, "maximum": maximum}
        }))?)
    };

    let rejected = probes
        .create(&PostParams::default(), &probe("inverted", 5, 2)?)
        .await;
    let message = api_error_message(rejected).context("an inverted CapacityProbe was accepted")?;
    ensure!(
        message.contains("minimum must not exceed maximum"),
        "rejection message was {message:?}"
    );

    let apply = PatchParams::apply(FIELD_MANAGER).force();
    probes
        .patch("sound", &apply, &Patch::Apply(&probe("sound", 1, 3)?))
        .await?;
    let status = json!({
        "apiVersion": "harness.soberana.io/v1", "kind": "CapacityProbe", "status": {"observed": 3}
    });
    probes
        .patch_status("sound", &apply, &Patch::Apply(&status))
        .await?;
    let stored = probes.get("sound").await?;
    ensure!(
        stored.data["spec"]["maximum"] == 3,
        "spec not stored: {:?}",
        stored.data
    );
    ensure!(
        stored.data["status"]["observed"] == 3,
        "status not stored: {:?}",
        stored.data
    );
    Ok(())
}

async fn admission_policy_rejects_labelled_deployment(plane: Arc<ControlPlane>) -> Result<()> {
    let client = plane.cluster(SITES[2])?.client().await?;
    let namespace = create_namespace(&client, "admission-proof").await?;
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "harness-proof-residency"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]
            }]},
            "validations": [{
                "expression": "!has(object.metadata.labels) || object.metadata.labels[?'soberana.io/classification'].orValue('') != 'restricted'",
                "message": "restricted data may not run on this site"
            }]
        }
    }))?;
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "harness-proof-residency"},
        "spec": {
            "policyName": "harness-proof-residency",
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        }
    }))?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .patch("harness-proof-residency", &apply, &Patch::Apply(&policy))
        .await?;
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .patch("harness-proof-residency", &apply, &Patch::Apply(&binding))
        .await?;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    // The API server loads new policies asynchronously: probe with dry runs until it enforces.
    wait_until(
        "the admission policy to be enforced",
        SETTLE_TIMEOUT,
        || {
            let deployments = deployments.clone();
            async move {
                let dry_run = PostParams {
                    dry_run: true,
                    ..PostParams::default()
                };
                Ok(deployments
                    .create(&dry_run, &deployment("probe", Some("restricted"))?)
                    .await
                    .is_err())
            }
        },
    )
    .await?;
    let rejected = deployments
        .create(
            &PostParams::default(),
            &deployment("ledger", Some("restricted"))?,
        )
        .await;
    let message = api_error_message(rejected).context("a restricted Deployment was accepted")?;
    ensure!(
        message.contains("restricted data may not run on this site"),
        "rejection message was {message:?}"
    );
    deployments
        .create(
            &PostParams::default(),
            &deployment("brochure", Some("public"))?,
        )
        .await?;
    deployments
        .create(&PostParams::default(), &deployment("unlabelled", None)?)
        .await?;
    Ok(())
}

async fn deleted_namespace_disappears(plane: Arc<ControlPlane>) -> Result<()> {
    let client = plane.cluster(SITES[1])?.client().await?;
    let namespace = create_namespace(&client, "deletion-proof").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    config_maps
        .create(
            &PostParams::default(),
            &config_map("contents", "kept until deletion")?,
        )
        .await?;
    let namespaces: Api<Namespace> = Api::all(client);
    namespaces
        .delete(&namespace, &DeleteParams::default())
        .await?;
    wait_until(
        &format!("namespace {namespace} to be deleted"),
        SETTLE_TIMEOUT,
        || {
            let namespaces = namespaces.clone();
            let namespace = namespace.clone();
            async move { Ok(namespaces.get_opt(&namespace).await?.is_none()) }
        },
    )
    .await
}

async fn service_account_token_and_access_reviews(plane: Arc<ControlPlane>) -> Result<()> {
    let site = plane.cluster(SITES[0])?;
    let client = site.client().await?;
    let namespace = create_namespace(&client, "rbac-proof").await?;
    let other_namespace = create_namespace(&client, "rbac-proof-other").await?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    accounts
        .patch("migrator", &apply, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "migrator"}})))
        .await?;
    let role: Role = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "config-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }))?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "migrator-reads-config"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "config-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "migrator", "namespace": namespace}]
    }))?;
    Api::<Role>::namespaced(client.clone(), &namespace)
        .patch("config-reader", &apply, &Patch::Apply(&role))
        .await?;
    Api::<RoleBinding>::namespaced(client.clone(), &namespace)
        .patch("migrator-reads-config", &apply, &Patch::Apply(&binding))
        .await?;

    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 600}}))?;
    let token = accounts
        .create_token_request("migrator", &PostParams::default(), &request)
        .await?
        .status
        .context("token request has no status")?
        .token
        .context("token request returned no token")?;
    let username = format!("system:serviceaccount:{namespace}:migrator");

    let reviewed = token_review(&client, &token).await?;
    ensure!(
        reviewed.as_deref() == Some(username.as_str()),
        "TokenReview answered {reviewed:?}"
    );
    ensure!(
        token_review(&client, "not-a-token").await?.is_none(),
        "a garbage token was authenticated"
    );
    let foreign_client = plane.cluster(SITES[1])?.client().await?;
    ensure!(
        token_review(&foreign_client, &token).await?.is_none(),
        "another site accepted this site's service-account token"
    );

    for (verb, resource, in_namespace, expected) in [
        ("list", "configmaps", &namespace, true),
        ("get", "configmaps", &namespace, true),
        ("delete", "configmaps", &namespace, false),
        ("list", "secrets", &namespace, false),
        ("list", "configmaps", &other_namespace, false),
    ] {
        let allowed = access_review(&client, &username, verb, resource, in_namespace).await?;
        ensure!(
            allowed == expected,
            "SubjectAccessReview {verb} {resource} in {in_namespace}: allowed={allowed}, expected {expected}"
        );
    }

    // The token works as a credential, within exactly what RBAC grants.
    let as_migrator = site.client_with_token(&token).await?;
    Api::<ConfigMap>::namespaced(as_migrator.clone(), &namespace)
        .list(&Default::default())
        .await?;
    let forbidden = Api::<Secret>::namespaced(as_migrator, &namespace)
        .list(&Default::default())
        .await;
    ensure!(
        matches!(&forbidden, Err(kube::Error::Api(status)) if status.code == 403),
        "listing secrets as the migrator gave {forbidden:?}, expected 403"
    );
    Ok(())
}

async fn api_server_outage_spares_other_sites_and_restart_keeps_data(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let site = plane.cluster(SITES[2])?;
    let client = site.client().await?;
    let namespace = create_namespace(&client, "outage-proof").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    config_maps
        .create(
            &PostParams::default(),
            &config_map("survivor", "written before the outage")?,
        )
        .await?;

    site.stop_api_server();
    ensure!(
        !site.api_server_running(),
        "the API server still runs after stop"
    );
    ensure!(
        config_maps.get("survivor").await.is_err(),
        "{} still answers while stopped",
        site.name()
    );
    for other in plane
        .clusters()
        .iter()
        .filter(|cluster| cluster.name() != site.name())
    {
        Api::<Namespace>::all(other.client().await?)
            .list(&Default::default())
            .await
            .with_context(|| {
                format!(
                    "{} stopped serving during {}'s outage",
                    other.name(),
                    site.name()
                )
            })?;
    }

    site.start_api_server().await?;
    let survivor = Api::<ConfigMap>::namespaced(site.client().await?, &namespace)
        .get("survivor")
        .await?;
    let value = survivor.data.unwrap_or_default().remove("value");
    ensure!(
        value.as_deref() == Some("written before the outage"),
        "after restart the value is {value:?}"
    );
    Ok(())
}

/// The real deployment and replicaset controllers, scheduler and (simulated) kubelet take a
/// Deployment to available replicas: nothing here writes a status.
async fn deployment_pods_run_on_the_sites_node(plane: Arc<ControlPlane>) -> Result<()> {
    let site = plane.cluster(SITES[0])?;
    let client = site.client().await?;
    let namespace = create_namespace(&client, "pods-run").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    deployments
        .create(
            &PostParams::default(),
            &with_replicas(deployment("service", None)?, 2, "100m"),
        )
        .await?;
    wait_available(&deployments, "service", 2).await?;
    let pods = Api::<Pod>::namespaced(client, &namespace)
        .list(&Default::default())
        .await?;
    ensure!(pods.items.len() == 2, "{} Pods", pods.items.len());
    for pod in &pods.items {
        let spec = pod.spec.as_ref().context("a Pod without spec")?;
        let status = pod.status.as_ref().context("a Pod without status")?;
        ensure!(
            spec.node_name.as_deref() == Some(&format!("{}-node-1", site.name()))
                && status.phase.as_deref() == Some("Running"),
            "Pod {:?} on {:?} is {:?}",
            pod.metadata.name,
            spec.node_name,
            status.phase
        );
    }
    Ok(())
}

/// A Pod asking for more than any node holds is not `Running` or silently lost: the scheduler
/// says why on the Pod.
async fn pods_that_fit_no_node_stay_pending_with_the_schedulers_reason(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let client = plane.cluster(SITES[0])?.client().await?;
    let namespace = create_namespace(&client, "pods-too-big").await?;
    Api::<Deployment>::namespaced(client.clone(), &namespace)
        .create(
            &PostParams::default(),
            &with_replicas(deployment("oversized", None)?, 1, "64"),
        )
        .await?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    wait_until("the scheduler to explain why", SETTLE_TIMEOUT, || {
        let pods = pods.clone();
        async move {
            let listed = pods.list(&Default::default()).await?;
            Ok(listed.items.iter().any(|pod| {
                pod.status
                    .as_ref()
                    .and_then(|status| status.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .any(|condition| {
                        condition.type_ == "PodScheduled"
                            && condition.reason.as_deref() == Some("Unschedulable")
                            && condition
                                .message
                                .as_deref()
                                .is_some_and(|message| message.contains("Insufficient cpu"))
                    })
            }))
        }
    })
    .await
}

/// When a site's kubelets stop answering, the real node-lifecycle controller marks the nodes and
/// their Pods not ready and the Deployment loses its available replicas; when they answer again
/// the nodes are Ready and the replica available again.
async fn a_site_whose_nodes_stop_loses_its_available_replicas(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let site = plane.cluster(SITES[1])?;
    let client = site.client().await?;
    let namespace = create_namespace(&client, "nodes-stop").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    deployments
        .create(
            &PostParams::default(),
            &with_replicas(deployment("service", None)?, 1, "100m"),
        )
        .await?;
    wait_available(&deployments, "service", 1).await?;

    site.stop_simulated_nodes();
    let lost = wait_available(&deployments, "service", 0).await;
    site.start_simulated_nodes()?;
    lost.context("the Deployment kept its replica available on a silent node")?;
    let nodes: Api<Node> = Api::all(client);
    let node = format!("{}-node-1", site.name());
    let not_ready = nodes.get(&node).await?;
    ensure!(!node_ready(&not_ready), "{node} still Ready");
    wait_until(&format!("{node} Ready again"), SETTLE_TIMEOUT, || {
        let nodes = nodes.clone();
        let node = node.clone();
        async move { Ok(node_ready(&nodes.get(&node).await?)) }
    })
    .await?;
    // Its kubelet back, the Pod is ready again and counts as available.
    wait_available(&deployments, "service", 1).await
}

/// Waits until the Deployment reports exactly `replicas` available, as its controller counts them.
async fn wait_available(deployments: &Api<Deployment>, name: &str, replicas: i32) -> Result<()> {
    wait_until(
        &format!("{name} to have {replicas} available replicas"),
        SETTLE_TIMEOUT,
        || async move {
            let deployment = deployments.get(name).await?;
            let status = deployment.status.unwrap_or_default();
            Ok(status.available_replicas.unwrap_or(0) == replicas
                && status.observed_generation == deployment.metadata.generation)
        },
    )
    .await
}

fn with_replicas(mut deployment: Deployment, replicas: i32, cpu: &str) -> Deployment {
    let spec = deployment.spec.get_or_insert_with(Default::default);
    spec.replicas = Some(replicas);
    if let Some(pod) = spec.template.spec.as_mut() {
        for container in &mut pod.containers {
            container.resources = Some(
                serde_json::from_value(json!({"requests": {"cpu": cpu, "memory": "64Mi"}}))
                    .expect("literal resource requirements"),
            );
        }
    }
    deployment
}

/// Creates a namespace with a unique name derived from `prefix` and returns that name.
async fn create_namespace(client: &Client, prefix: &str) -> Result<String> {
    let namespace: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": format!("{prefix}-")}
    }))?;
    let created = Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    created
        .metadata
        .name
        .context("created namespace has no name")
}

fn deployment(name: &str, classification: Option<&str>) -> Result<Deployment> {
    let labels = match classification {
        Some(classification) => json!({"app": name, "soberana.io/classification": classification}),
        None => json!({"app": name}),
    };
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "service", "image": "registry.invalid/service:1"}]}
            }
        }
    }))?)
}

fn config_map(name: &str, value: &str) -> Result<ConfigMap> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}
    }))?)
}

/// The API server's message when a request was rejected, or an error when it was accepted.
fn api_error_message<T: std::fmt::Debug>(result: kube::Result<T>) -> Result<String> {
    match result {
        Err(kube::Error::Api(status)) => Ok(status.message),
        Err(other) => bail!("expected a rejection from the API server, got {other}"),
        Ok(accepted) => bail!("the API server accepted {accepted:?}"),
    }
}

/// The username a TokenReview authenticates, or `None` when the token is rejected.
async fn token_review(client: &Client, token: &str) -> Result<Option<String>> {
    let review: TokenReview = serde_json::from_value(json!({"spec": {"token": token}}))?;
    let reviewed = Api::<TokenReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    let status = reviewed.status.unwrap_or_default();
    Ok(match status.authenticated {
        Some(true) => status.user.and_then(|user| user.username),
        _ => None,
    })
}

async fn access_review(
    client: &Client,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
) -> Result<bool> {
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}
        }
    }))?;
    let reviewed = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(reviewed.status.is_some_and(|status| status.allowed))
}
