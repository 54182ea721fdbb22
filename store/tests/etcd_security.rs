//! The API's store against an etcd run as production should run it: TLS on the client port,
//! client certificates required, and authentication with a user whose role covers only the
//! store's prefix. What a user sees: the store works over TLS with the right certificate and
//! password; a missing client certificate, a CA that did not sign etcd's certificate, a wrong
//! password, a key outside the prefix or a wrong setting are refused, saying which.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use soberana_core::ledger::{NewRecord, RecordKind, verify};
use soberana_core::resources::capacity::Capacity;
use soberana_e2e::etcd_server::{EtcdServer, EtcdTlsFiles, SOBERANA_PREFIX, SOBERANA_USER};
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;
use soberana_store::{Store, StoreError, TenantQuota};

fn record() -> NewRecord {
    NewRecord {
        kind: RecordKind::Plan,
        time: "2026-11-23T10:00:00Z".to_owned(),
        actor: "system:serviceaccount:minsa:migrator".to_owned(),
        subject: "minsa-prod/citas".to_owned(),
        payload_json: "{\"plan\":1}".to_owned(),
    }
}

/// TLS with the harness's CA and client certificate, no user.
fn with_certificate(files: &EtcdTlsFiles) -> EtcdSecurity {
    EtcdSecurity {
        ca: Some(files.ca_certificate.clone()),
        client_cert: Some(files.client_certificate.clone()),
        client_key: Some(files.client_key.clone()),
        ..EtcdSecurity::default()
    }
}

/// The same, as `user` with `password`.
fn as_user(files: &EtcdTlsFiles, user: &str, password: &str) -> EtcdSecurity {
    EtcdSecurity {
        user: Some(user.to_owned()),
        password: Some(password.into()),
        ..with_certificate(files)
    }
}

/// Reserves capacity for a plan and appends a ledger record, as a plan through the API does.
async fn plan_and_record(store: &EtcdStore) {
    let cpu = Capacity {
        cpu_millicores: 500,
        memory_mebibytes: 0,
        storage_gibibytes: 0,
    };
    let free = BTreeMap::from([("state-dc".to_owned(), cpu)]);
    let held = store
        .reserve(
            "plan-1",
            &TenantQuota::unlimited("minsa"),
            &[("state-dc".to_owned(), cpu)],
            &free,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let appended = store.append(record()).await.unwrap();
    assert_eq!(store.last_sequence().await.unwrap(), appended.sequence);
    assert_eq!(
        verify(&store.records(1, 100).await.unwrap()),
        Ok(appended.sequence)
    );
    assert!(store.healthy().await, "the store reports itself unhealthy");
}

/// The message of an unavailable store; panics on anything else.
fn unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(StoreError::Unavailable(message)) => message,
        other => panic!("expected the store to be unavailable, got {other:?}"),
    }
}

/// A CA of its own, which signed nothing etcd presents.
fn another_ca(directory: &Path) -> PathBuf {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let certificate = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let path = directory.join("another-ca.crt");
    std::fs::write(&path, certificate.pem()).unwrap();
    path
}

#[tokio::test]
async fn a_store_works_over_tls_with_a_client_certificate() {
    let etcd = EtcdServer::start_secured().await.unwrap();
    assert!(
        etcd.endpoint().starts_with("https://"),
        "{}",
        etcd.endpoint()
    );
    let files = etcd.tls_files().unwrap();
    let store = EtcdStore::connect(&[etcd.endpoint()], "/soberana/", &with_certificate(files))
        .await
        .unwrap();
    plan_and_record(&store).await;
    // A restarted etcd (readiness is checked on its plain metrics port) is reached again.
    etcd.stop();
    etcd.start_again().await.unwrap();
    assert_eq!(store.last_sequence().await.unwrap(), 1);
}

