//! A standalone etcd from the harness binaries, for components that keep their own state in
//! etcd (the API's reservations and ledger): started, stopped and restarted with its data kept.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::binaries::HarnessBinaries;
use crate::cluster::{etcd_arguments, etcd_healthy};
use crate::component::Component;
use crate::ports::free_loopback_port;
use crate::run_directory::RunDirectory;
use crate::wait::{Fatal, wait_until};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One etcd member on loopback, its files removed when dropped.
pub struct EtcdServer {
    component: Mutex<Component>,
    port: u16,
    // Dropped last: the process stops before its files go.
    _directory: RunDirectory,
}

impl std::fmt::Debug for EtcdServer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EtcdServer")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

impl EtcdServer {
    /// Starts etcd (building the harness binaries first if needed) and waits until it serves.
    pub async fn start() -> Result<Self> {
        let binaries = tokio::task::spawn_blocking(HarnessBinaries::locate)
            .await
            .context("locating binaries")??;
        let directory = RunDirectory::create()?;
        let port = free_loopback_port()?;
        let peer_port = free_loopback_port()?;
        let component = Component::new(
            "etcd",
            &binaries.etcd,
            etcd_arguments("store", directory.path(), port, peer_port),
            directory.path(),
        );
        let server = Self {
            component: Mutex::new(component),
            port,
            _directory: directory,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops etcd; its data stays for `start_again`.
    pub fn stop(&self) {
        self.lock().stop();
    }

    /// Freezes etcd (`true`) or lets it go on (`false`): while frozen it answers nothing.
    pub fn freeze(&self, frozen: bool) {
        self.lock().freeze(frozen);
    }

    /// Starts etcd on the same port and data, and waits until it serves.
    pub async fn start_again(&self) -> Result<()> {
        self.lock().start()?;
        let port = self.port;
        wait_until("etcd /health", READY_TIMEOUT, || {
            let exited = self.lock().exited();
            async move {
                if let Some(status) = exited {
                    return Err(Fatal(format!("etcd exited with {status}")).into());
                }
                etcd_healthy(port).await
            }
        })
        .await
    }

    fn lock(&self) -> MutexGuard<'_, Component> {
        self.component
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
