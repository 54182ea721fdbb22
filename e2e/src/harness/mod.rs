//! The real control planes: the upstream `etcd`, `kube-apiserver`, `kube-controller-manager`,
//! `kube-scheduler` and kwok's simulated nodes (built from their Go modules by
//! `scripts/build-harness.sh`) run as local processes on free
//! loopback ports, each cluster with its own PKI and service-account issuer, so several clusters
//! stand for several sites on one machine; a real node (containerd, kubelet, kube-proxy in their
//! own namespaces, `real_node`) for the clusters that ask for one; and the test suites and waits
//! built on them.

pub(crate) mod binaries;
pub(crate) mod cluster;
pub(crate) mod component;
pub(crate) mod control_plane;
pub mod etcd_server;
pub(crate) mod kubeconfig;
pub(crate) mod pki;
pub(crate) mod ports;
pub(crate) mod real_node;
pub(crate) mod run_directory;
pub mod simulated_nodes;
pub(crate) mod suite;
pub(crate) mod test_tools;
pub(crate) mod wait;