#[tokio::test]
async fn etcd_refuses_a_store_without_its_client_certificate_or_trusting_another_ca() {
    let etcd = EtcdServer::start_secured().await.unwrap();
    let files = etcd.tls_files().unwrap();
    let endpoints = [etcd.endpoint()];

    let without_certificate = EtcdSecurity {
        ca: Some(files.ca_certificate.clone()),
        ..EtcdSecurity::default()
    };
    let message =
        unavailable(EtcdStore::connect(&endpoints, "/soberana/", &without_certificate).await);
    assert!(
        message.contains("without a client certificate") && message.contains("--etcd-cert"),
        "{message}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let trusting_another_ca = EtcdSecurity {
        ca: Some(another_ca(scratch.path())),
        ..with_certificate(files)
    };
    let message =
        unavailable(EtcdStore::connect(&endpoints, "/soberana/", &trusting_another_ca).await);
    assert!(
        message.contains("etcd's TLS certificate does not check out against --etcd-ca")
            && message.contains("invalid peer certificate: UnknownIssuer"),
        "{message}"
    );

    // The same etcd with the right settings, for contrast.
    EtcdStore::connect(&endpoints, "/soberana/", &with_certificate(files))
        .await
        .unwrap();

    // A stopped etcd is not blamed on a certificate.
    etcd.stop();
    let message =
        unavailable(EtcdStore::connect(&endpoints, "/soberana/", &without_certificate).await);
    assert!(
        message.contains("Connection refused") && !message.contains("certificate"),
        "{message}"
    );
}

#[tokio::test]
async fn with_authentication_on_the_soberana_user_works_only_under_its_prefix() {
    let etcd = EtcdServer::start_secured().await.unwrap();
    let users = etcd.enable_auth().await.unwrap();
    let files = etcd.tls_files().unwrap();
    let endpoints = [etcd.endpoint()];

    let soberana = as_user(files, SOBERANA_USER, &users.soberana_password);
    let store = EtcdStore::connect(&endpoints, SOBERANA_PREFIX, &soberana)
        .await
        .unwrap();
    plan_and_record(&store).await;

    let wrong_password = as_user(files, SOBERANA_USER, "not-the-password");
    let message =
        unavailable(EtcdStore::connect(&endpoints, SOBERANA_PREFIX, &wrong_password).await);
    assert!(
        message.contains("--etcd-user soberana")
            && message.contains("authentication failed, invalid user ID or password"),
        "{message}"
    );

    // Outside its prefix the soberana user gets nothing: neither a key root wrote...
    let mut root = etcd
        .client(Some(("root", &users.root_password)))
        .await
        .unwrap();
    root.put("/registry/secrets/kube-system/token", "secret", None)
        .await
        .unwrap();
    let mut client = etcd
        .client(Some((SOBERANA_USER, &users.soberana_password)))
        .await
        .unwrap();
    let refused = client
        .get("/registry/secrets/kube-system/token", None)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("etcdserver: permission denied"),
        "{refused}"
    );
    // ...nor a store under another prefix.
    let elsewhere = EtcdStore::connect(&endpoints, "/elsewhere/", &soberana)
        .await
        .unwrap();
    let message = unavailable(elsewhere.last_sequence().await);
    assert!(message.contains("permission denied"), "{message}");
    let message = unavailable(elsewhere.append(record()).await);
    assert!(message.contains("permission denied"), "{message}");
    // Its own records are still there.
    assert_eq!(store.last_sequence().await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_settings_are_named_by_their_flag() {
    let etcd = EtcdServer::start_secured().await.unwrap();
    let files = etcd.tls_files().unwrap();
    let endpoints = [etcd.endpoint()];

    let missing = EtcdSecurity {
        ca: Some(PathBuf::from("/nonexistent/etcd-ca.crt")),
        ..with_certificate(files)
    };
    let message = unavailable(EtcdStore::connect(&endpoints, "/soberana/", &missing).await);
    assert!(
        message.starts_with("--etcd-ca /nonexistent/etcd-ca.crt: No such file"),
        "{message}"
    );

    let key_for_certificate = EtcdSecurity {
        client_cert: Some(files.client_key.clone()),
        ..with_certificate(files)
    };
    let message =
        unavailable(EtcdStore::connect(&endpoints, "/soberana/", &key_for_certificate).await);
    assert!(
        message.starts_with("--etcd-cert ") && message.ends_with("not a PEM certificate"),
        "{message}"
    );

    let plaintext = etcd.endpoint().replacen("https://", "http://", 1);
    let message =
        unavailable(EtcdStore::connect(&[plaintext], "/soberana/", &with_certificate(files)).await);
    assert!(message.contains("use https://"), "{message}");

    let without_password = EtcdSecurity {
        user: Some(SOBERANA_USER.to_owned()),
        ..with_certificate(files)
    };
    let message =
        unavailable(EtcdStore::connect(&endpoints, "/soberana/", &without_password).await);
    assert!(
        message.contains("--etcd-user soberana needs a password"),
        "{message}"
    );
}
