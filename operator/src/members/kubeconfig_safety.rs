//! A Site's kubeconfig Secret is data, not code: before any client is built from it, every
//! cluster and user entry is checked so that nothing in it runs a command inside the operator,
//! reads the operator's own disk, or weakens TLS. Only inline credentials and `https://` servers
//! are accepted. Errors name the offending field by path, never its value.

use kube::config::{AuthInfo, Cluster, Kubeconfig};

/// Entry names longer than this are cut in error paths, which end up in status.
const MAX_NAME_CHARS: usize = 64;

/// A kubeconfig field the operator refuses; `field` is its path, e.g.
/// `users[name=site-admin].user.exec`, and `why` says why in a few words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} ({why})")]
pub struct UnsafeKubeconfig {
    /// Path of the refused field, with the entry's name.
    pub field: String,
    /// Why it is refused; never contains the field's value.
    pub why: String,
}

/// Checks every cluster and user entry of `kubeconfig` (not only the current context's), before
/// any client is built from it. `allow_insecure_skip_tls_verify` is the Site's explicit opt-in.
pub fn check_kubeconfig(
    kubeconfig: &Kubeconfig,
    allow_insecure_skip_tls_verify: bool,
) -> Result<(), UnsafeKubeconfig> {
    for named in &kubeconfig.clusters {
        if let Some(cluster) = &named.cluster {
            let path = format!("clusters[name={}].cluster", entry_name(&named.name));
            check_cluster(cluster, &path, allow_insecure_skip_tls_verify)?;
        }
    }
    for named in &kubeconfig.auth_infos {
        if let Some(user) = &named.auth_info {
            let path = format!("users[name={}].user", entry_name(&named.name));
            check_user(user, &path)?;
        }
    }
    Ok(())
}

fn check_cluster(
    cluster: &Cluster,
    path: &str,
    allow_insecure_skip_tls_verify: bool,
) -> Result<(), UnsafeKubeconfig> {
    let refuse = |field: &str, why: &str| UnsafeKubeconfig {
        field: format!("{path}.{field}"),
        why: why.to_owned(),
    };
    // A missing server is left to the client builder, which reports it as unusable.
    if let Some(server) = &cluster.server {
        check_server(server).map_err(|why| refuse("server", &why))?;
    }
    if cluster.certificate_authority.is_some() {
        // A path would read the operator's own disk.
        return Err(refuse(
            "certificate-authority",
            "a file path on the operator's disk; use certificate-authority-data",
        ));
    }
    if cluster.proxy_url.is_some() {
        // A proxy would route the site's credentials through a third party.
        return Err(refuse(
            "proxy-url",
            "proxies are not accepted; the operator connects to the server directly",
        ));
    }
    if cluster.insecure_skip_tls_verify == Some(true) && !allow_insecure_skip_tls_verify {
        // Without verification anyone on the path can take the credentials.
        return Err(refuse(
            "insecure-skip-tls-verify",
            "TLS verification is required unless the Site sets \
             spec.connection.allowInsecureSkipTlsVerify",
        ));
    }
    Ok(())
}

fn check_user(user: &AuthInfo, path: &str) -> Result<(), UnsafeKubeconfig> {
    // Each refused field, in the order it is checked, with why.
    let refused: [(bool, &str, &str); 11] = [
        (
            user.exec.is_some(),
            "exec",
            "credential plugins would run a command inside the operator; use token or \
             client-certificate-data",
        ),
        (
            user.auth_provider.is_some(),
            "auth-provider",
            "auth providers would run commands inside the operator; use token or \
             client-certificate-data",
        ),
        (
            user.token_file.is_some(),
            "tokenFile",
            "a file path on the operator's disk; use token",
        ),
        (
            user.client_certificate.is_some(),
            "client-certificate",
            "a file path on the operator's disk; use client-certificate-data",
        ),
        (
            user.client_key.is_some(),
            "client-key",
            "a file path on the operator's disk; use client-key-data",
        ),
        (
            user.username.is_some(),
            "username",
            "basic authentication is not accepted; use token or client-certificate-data",
        ),
        (
            user.password.is_some(),
            "password",
            "basic authentication is not accepted; use token or client-certificate-data",
        ),
        (
            user.impersonate.is_some(),
            "as",
            "impersonation is not accepted",
        ),
        (
            user.impersonate_uid.is_some(),
            "as-uid",
            "impersonation is not accepted",
        ),
        (
            user.impersonate_groups.is_some(),
            "as-groups",
            "impersonation is not accepted",
        ),
        (
            user.impersonate_user_extra.is_some(),
            "as-user-extra",
            "impersonation is not accepted",
        ),
    ];
    match refused.iter().find(|(present, _, _)| *present) {
        Some((_, field, why)) => Err(UnsafeKubeconfig {
            field: format!("{path}.{field}"),
            why: (*why).to_owned(),
        }),
        None => Ok(()),
    }
}

