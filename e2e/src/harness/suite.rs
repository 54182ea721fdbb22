//! A test binary's suite over one shared control plane: starting API servers costs tens of
//! seconds, so each e2e test binary starts its clusters once, runs its tests against them (each in
//! its own namespaces), prints the components' logs when a test fails, and tears everything down
//! at the end. Output and flags follow `cargo test` (filters, `--list`, `--exact`, …).

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use libtest_mimic::{Arguments, Failed, Trial};

use crate::harness::control_plane::ControlPlane;
use crate::harness::real_node::RealNodeOptions;

type TestFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;
type TestBody = Box<dyn FnOnce(Arc<ControlPlane>) -> TestFuture + Send>;

/// Named tests that share one control plane of the given clusters.
pub struct Suite {
    cluster_names: Vec<&'static str>,
    real_nodes: Vec<(&'static str, RealNodeOptions)>,
    tests: Vec<(&'static str, TestBody)>,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Suite")
            .field("cluster_names", &self.cluster_names)
            .field(
                "tests",
                &self.tests.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Suite {
    pub fn new(cluster_names: &[&'static str]) -> Self {
        Self {
            cluster_names: cluster_names.to_vec(),
            real_nodes: Vec::new(),
            tests: Vec::new(),
        }
    }

    /// Gives the cluster `cluster` a real node (see [`ControlPlane::real_node`]).
    #[must_use]
    pub fn with_real_node(mut self, cluster: &'static str, options: RealNodeOptions) -> Self {
        self.real_nodes.push((cluster, options));
        self
    }

    /// Adds a test; it fails when it returns an error or panics.
    pub fn test<F, Fut>(mut self, name: &'static str, body: F) -> Self
    where
        F: FnOnce(Arc<ControlPlane>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.tests
            .push((name, Box::new(move |plane| Box::pin(body(plane)))));
        self
    }

    /// Parses the `cargo test` arguments, starts the control plane (unless only listing), runs
    /// the selected tests one after another and returns the process' exit code.
    pub fn run(self) -> ExitCode {
        let mut arguments = Arguments::from_args();
        // One test at a time by default: some tests stop a cluster, and two cores are shared by
        // the servers anyway.
        arguments.test_threads.get_or_insert(1);
        if arguments.list {
            let trials = self
                .tests
                .into_iter()
                .map(|(name, _)| Trial::test(name, || Ok(())))
                .collect();
            return libtest_mimic::run(&arguments, trials).exit_code();
        }

        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: starting the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("starting control plane: {}", self.cluster_names.join(", "));
        let plane = match runtime.block_on(ControlPlane::start_with_real_nodes(
            &self.cluster_names,
            &self
                .real_nodes
                .iter()
                .map(|(cluster, options)| (*cluster, options.clone()))
                .collect::<Vec<_>>(),
        )) {
            Ok(plane) => Arc::new(plane),
            Err(error) => {
                eprintln!("error: {error:#}");
                return ExitCode::FAILURE;
            }
        };
        eprintln!("control plane ready in {}", plane.directory().display());

        let handle = runtime.handle().clone();
        let trials = self
            .tests
            .into_iter()
            .map(|(name, body)| {
                let plane = plane.clone();
                let handle = handle.clone();
                Trial::test(name, move || {
                    handle
                        .block_on(body(plane))
                        .map_err(|error| Failed::from(format!("{error:#}")))
                })
            })
            .collect();
        let conclusion = libtest_mimic::run(&arguments, trials);
        if conclusion.has_failed() {
            plane.report_failure();
        }
        // The servers stop inside the runtime that their clients were built on.
        drop(plane);
        drop(runtime);
        conclusion.exit_code()
    }
}
