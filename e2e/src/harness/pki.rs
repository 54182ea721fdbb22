//! Per-cluster PKI generated in-process: a CA, the API server's serving certificate, client
//! certificates and the service-account signing key. Every cluster gets its own, so a credential
//! of one site is worthless at another, as it would be between real data centres.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A PEM certificate and its PEM private key.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    pub certificate_pem: String,
    pub key_pem: String,
}

/// Files on disk for one cluster's PKI, plus the PEM text for embedding in kubeconfigs.
#[derive(Debug, Clone)]
pub struct ClusterPki {
    pub ca_certificate_pem: String,
    pub ca_certificate_file: PathBuf,
    pub serving_certificate_file: PathBuf,
    pub serving_key_file: PathBuf,
    /// The key that signs service-account tokens, and its public half that verifies them.
    pub service_account_key_file: PathBuf,
    pub service_account_public_key_file: PathBuf,
    /// `system:masters` client credentials for the cluster administrator.
    pub admin: CertifiedKey,
    /// Client credentials for kube-controller-manager.
    pub controller_manager: CertifiedKey,
    /// Client credentials for kube-scheduler.
    pub scheduler: CertifiedKey,
    /// Client credentials for kwok, which acts as the kubelets of the simulated nodes.
    pub node_simulator: CertifiedKey,
}

impl ClusterPki {
    /// Generates a fresh PKI for the cluster `name` and writes its files into `directory`.
    /// `serving_addresses` are named in the API server's certificate beside loopback.
    pub fn generate(name: &str, directory: &Path, serving_addresses: &[Ipv4Addr]) -> Result<Self> {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let ca = certificate_authority(name)?;

        let mut names = vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default.svc".to_owned(),
            // The `kubernetes` Service's ClusterIP (first of --service-cluster-ip-range), which
            // in-cluster clients on a real node dial.
            "10.0.0.1".to_owned(),
        ];
        names.extend(serving_addresses.iter().map(ToString::to_string));
        let mut serving = CertificateParams::new(names)?;
        serving
            .distinguished_name
            .push(DnType::CommonName, format!("{name}-kube-apiserver"));
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving = sign(&serving, &ca)?;

        let admin = client_certificate("soberana-admin", "system:masters", &ca)?;
        let controller_manager =
            client_certificate("system:kube-controller-manager", "system:masters", &ca)?;
        let scheduler = client_certificate("system:kube-scheduler", "system:masters", &ca)?;
        let node_simulator = client_certificate("kwok", "system:masters", &ca)?;
        let service_account_key = KeyPair::generate()?;

        let pki = Self {
            ca_certificate_pem: ca.pem(),
            ca_certificate_file: directory.join("ca.crt"),
            serving_certificate_file: directory.join("apiserver.crt"),
            serving_key_file: directory.join("apiserver.key"),
            service_account_key_file: directory.join("service-account.key"),
            service_account_public_key_file: directory.join("service-account.pub"),
            admin,
            controller_manager,
            scheduler,
            node_simulator,
        };
        write(&pki.ca_certificate_file, &pki.ca_certificate_pem)?;
        write(&pki.serving_certificate_file, &serving.certificate_pem)?;
        write(&pki.serving_key_file, &serving.key_pem)?;
        write(
            &pki.service_account_key_file,
            &service_account_key.serialize_pem(),
        )?;
        write(
            &pki.service_account_public_key_file,
            &service_account_key.public_key_pem(),
        )?;
        Ok(pki)
    }
}

fn certificate_authority(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{name}-ca"));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn client_certificate(
    common_name: &str,
    organization: &str,
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> Result<CertifiedKey> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, organization);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    sign(&params, ca)
}

fn sign(
    params: &CertificateParams,
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> Result<CertifiedKey> {
    let key = KeyPair::generate()?;
    let certificate = params.signed_by(&key, ca)?;
    Ok(CertifiedKey {
        certificate_pem: certificate.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Files for a standalone etcd serving TLS: its own CA, etcd's serving certificate and a client
/// certificate to present to its `--client-cert-auth`.
#[derive(Debug, Clone)]
pub struct EtcdPki {
    pub ca_certificate_file: PathBuf,
    pub serving_certificate_file: PathBuf,
    pub serving_key_file: PathBuf,
    pub client_certificate_file: PathBuf,
    pub client_key_file: PathBuf,
}

impl EtcdPki {
    /// Generates a fresh CA and certificates for an etcd on loopback into `directory`. The
    /// client certificate's common name, `client_name`, is also the etcd user it stands for
    /// once etcd's authentication is on and a request carries no password token.
    pub fn generate(directory: &Path, client_name: &str) -> Result<Self> {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let ca = certificate_authority("etcd")?;
        let mut serving =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        serving.distinguished_name.push(DnType::CommonName, "etcd");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving = sign(&serving, &ca)?;
        let client = client_certificate(client_name, "soberana", &ca)?;
        let pki = Self {
            ca_certificate_file: directory.join("etcd-ca.crt"),
            serving_certificate_file: directory.join("etcd.crt"),
            serving_key_file: directory.join("etcd.key"),
            client_certificate_file: directory.join("etcd-client.crt"),
            client_key_file: directory.join("etcd-client.key"),
        };
        write(&pki.ca_certificate_file, &ca.pem())?;
        write(&pki.serving_certificate_file, &serving.certificate_pem)?;
        write(&pki.serving_key_file, &serving.key_pem)?;
        write(&pki.client_certificate_file, &client.certificate_pem)?;
        write(&pki.client_key_file, &client.key_pem)?;
        Ok(pki)
    }
}

/// A fresh CA (returned as PEM) and a serving certificate it signed for `names` (DNS names or IP
/// addresses): for a server a test installs, e.g. the API's TLS Secret.
pub fn serving_certificate(ca_name: &str, names: &[String]) -> Result<(String, CertifiedKey)> {
    let ca = certificate_authority(ca_name)?;
    let mut serving = CertificateParams::new(names.to_vec())?;
    serving.distinguished_name.push(DnType::CommonName, ca_name);
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving = sign(&serving, &ca)?;
    Ok((ca.pem(), serving))
}
