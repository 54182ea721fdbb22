//! Real Kubernetes control planes for Soberana's tests and demo (`harness`), Soberana installed
//! into them (`install`), what `make demo` shows (`demo`), and the objects whose verdict the API
//! server and `soberana evaluate` must agree on (`crd_verdicts`). Soberana's programs run here as
//! processes: this crate depends on `core` alone, never on the operator's or the API's internals.

pub mod crd_verdicts;
mod demo;
mod harness;
mod install;

pub use harness::binaries::{BINARY_DIR_ENV, HarnessBinaries, pinned_kubernetes_version};
pub use harness::cluster::{Cluster, ClusterOptions};
pub use harness::component::Component;
pub use harness::control_plane::ControlPlane;
pub use harness::pki::{CertifiedKey, serving_certificate};
pub use harness::ports::free_loopback_port;
pub use harness::real_node::{
    LoopbackForward, NODE_BINARY_DIR_ENV, NodeBinaries, NodeFootprint, PROBE_IMAGE, RealNode,
    RealNodeOptions, SANDBOX_IMAGE, allocate_link_address, build_probe_images,
    remove_abandoned_nodes,
};
pub use harness::run_directory::KEEP_FILES_ENV;
pub use harness::suite::Suite;
pub use harness::test_tools::{TOOLS_DIR_ENV, test_tool};
pub use harness::wait::{Fatal, wait_until};

// The modules other crates' tests and `soberana-demo` name, at the crate root: one path each.
pub use demo::{
    api_showcase, convergence_report, exchange_showcase, residency_showcase, workload_showcase,
};
pub use harness::{etcd_server, simulated_nodes};
pub use install::{
    agency_access, exchange_approvals, operator_process, soberana_install, soberana_manifests,
    state_data_centre, workspace_binaries,
};
