//! What a site's nodes hold, read the way a scheduler would (Karmada's general estimator reads
//! nodes the same way): the allocatable CPU and memory of the nodes that can take Pods, what the
//! Pods bound to them request, and the difference. Placement uses the smaller of this and the
//! declared capacity, so a plan never reserves what the site's machines do not have.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::capacity::Capacity;
use super::quantity::{Rounding, mebibytes, millicores};
use super::site::Site;

/// The site's nodes as last observed (`status.nodes`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObservedNodes {
    /// Nodes registered on the site.
    pub total: u32,
    /// Nodes that are Ready and schedulable: the only ones counted below.
    pub ready: u32,
    /// CPU and memory those nodes offer to Pods (storage is not read from nodes).
    pub allocatable: Capacity,
    /// What the Pods bound to those nodes request (Pods that finished are not counted).
    pub requested: Capacity,
    /// Allocatable minus requested.
    pub free: Capacity,
}

/// Observe: what `nodes` hold and the `pods` on them request.
pub fn observe(nodes: &[Node], pods: &[Pod]) -> ObservedNodes {
    let mut observation = NodeObservation::of_nodes(nodes);
    observation.count(pods);
    observation.finish()
}

/// An observation under way: the nodes are read at once, the Pods a page at a time (a site may
/// run tens of thousands).
#[derive(Debug)]
pub struct NodeObservation {
    usable: BTreeSet<String>,
    observed: ObservedNodes,
}

impl NodeObservation {
    pub fn of_nodes(nodes: &[Node]) -> Self {
        let usable: Vec<&Node> = nodes.iter().filter(|node| usable(node)).collect();
        let allocatable = usable
            .iter()
            .filter_map(|node| node.status.as_ref()?.allocatable.as_ref())
            .fold(Capacity::default(), |sum, resources| {
                sum.plus(amount(
                    resources.get("cpu"),
                    resources.get("memory"),
                    Rounding::Down,
                ))
            });
        Self {
            usable: usable
                .iter()
                .filter_map(|node| node.metadata.name.clone())
                .collect(),
            observed: ObservedNodes {
                total: u32::try_from(nodes.len()).unwrap_or(u32::MAX),
                ready: u32::try_from(usable.len()).unwrap_or(u32::MAX),
                allocatable,
                ..ObservedNodes::default()
            },
        }
    }

    /// Adds what the unfinished `pods` bound to a usable node request.
    pub fn count(&mut self, pods: &[Pod]) {
        for pod in pods {
            let node = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref());
            if node.is_some_and(|node| self.usable.contains(node)) && !finished(pod) {
                self.observed.requested = self.observed.requested.plus(requests(pod));
            }
        }
    }

    pub fn finish(mut self) -> ObservedNodes {
        self.observed.free = self.observed.allocatable.minus(self.observed.requested);
        self.observed
    }
}

/// What placement may still give out on `site` before reservations: its declared capacity
/// minus what tenants were allocated, and — once its nodes have been observed — no more CPU or
/// memory than they have free.
pub fn free_before_reservations(site: &Site) -> Capacity {
    let status = site.status.as_ref();
    let allocated = status
        .and_then(|status| status.allocated)
        .unwrap_or_default();
    let declared = site.spec.capacity.minus(allocated);
    match status.and_then(|status| status.nodes.as_ref()) {
        Some(nodes) => Capacity {
            cpu_millicores: declared.cpu_millicores.min(nodes.free.cpu_millicores),
            memory_mebibytes: declared.memory_mebibytes.min(nodes.free.memory_mebibytes),
            storage_gibibytes: declared.storage_gibibytes,
        },
        None => declared,
    }
}

/// Ready, and not cordoned: a node the scheduler would use.
fn usable(node: &Node) -> bool {
    let cordoned = node
        .spec
        .as_ref()
        .and_then(|spec| spec.unschedulable)
        .unwrap_or(false);
    let ready = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|condition| condition.type_ == "Ready" && condition.status == "True");
    ready && !cordoned
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// A Pod's request as the scheduler counts it: its containers' requests summed, or its largest
/// init container's if that is more, plus its overhead.
fn requests(pod: &Pod) -> Capacity {
    let Some(spec) = pod.spec.as_ref() else {
        return Capacity::default();
    };
    let of = |resources: Option<&ResourceRequirements>| {
        let requests = resources.and_then(|resources| resources.requests.as_ref());
        amount(
            requests.and_then(|requests| requests.get("cpu")),
            requests.and_then(|requests| requests.get("memory")),
            Rounding::Up,
        )
    };
    let containers = spec
        .containers
        .iter()
        .fold(Capacity::default(), |sum, container| {
            sum.plus(of(container.resources.as_ref()))
        });
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|container| of(container.resources.as_ref()))
        .fold(Capacity::default(), |largest, next| Capacity {
            cpu_millicores: largest.cpu_millicores.max(next.cpu_millicores),
            memory_mebibytes: largest.memory_mebibytes.max(next.memory_mebibytes),
            storage_gibibytes: 0,
        });
    let overhead = spec
        .overhead
        .as_ref()
        .map_or_else(Capacity::default, |overhead| {
            amount(overhead.get("cpu"), overhead.get("memory"), Rounding::Up)
        });
    Capacity {
        cpu_millicores: containers.cpu_millicores.max(init.cpu_millicores),
        memory_mebibytes: containers.memory_mebibytes.max(init.memory_mebibytes),
        storage_gibibytes: 0,
    }
    .plus(overhead)
}

