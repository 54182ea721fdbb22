//! How the store reaches etcd safely: TLS (etcd's certificate checked against a CA, a client
//! certificate presented) and an etcd user, from flags both binaries share. Errors name the flag
//! or file that is wrong.

use std::error::Error as _;
use std::path::{Path, PathBuf};

use etcd_client::{Certificate, Identity, TlsOptions};
use secrecy::{ExposeSecret, SecretString};

use super::StoreError;

/// Where the etcd user's password is read from (or `--etcd-password-file`): never a flag, since
/// `ps` shows every process's arguments.
pub const ETCD_PASSWORD_ENV: &str = "SOBERANA_ETCD_PASSWORD";

/// How the store reaches etcd safely. etcd holds the decision ledger and the reservations: over
/// plaintext anyone on the path reads and rewrites them, and without a client certificate or a
/// user anyone who reaches etcd's port does. All optional, so that a lab etcd on loopback still
/// works with none (`EtcdSecurity::default()`).
#[derive(Clone, Debug, Default)]
pub struct EtcdSecurity {
    /// PEM CA that signed etcd's serving certificate (`--etcd-ca`): etcd must present a
    /// certificate it signed. Without it, `https://` endpoints are checked against the system's
    /// trusted roots.
    pub ca: Option<PathBuf>,
    /// PEM client certificate (`--etcd-cert`), for an etcd started with `--client-cert-auth`.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's PEM private key (`--etcd-key`).
    pub client_key: Option<PathBuf>,
    /// etcd user (`--etcd-user`), for an etcd with authentication on: a user whose role covers
    /// only the store's prefix, so that the API cannot read or break the rest of etcd.
    pub user: Option<String>,
    /// The user's password (`SOBERANA_ETCD_PASSWORD` or `--etcd-password-file`).
    pub password: Option<SecretString>,
}

impl EtcdSecurity {
    /// Whether TLS material was given, which makes every endpoint TLS.
    pub(crate) fn wants_tls(&self) -> bool {
        self.ca.is_some() || self.client_cert.is_some() || self.client_key.is_some()
    }

    /// The TLS options for `endpoints`, if they are TLS: the CA (else the system's roots) and the
    /// client identity. The files are read now, so that a wrong one is named at start.
    pub(crate) async fn tls(&self, endpoints: &[String]) -> Result<Option<TlsOptions>, String> {
        let https = endpoints
            .iter()
            .filter(|endpoint| endpoint.starts_with("https://"))
            .count();
        let plain = endpoints
            .iter()
            .find(|endpoint| endpoint.starts_with("http://"));
        if let Some(plain) = plain {
            if self.wants_tls() {
                return Err(format!(
                    "--etcd-ca/--etcd-cert/--etcd-key are for TLS, but the etcd endpoint {plain} is plaintext: use https://"
                ));
            }
            if https > 0 {
                return Err(format!(
                    "the etcd endpoints mix https:// and plaintext ({plain}): use https:// for all"
                ));
            }
            return Ok(None);
        }
        if https == 0 && !self.wants_tls() {
            return Ok(None);
        }
        let mut tls = TlsOptions::new().timeout(super::etcd::CALL_TIMEOUT);
        tls = match &self.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(
                read_pem("--etcd-ca", ca, CERTIFICATE).await?,
            )),
            None => tls.with_native_roots(),
        };
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let cert = read_pem("--etcd-cert", cert, CERTIFICATE).await?;
                let key = read_pem("--etcd-key", key, PRIVATE_KEY).await?;
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err("--etcd-cert and --etcd-key go together".to_owned());
            }
        }
        Ok(Some(tls))
    }

    /// The user and password to authenticate as, if any.
    pub(crate) fn credentials(&self) -> Result<Option<(String, String)>, String> {
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => {
                Ok(Some((user.clone(), password.expose_secret().to_owned())))
            }
            (Some(user), None) => Err(format!(
                "--etcd-user {user} needs a password: set {ETCD_PASSWORD_ENV} or --etcd-password-file"
            )),
            (None, Some(_)) => Err(format!(
                "an etcd password is set ({ETCD_PASSWORD_ENV} or --etcd-password-file) but --etcd-user is not"
            )),
            (None, None) => Ok(None),
        }
    }

    /// `error` from connecting (over TLS if `encrypted`), saying which setting etcd refused.
    pub(crate) fn refused(&self, error: &etcd_client::Error, encrypted: bool) -> StoreError {
        let text = describe(error);
        if let Some(user) = &self.user
            && text.contains("authentication failed")
        {
            return StoreError::Unavailable(format!(
                "etcd refused the password of --etcd-user {user}: {text}"
            ));
        }
        if encrypted && text.contains("invalid peer certificate") {
            let trusted = match &self.ca {
                Some(ca) => format!("--etcd-ca {}", ca.display()),
                None => "the system's roots (no --etcd-ca)".to_owned(),
            };
            return StoreError::Unavailable(format!(
                "etcd's TLS certificate does not check out against {trusted}: {text}"
            ));
        }
        // etcd checks a client certificate only after the TLS 1.3 handshake, and then just
        // closes the connection: all the client sees is that it closed.
        let closed_after_connecting = !text.contains("etcdserver:")
            && !text.contains("tcp connect error")
            && !text.contains("certificate");
        if encrypted && self.client_cert.is_none() && closed_after_connecting {
            return StoreError::Unavailable(format!(
                "{text} (over TLS without a client certificate: if etcd requires one, give --etcd-cert and --etcd-key)"
            ));
        }
        StoreError::Unavailable(text)
    }
}

