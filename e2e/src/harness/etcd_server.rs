//! A standalone etcd from the harness binaries, for components that keep their own state in
//! etcd (the API's reservations and ledger): started, stopped and restarted with its data kept.
//! `start_secured` starts one the way production should run it: TLS on the client port with
//! client certificates required, and (`enable_auth`) users with a role per prefix.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, Permission, TlsOptions};

use crate::harness::binaries::HarnessBinaries;
use crate::harness::cluster::{etcd_arguments, etcd_healthy};
use crate::harness::component::Component;
use crate::harness::pki::EtcdPki;
use crate::harness::ports::free_loopback_port;
use crate::harness::run_directory::RunDirectory;
use crate::harness::wait::{Fatal, wait_until};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The etcd user the API runs as once authentication is on: its role reads and writes only
/// under [`SOBERANA_PREFIX`].
pub const SOBERANA_USER: &str = "soberana";
/// The key prefix the `soberana` role covers (the API's default `--etcd-prefix`).
pub const SOBERANA_PREFIX: &str = "/soberana/";
/// The common name of the client certificate: no etcd user has it, so the certificate alone
/// (without a password) grants nothing once authentication is on.
const CLIENT_CERTIFICATE_NAME: &str = "soberana-client";

/// One etcd member on loopback, its files removed when dropped.
pub struct EtcdServer {
    component: Mutex<Component>,
    port: u16,
    /// Where `/health` answers in plain HTTP: the client port, or with TLS a metrics port.
    health_port: u16,
    tls: Option<EtcdTlsFiles>,
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

/// What a client of a TLS etcd needs: the CA that signed etcd's certificate, and a client
/// certificate and key that etcd accepts.
#[derive(Debug, Clone)]
pub struct EtcdTlsFiles {
    pub ca_certificate: PathBuf,
    pub client_certificate: PathBuf,
    pub client_key: PathBuf,
}

/// The users `enable_auth` created.
#[derive(Debug, Clone)]
pub struct EtcdUsers {
    /// `root`'s password: root reads and writes everything and manages users.
    pub root_password: String,
    /// [`SOBERANA_USER`]'s password.
    pub soberana_password: String,
}

impl EtcdServer {
    /// Starts etcd (building the harness binaries first if needed) and waits until it serves.
    pub async fn start() -> Result<Self> {
        Self::launch(false).await
    }

    /// Starts etcd serving only TLS on its client port and requiring a client certificate signed
    /// by its own CA (see [`tls_files`](Self::tls_files)); `/health` is served in plain HTTP on
    /// a separate metrics port, for the readiness wait.
    pub async fn start_secured() -> Result<Self> {
        Self::launch(true).await
    }

    async fn launch(secured: bool) -> Result<Self> {
        let binaries = tokio::task::spawn_blocking(HarnessBinaries::locate)
            .await
            .context("locating binaries")??;
        let directory = RunDirectory::create()?;
        let port = free_loopback_port()?;
        let peer_port = free_loopback_port()?;
        let mut arguments = etcd_arguments("store", directory.path(), port, peer_port);
        let mut health_port = port;
        let mut tls = None;
        if secured {
            let pki = EtcdPki::generate(&directory.path().join("pki"), CLIENT_CERTIFICATE_NAME)?;
            health_port = free_loopback_port()?;
            let client = format!("https://127.0.0.1:{port}");
            for argument in &mut arguments {
                if argument.starts_with("--listen-client-urls=") {
                    *argument = format!("--listen-client-urls={client}");
                } else if argument.starts_with("--advertise-client-urls=") {
                    *argument = format!("--advertise-client-urls={client}");
                }
            }
            arguments.extend([
                format!("--cert-file={}", pki.serving_certificate_file.display()),
                format!("--key-file={}", pki.serving_key_file.display()),
                format!("--trusted-ca-file={}", pki.ca_certificate_file.display()),
                "--client-cert-auth".to_owned(),
                format!("--listen-metrics-urls=http://127.0.0.1:{health_port}"),
            ]);
            tls = Some(EtcdTlsFiles {
                ca_certificate: pki.ca_certificate_file,
                client_certificate: pki.client_certificate_file,
                client_key: pki.client_key_file,
            });
        }
        let component = Component::new("etcd", &binaries.etcd, arguments, directory.path());
        let server = Self {
            component: Mutex::new(component),
            port,
            health_port,
            tls,
            _directory: directory,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`, or `https://…` when started with TLS.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The CA and a client certificate for this etcd, when started with TLS.
    pub fn tls_files(&self) -> Option<&EtcdTlsFiles> {
        self.tls.as_ref()
    }

    /// A client of this etcd (over TLS with the client certificate when it serves TLS), as
    /// `user` (name, password) if given.
    pub async fn client(&self, user: Option<(&str, &str)>) -> Result<Client> {
        let mut options = ConnectOptions::new().with_timeout(Duration::from_secs(5));
        if let Some(files) = &self.tls {
            let read = |path: &PathBuf| {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            };
            options = options.with_tls(
                TlsOptions::new()
                    .ca_certificate(Certificate::from_pem(read(&files.ca_certificate)?))
                    .identity(Identity::from_pem(
                        read(&files.client_certificate)?,
                        read(&files.client_key)?,
                    )),
            );
        }
        if let Some((name, password)) = user {
            options = options.with_user(name, password);
        }
        Client::connect([self.endpoint()], Some(options))
            .await
            .with_context(|| format!("connecting to etcd at {}", self.endpoint()))
    }

    /// Turns etcd's authentication on, as `etcdctl` would: a `root` user with the root role, and
    /// [`SOBERANA_USER`] whose role of the same name may read and write only under
    /// [`SOBERANA_PREFIX`]. From then on every request needs a user.
    pub async fn enable_auth(&self) -> Result<EtcdUsers> {
        let users = EtcdUsers {
            root_password: format!("root-{}", self.port),
            soberana_password: format!("soberana-{}", self.port),
        };
        let mut client = self.client(None).await?;
        client.role_add("root").await.context("adding role root")?;
        client
            .user_add("root", users.root_password.as_str(), None)
            .await
            .context("adding user root")?;
        client
            .user_grant_role("root", "root")
            .await
            .context("granting root to root")?;
        client
            .role_add(SOBERANA_USER)
            .await
            .context("adding role soberana")?;
        client
            .role_grant_permission(
                SOBERANA_USER,
                Permission::read_write(SOBERANA_PREFIX).with_prefix(),
            )
            .await
            .context("granting the soberana role its prefix")?;
        client
            .user_add(SOBERANA_USER, users.soberana_password.as_str(), None)
            .await
            .context("adding user soberana")?;
        client
            .user_grant_role(SOBERANA_USER, SOBERANA_USER)
            .await
            .context("granting soberana its role")?;
        client.auth_enable().await.context("enabling auth")?;
        Ok(users)
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
        let port = self.health_port;
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