/// `Ok` for an `https://` URL with a host; otherwise why not, without the URL itself.
fn check_server(server: &str) -> Result<(), String> {
    let Ok(uri) = server.parse::<http::Uri>() else {
        return Err("not a valid URL; only https:// URLs are accepted".to_owned());
    };
    match uri.scheme_str() {
        Some("https") => {}
        Some(scheme) if scheme.len() <= 16 => {
            return Err(format!("scheme {scheme}; only https is accepted"));
        }
        Some(_) => return Err("not an https URL; only https is accepted".to_owned()),
        None => return Err("no scheme; only https:// URLs are accepted".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host; only https:// URLs are accepted".to_owned());
    }
    // Credentials belong in the user entry, never in a URL that ends up in logs and errors.
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        return Err("credentials in the URL; put them in the user entry".to_owned());
    }
    Ok(())
}

/// The entry's name as shown in a path: cut, so a long name cannot crowd out the field.
fn entry_name(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_carrying_credentials_is_refused() {
        assert_eq!(
            check_server("https://admin:secret@203.0.113.10:6443"),
            Err("credentials in the URL; put them in the user entry".to_owned())
        );
        assert_eq!(check_server("https://203.0.113.10:6443"), Ok(()));
    }

    /// A kubeconfig with inline credentials only, the shape the operator accepts.
    const INLINE: &str = "apiVersion: v1
kind: Config
clusters:
- name: site
  cluster:
    server: https://203.0.113.10:6443
    certificate-authority-data: Y2EtZGF0YQ==
    tls-server-name: api.site.example
users:
- name: site-admin
  user:
    client-certificate-data: Y2VydC1kYXRh
    client-key-data: a2V5LWRhdGE=
- name: site-reader
  user:
    token: s3cr3t-token-value
contexts:
- name: site
  context:
    cluster: site
    user: site-admin
current-context: site
";

    fn parse(text: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(text).unwrap()
    }

    /// `INLINE` with `line` added to the entry whose first line is `anchor`.
    fn with(anchor: &str, line: &str) -> Kubeconfig {
        assert!(INLINE.contains(anchor), "{anchor}");
        parse(&INLINE.replacen(anchor, &format!("{anchor}\n{line}"), 1))
    }

    fn with_user(line: &str) -> Kubeconfig {
        with("- name: site-admin\n  user:", line)
    }

    fn with_cluster(line: &str) -> Kubeconfig {
        with("- name: site\n  cluster:", line)
    }

    /// The error for `kubeconfig`, checking it names `field` and never contains `secret`.
    fn refused(kubeconfig: &Kubeconfig, field: &str, secret: &str) -> String {
        let error = check_kubeconfig(kubeconfig, false).unwrap_err();
        assert_eq!(error.field, field);
        let message = error.to_string();
        assert!(message.starts_with(field), "{message}");
        assert!(!message.contains(secret), "{message} leaks {secret}");
        message
    }

    #[test]
    fn an_inline_kubeconfig_is_accepted() {
        assert_eq!(check_kubeconfig(&parse(INLINE), false), Ok(()));
    }

    #[test]
    fn an_empty_kubeconfig_is_left_to_the_client_builder() {
        let kubeconfig = parse("this is not a kubeconfig: s3cr3t-token-value");
        assert_eq!(check_kubeconfig(&kubeconfig, false), Ok(()));
    }

    #[test]
    fn exec_plugins_are_refused() {
        let kubeconfig = with_user(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      \
             command: /bin/steal-credentials",
        );
        refused(
            &kubeconfig,
            "users[name=site-admin].user.exec",
            "steal-credentials",
        );
    }

    #[test]
    fn auth_providers_are_refused() {
        let kubeconfig = with_user(
            "    auth-provider:\n      name: gcp\n      config:\n        \
             cmd-path: /bin/steal-credentials",
        );
        refused(
            &kubeconfig,
            "users[name=site-admin].user.auth-provider",
            "steal-credentials",
        );
    }

    #[test]
    fn token_files_are_refused() {
        let kubeconfig = with_user("    tokenFile: /var/run/secrets/operator-token");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.tokenFile",
            "operator-token",
        );
    }

    #[test]
    fn client_certificate_paths_are_refused() {
        let kubeconfig = with_user("    client-certificate: /etc/operator/tls.crt");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.client-certificate",
            "/etc/operator",
        );
    }

    #[test]
    fn client_key_paths_are_refused() {
        let kubeconfig = with_user("    client-key: /etc/operator/tls.key");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.client-key",
            "/etc/operator",
        );
    }

    #[test]
    fn certificate_authority_paths_are_refused() {
        let kubeconfig = with_cluster("    certificate-authority: /etc/operator/ca.crt");
        refused(
            &kubeconfig,
            "clusters[name=site].cluster.certificate-authority",
            "/etc/operator",
        );
    }

    #[test]
    fn basic_authentication_is_refused() {
        let kubeconfig = with_user("    username: root-user");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.username",
            "root-user",
        );
        let kubeconfig = with_user("    password: hunter2-password");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.password",
            "hunter2",
        );
    }

    #[test]
    fn impersonation_is_refused() {
        let kubeconfig = with_user("    as: system:admin");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.as",
            "system:admin",
        );
        let kubeconfig = with_user("    as-groups: [\"system:masters\"]");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.as-groups",
            "system:masters",
        );
        let kubeconfig = with_user("    as-uid: uid-1234");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.as-uid",
            "uid-1234",
        );
        let kubeconfig = with_user("    as-user-extra:\n      scopes: [\"everything\"]");
        refused(
            &kubeconfig,
            "users[name=site-admin].user.as-user-extra",
            "everything",
        );
    }

    #[test]
    fn proxies_are_refused() {
        let kubeconfig = with_cluster("    proxy-url: http://proxy.elsewhere.example:3128");
        refused(
            &kubeconfig,
            "clusters[name=site].cluster.proxy-url",
            "elsewhere",
        );
    }

    #[test]
    fn only_https_servers_are_accepted() {
        let kubeconfig =
            parse(&INLINE.replace("https://203.0.113.10:6443", "http://203.0.113.10:6443"));
        let message = refused(
            &kubeconfig,
            "clusters[name=site].cluster.server",
            "203.0.113.10",
        );
        assert_eq!(
            message,
            "clusters[name=site].cluster.server (scheme http; only https is accepted)"
        );
        for malformed in [
            "not a url at all",
            "https://",
            "/just/a/path",
            "203.0.113.10:6443",
        ] {
            let kubeconfig =
                parse(&INLINE.replace("https://203.0.113.10:6443", &format!("\"{malformed}\"")));
            refused(
                &kubeconfig,
                "clusters[name=site].cluster.server",
                "203.0.113.10",
            );
        }
    }

    #[test]
    fn insecure_skip_tls_verify_needs_the_sites_opt_in() {
        let kubeconfig = with_cluster("    insecure-skip-tls-verify: true");
        let message = refused(
            &kubeconfig,
            "clusters[name=site].cluster.insecure-skip-tls-verify",
            "203.0.113.10",
        );
        assert!(message.contains("allowInsecureSkipTlsVerify"), "{message}");
        assert_eq!(check_kubeconfig(&kubeconfig, true), Ok(()));
        let verified = with_cluster("    insecure-skip-tls-verify: false");
        assert_eq!(check_kubeconfig(&verified, false), Ok(()));
    }

    #[test]
    fn entries_outside_the_current_context_are_checked_too() {
        let text = INLINE.replace(
            "contexts:",
            "- name: unused\n  user:\n    exec:\n      command: /bin/true\ncontexts:",
        );
        refused(&parse(&text), "users[name=unused].user.exec", "/bin/true");
        let text = INLINE.replace(
            "users:",
            "- name: unused-cluster\n  cluster:\n    server: http://198.51.100.1\nusers:",
        );
        refused(
            &parse(&text),
            "clusters[name=unused-cluster].cluster.server",
            "198.51.100.1",
        );
    }

    #[test]
    fn long_entry_names_are_cut_in_the_path() {
        let long = "n".repeat(300);
        let text = INLINE.replace("- name: site-admin", &format!("- name: {long}"));
        let text = text.replace("user: site-admin", &format!("user: {long}"));
        let kubeconfig = parse(&text.replace(
            "client-key-data: a2V5LWRhdGE=",
            "client-key-data: a2V5LWRhdGE=\n    exec:\n      command: x",
        ));
        let error = check_kubeconfig(&kubeconfig, false).unwrap_err();
        assert!(error.field.ends_with("…].user.exec"), "{}", error.field);
        assert!(error.field.chars().count() < 100, "{}", error.field);
    }
}