/// CPU and memory from two quantities; one a node or Pod reports unreadably counts as none
/// (a member's malformed answer must not stop the site's report).
fn amount(cpu: Option<&Quantity>, memory: Option<&Quantity>, rounding: Rounding) -> Capacity {
    Capacity {
        cpu_millicores: cpu
            .and_then(|cpu| millicores(&cpu.0, rounding).ok())
            .unwrap_or(0),
        memory_mebibytes: memory
            .and_then(|memory| mebibytes(&memory.0, rounding).ok())
            .unwrap_or(0),
        storage_gibibytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str, ready: bool, cordoned: bool, cpu: &str, memory: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"unschedulable": cordoned},
            "status": {
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "Unknown" }}]
            }
        }))
        .unwrap()
    }

    fn pod(
        node: &str,
        phase: &str,
        containers: &[(&str, &str)],
        init: Option<(&str, &str)>,
    ) -> Pod {
        let resources =
            |(cpu, memory): (&str, &str)| json!({"requests": {"cpu": cpu, "memory": memory}});
        serde_json::from_value(json!({
            "metadata": {"name": "pod"},
            "spec": {
                "nodeName": node,
                "containers": containers.iter().map(|pair| json!({"name": "c", "resources": resources(*pair)})).collect::<Vec<_>>(),
                "initContainers": init.map(|pair| vec![json!({"name": "i", "resources": resources(pair)})]).unwrap_or_default(),
            },
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn only_ready_schedulable_nodes_and_the_pods_running_on_them_count() {
        let nodes = [
            node("a", true, false, "8", "32Gi"),
            node("b", true, false, "4000m", "16Gi"),
            node("down", false, false, "8", "32Gi"),
            node("cordoned", true, true, "8", "32Gi"),
        ];
        let pods = [
            pod("a", "Running", &[("500m", "1Gi"), ("250m", "512Mi")], None),
            pod("b", "Pending", &[("1", "1Gi")], Some(("2", "256Mi"))),
            pod("a", "Succeeded", &[("4", "4Gi")], None),
            pod("down", "Running", &[("4", "4Gi")], None),
        ];
        let observed = observe(&nodes, &pods);
        assert_eq!((observed.total, observed.ready), (4, 2));
        assert_eq!(observed.allocatable.cpu_millicores, 12_000);
        assert_eq!(observed.allocatable.memory_mebibytes, 48 * 1024);
        // 750m + max(1000m, init 2000m); 1.5 GiB + max(1 GiB, 256 MiB).
        assert_eq!(observed.requested.cpu_millicores, 2_750);
        assert_eq!(observed.requested.memory_mebibytes, 2_560);
        assert_eq!(observed.free.cpu_millicores, 9_250);
    }

    #[test]
    fn placement_gets_the_smaller_of_declared_and_observed_free() {
        let mut site: Site = serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": "s"},
            "spec": {"provider": "p", "sovereigntyTier": "StateOwned", "jurisdiction": "CR",
                     "offeredAvailability": "99.9",
                     "capacity": {"cpuMillicores": 10_000, "memoryMebibytes": 1_000, "storageGibibytes": 50}},
            "status": {"allocated": {"cpuMillicores": 1_000, "memoryMebibytes": 100}}
        }))
        .unwrap();
        let declared_only = free_before_reservations(&site);
        assert_eq!(
            (declared_only.cpu_millicores, declared_only.memory_mebibytes),
            (9_000, 900)
        );
        site.status.as_mut().unwrap().nodes = Some(ObservedNodes {
            free: Capacity {
                cpu_millicores: 2_000,
                memory_mebibytes: 4_096,
                storage_gibibytes: 0,
            },
            ..ObservedNodes::default()
        });
        assert_eq!(
            free_before_reservations(&site),
            Capacity {
                cpu_millicores: 2_000,
                memory_mebibytes: 900,
                storage_gibibytes: 50
            }
        );
    }
}
