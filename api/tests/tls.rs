//! The API over TLS (rustls), and with client certificates required (mutual TLS): a client that
//! trusts the CA reaches grpc.health.v1; one without the client certificate, or speaking plain
//! HTTP/2, is turned away at the handshake; the separate health address answers plaintext probes.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use soberana_api::server::auth::DEFAULT_TOKEN_AUDIENCE;
use soberana_api::server::limits::callers::CallerLimitSettings;
use soberana_api::server::serve::{ReservationLimits, Settings, TlsFiles, serve};
use soberana_api::server::transport_policy::Plaintext;
use soberana_store::memory::MemoryStore;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pem {
    certificate: String,
    key: String,
}

fn authority() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn issue(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Pem {
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, ca).unwrap();
    Pem {
        certificate: certificate.pem(),
        key: key.serialize_pem(),
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Kubernetes client for an address nothing listens on: the handshake is what is tested here
/// (health then reports NOT_SERVING, which a client can read only through TLS).
fn unreachable_kube() -> kube::Client {
    let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

/// Starts the API over TLS; returns its gRPC port and the port of its plaintext health service.
async fn start(
    directory: &Path,
    client_ca: bool,
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> (u16, u16) {
    let server = issue(
        ca,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    std::fs::write(directory.join("server.pem"), &server.certificate).unwrap();
    std::fs::write(directory.join("server-key.pem"), &server.key).unwrap();
    std::fs::write(directory.join("ca.pem"), ca.pem()).unwrap();
    let port = port();
    let health_port = self::port();
    let settings = Settings {
        address: format!("127.0.0.1:{port}").parse().unwrap(),
        metrics_address: format!("127.0.0.1:{}", self::port()).parse().unwrap(),
        health_address: Some(format!("127.0.0.1:{health_port}").parse().unwrap()),
        tls: TlsFiles {
            certificate: Some(directory.join("server.pem")),
            key: Some(directory.join("server-key.pem")),
            client_ca: client_ca.then(|| directory.join("ca.pem")),
        },
        plaintext: Plaintext::Refused,
        token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
        reflection: true,
        reservation_limits: ReservationLimits::default(),
        caller_limits: CallerLimitSettings::default(),
        checkpoints: None,
        management_request_timeouts: None,
    };
    tokio::spawn(async move {
        serve(
            settings,
            unreachable_kube(),
            Arc::new(MemoryStore::default()),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (port, health_port)
}

async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    client
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|response| response.into_inner().status)
}

async fn connect(
    port: u16,
    tls: Option<ClientTlsConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://localhost:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls)?;
    }
    endpoint.connect().await
}

#[tokio::test]
async fn tls_and_mutual_tls() {
    let directory = tempfile::tempdir().unwrap();
    let ca = authority();
    let trusted = || {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.pem()))
            .domain_name("localhost")
    };

    // TLS: the CA is enough.
    let (tls_port, _) = start(directory.path(), false, &ca).await;
    let channel = connect(tls_port, Some(trusted())).await.unwrap();
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(health(channel).await.unwrap(), not_serving);
    let plain = match connect(tls_port, None).await {
        Ok(channel) => health(channel).await.is_err(),
        Err(_) => true,
    };
    assert!(plain, "plain HTTP/2 was served on the TLS port");

    // mTLS: without a client certificate the call fails; with one signed by the CA it works.
    let mutual = tempfile::tempdir().unwrap();
    let (mtls_port, _) = start(mutual.path(), true, &ca).await;
    let anonymous = match connect(mtls_port, Some(trusted())).await {
        Ok(channel) => health(channel).await.is_err(),
        Err(_) => true,
    };
    assert!(
        anonymous,
        "a client without a certificate got through mutual TLS"
    );
    let client = issue(&ca, &["agency"], ExtendedKeyUsagePurpose::ClientAuth);
    let identified = trusted().identity(Identity::from_pem(client.certificate, client.key));
    let channel = connect(mtls_port, Some(identified)).await.unwrap();
    assert_eq!(health(channel).await.unwrap(), not_serving);
}

/// The kubelet's gRPC probes speak neither TLS nor client certificates: the health address answers
/// them in plaintext, even when the API requires mutual TLS, and serves nothing but health.
#[tokio::test]
async fn the_health_address_answers_plaintext_probes_and_nothing_else() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

    let directory = tempfile::tempdir().unwrap();
    let (_, health_port) = start(directory.path(), true, &authority()).await;
    let mut channel = connect(health_port, None).await;
    for _ in 0..50 {
        if channel.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        channel = connect(health_port, None).await;
    }
    let channel = channel.expect("the health address listens");
    let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    assert_eq!(health(channel.clone()).await.unwrap(), not_serving);

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let refused = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
}

/// Without TLS the API refuses to start unless plaintext is asked for, and then only on loopback.
#[tokio::test]
async fn plaintext_is_refused_unless_asked_for_and_on_loopback() {
    let attempt = |address: &str, plaintext: Plaintext| {
        let settings = Settings {
            address: address.parse().unwrap(),
            metrics_address: format!("127.0.0.1:{}", port()).parse().unwrap(),
            health_address: None,
            tls: TlsFiles::default(),
            plaintext,
            token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
            reflection: true,
            reservation_limits: ReservationLimits::default(),
            caller_limits: CallerLimitSettings::default(),
            checkpoints: None,
            management_request_timeouts: None,
        };
        serve(
            settings,
            unreachable_kube(),
            Arc::new(MemoryStore::default()),
            std::future::ready(()),
        )
    };
    let refused = attempt(&format!("127.0.0.1:{}", port()), Plaintext::Refused)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("TLS is required"),
        "{refused:#}"
    );
    let remote = attempt(&format!("0.0.0.0:{}", port()), Plaintext::Loopback)
        .await
        .unwrap_err();
    assert!(remote.to_string().contains("is not one"), "{remote:#}");
    // Asked for, on loopback: it serves (until the shutdown signal, here at once).
    attempt(&format!("127.0.0.1:{}", port()), Plaintext::Loopback)
        .await
        .unwrap();
}

/// With `--no-reflection` the API does not describe its services to whoever asks; by default it
/// does.
#[tokio::test]
async fn reflection_can_be_turned_off() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

    async fn list_services(reflection: bool) -> Result<(), tonic::Status> {
        let port = port();
        let settings = Settings {
            address: format!("127.0.0.1:{port}").parse().unwrap(),
            metrics_address: format!("127.0.0.1:{}", self::port()).parse().unwrap(),
            health_address: None,
            tls: TlsFiles::default(),
            plaintext: Plaintext::Loopback,
            token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
            reflection,
            reservation_limits: ReservationLimits::default(),
            caller_limits: CallerLimitSettings::default(),
            checkpoints: None,
            management_request_timeouts: None,
        };
        tokio::spawn(serve(
            settings,
            unreachable_kube(),
            Arc::new(MemoryStore::default()),
            std::future::pending(),
        ));
        let mut channel = None;
        for _ in 0..50 {
            if let Ok(connected) =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .unwrap()
                    .connect()
                    .await
            {
                channel = Some(connected);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new(channel.expect("the API listens"))
            .server_reflection_info(tokio_stream::iter(vec![request]))
            .await?
            .into_inner();
        answers.message().await?;
        Ok(())
    }

    list_services(true).await.unwrap();
    let refused = list_services(false).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
}