/// The flags that make an [`EtcdSecurity`], shared by `soberana-api` and the operator.
#[derive(Clone, Debug, clap::Args)]
pub struct EtcdSecurityArguments {
    /// PEM CA that signed etcd's certificate (https:// endpoints; default: the system's roots).
    #[arg(long, value_name = "FILE")]
    pub etcd_ca: Option<PathBuf>,
    /// PEM client certificate for an etcd with --client-cert-auth; with --etcd-key.
    #[arg(long, value_name = "FILE", requires = "etcd_key")]
    pub etcd_cert: Option<PathBuf>,
    /// PEM private key of --etcd-cert.
    #[arg(long, value_name = "FILE", requires = "etcd_cert")]
    pub etcd_key: Option<PathBuf>,
    /// etcd user, for an etcd with authentication on. Its password comes from
    /// SOBERANA_ETCD_PASSWORD or --etcd-password-file, never a flag (`ps` would show it).
    #[arg(long)]
    pub etcd_user: Option<String>,
    /// File holding the etcd user's password (a trailing newline is not part of it).
    #[arg(long, value_name = "FILE", requires = "etcd_user")]
    pub etcd_password_file: Option<PathBuf>,
}

impl EtcdSecurityArguments {
    /// The security these flags ask for, the password from `SOBERANA_ETCD_PASSWORD` or
    /// `--etcd-password-file`.
    pub fn security(&self) -> anyhow::Result<EtcdSecurity> {
        let from_environment = match std::env::var(ETCD_PASSWORD_ENV) {
            Ok(password) => Some(password),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                anyhow::bail!("{ETCD_PASSWORD_ENV} is not UTF-8")
            }
        };
        self.security_with(from_environment)
    }

    /// The security, given the value of `SOBERANA_ETCD_PASSWORD` (empty counts as unset, as a
    /// chart sets it from an optional Secret).
    fn security_with(&self, from_environment: Option<String>) -> anyhow::Result<EtcdSecurity> {
        let from_environment = from_environment.filter(|password| !password.is_empty());
        let password = match (from_environment, &self.etcd_password_file) {
            (Some(_), Some(file)) => anyhow::bail!(
                "the etcd password is given twice, by {ETCD_PASSWORD_ENV} and by --etcd-password-file {}: keep one",
                file.display()
            ),
            (Some(password), None) => Some(password),
            (None, Some(file)) => Some(read_password_file(file)?),
            (None, None) => None,
        };
        let security = EtcdSecurity {
            ca: self.etcd_ca.clone(),
            client_cert: self.etcd_cert.clone(),
            client_key: self.etcd_key.clone(),
            user: self.etcd_user.clone(),
            password: password.map(SecretString::from),
        };
        security.credentials().map_err(anyhow::Error::msg)?;
        Ok(security)
    }
}

