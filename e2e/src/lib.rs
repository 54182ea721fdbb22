//! Real Kubernetes control planes for Soberana's tests and demo.
//!
//! Each cluster runs the upstream `etcd`, `kube-apiserver` and `kube-controller-manager` (built
//! from their Go modules by `scripts/build-harness.sh`) as local processes on free loopback
//! ports, with its own PKI and service-account issuer, so several clusters stand for several
//! sites on one machine.

pub mod agency_access;
pub mod api_showcase;
mod binaries;
mod cluster;
mod component;
mod control_plane;
pub mod convergence_report;
pub mod etcd_server;
mod kubeconfig;
pub mod operator_process;
mod pki;
mod ports;
pub mod residency_showcase;
mod run_directory;
pub mod soberana_install;
pub mod soberana_manifests;
pub mod state_data_centre;
mod suite;
mod wait;
pub mod workload_showcase;
pub mod workspace_binaries;

pub use binaries::{BINARY_DIR_ENV, HarnessBinaries, pinned_kubernetes_version};
pub use cluster::Cluster;
pub use component::Component;
pub use control_plane::ControlPlane;
pub use run_directory::KEEP_FILES_ENV;
pub use suite::Suite;
pub use wait::{Fatal, wait_until};