/// The password in `file`, without a trailing newline (`echo` and editors add one).
fn read_password_file(file: &Path) -> anyhow::Result<String> {
    let mut password = std::fs::read_to_string(file)
        .map_err(|error| anyhow::anyhow!("--etcd-password-file {}: {error}", file.display()))?;
    if password.ends_with('\n') {
        password.pop();
        if password.ends_with('\r') {
            password.pop();
        }
    }
    if password.is_empty() {
        anyhow::bail!("--etcd-password-file {}: the file is empty", file.display());
    }
    Ok(password)
}

/// What a PEM certificate starts with.
const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";
/// What every PEM private key's first line ends with (PKCS#8, RSA or EC).
const PRIVATE_KEY: &str = "PRIVATE KEY-----";

/// The PEM file `path` given by `flag`, checked to hold `marker`.
async fn read_pem(flag: &str, path: &Path, marker: &str) -> Result<Vec<u8>, String> {
    let pem = tokio::fs::read(path)
        .await
        .map_err(|error| format!("{flag} {}: {error}", path.display()))?;
    if !String::from_utf8_lossy(&pem).contains(marker) {
        let what = if marker == CERTIFICATE {
            "a PEM certificate"
        } else {
            "a PEM private key"
        };
        return Err(format!("{flag} {}: not {what}", path.display()));
    }
    Ok(pem)
}

/// An etcd client error as a sentence a person can act on: etcd's own message, or the transport
/// failure with its causes (a refused certificate, a refused connection).
pub(crate) fn describe(error: &etcd_client::Error) -> String {
    let (mut text, mut cause): (String, Option<&(dyn std::error::Error + 'static)>) = match error {
        etcd_client::Error::GRpcStatus(status) if status.message().is_empty() => {
            (status.code().to_string(), status.source())
        }
        etcd_client::Error::GRpcStatus(status) => (status.message().to_owned(), status.source()),
        etcd_client::Error::TransportError(error) => (error.to_string(), error.source()),
        other => (other.to_string(), None),
    };
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        // tonic's wrapper of every transport failure says nothing its causes do not.
        if inner_text != "transport error" && !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        etcd: EtcdSecurityArguments,
    }

    fn flags(arguments: &[&str]) -> Result<EtcdSecurityArguments, clap::Error> {
        Flags::try_parse_from(std::iter::once("soberana-api").chain(arguments.iter().copied()))
            .map(|flags| flags.etcd)
    }

    #[test]
    fn the_password_is_never_a_flag_and_a_certificate_needs_its_key() {
        let error = flags(&["--etcd-user", "soberana", "--etcd-password", "secret"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
        let error = flags(&["--etcd-cert", "client.crt"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(error.to_string().contains("--etcd-key"), "{error}");
        let error = flags(&["--etcd-password-file", "password"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn the_password_comes_from_the_environment_or_a_file_but_not_both() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("password");
        std::fs::write(&file, "from-the-file\n").unwrap();
        let file_flag = file.to_str().unwrap();

        let from_file = flags(&["--etcd-user", "soberana", "--etcd-password-file", file_flag])
            .unwrap()
            .security_with(None)
            .unwrap();
        assert_eq!(
            from_file.credentials().unwrap(),
            Some(("soberana".to_owned(), "from-the-file".to_owned())),
            "the trailing newline is not part of the password"
        );

        let user_only = flags(&["--etcd-user", "soberana"]).unwrap();
        let from_environment = user_only
            .security_with(Some("from-the-environment".to_owned()))
            .unwrap();
        assert_eq!(
            from_environment.credentials().unwrap(),
            Some(("soberana".to_owned(), "from-the-environment".to_owned()))
        );
        let error = user_only
            .security_with(Some(String::new()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs a password"), "{error}");

        let error = flags(&["--etcd-user", "soberana", "--etcd-password-file", file_flag])
            .unwrap()
            .security_with(Some("from-the-environment".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("given twice"), "{error}");

        let error = flags(&[])
            .unwrap()
            .security_with(Some("stray".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--etcd-user is not"), "{error}");
    }

    #[test]
    fn the_password_stays_out_of_debug_output() {
        let security = EtcdSecurity {
            user: Some("soberana".to_owned()),
            password: Some("hunter2".into()),
            ..EtcdSecurity::default()
        };
        assert!(!format!("{security:?}").contains("hunter2"));
    }
}
