//! Whether the API may serve on an address without TLS. Every call carries a bearer token, so
//! plaintext is refused unless asked for, and even then only on loopback (a lab, a sidecar)
//! unless remote plaintext is asked for too.

use std::net::SocketAddr;

/// What the operator of the API allowed for plaintext.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plaintext {
    /// TLS is required (the default).
    #[default]
    Refused,
    /// `--insecure-listen`: plaintext on a loopback address only.
    Loopback,
    /// `--insecure-listen --allow-insecure-remote`: plaintext on any address.
    Anywhere,
}

/// Why the API will not start on this address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportRefused {
    #[error(
        "TLS is required: give --tls-cert and --tls-key, or --insecure-listen to serve plaintext on a loopback address"
    )]
    TlsRequired,
    #[error(
        "--insecure-listen serves plaintext only on a loopback address, and --address {0} is not one (bearer tokens would cross the network in clear); add --allow-insecure-remote to accept that"
    )]
    RemotePlaintext(SocketAddr),
    #[error("--insecure-listen and TLS (--tls-cert) exclude each other; choose one")]
    Contradictory,
}

/// Judges serving on `address` with TLS configured (`tls`) or not, under `plaintext`.
pub fn check(address: SocketAddr, tls: bool, plaintext: Plaintext) -> Result<(), TransportRefused> {
    match (tls, plaintext) {
        (true, Plaintext::Refused) => Ok(()),
        (true, _) => Err(TransportRefused::Contradictory),
        (false, Plaintext::Refused) => Err(TransportRefused::TlsRequired),
        (false, Plaintext::Loopback) if !address.ip().is_loopback() => {
            Err(TransportRefused::RemotePlaintext(address))
        }
        (false, Plaintext::Loopback | Plaintext::Anywhere) => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn plaintext_needs_asking_for_and_stays_on_loopback() {
        let local = address("127.0.0.1:8443");
        let everywhere = address("0.0.0.0:8443");
        assert_eq!(check(everywhere, true, Plaintext::Refused), Ok(()));
        assert_eq!(
            check(local, false, Plaintext::Refused),
            Err(TransportRefused::TlsRequired)
        );
        assert_eq!(check(local, false, Plaintext::Loopback), Ok(()));
        assert_eq!(
            check(address("[::1]:8443"), false, Plaintext::Loopback),
            Ok(())
        );
        assert_eq!(
            check(everywhere, false, Plaintext::Loopback),
            Err(TransportRefused::RemotePlaintext(everywhere))
        );
        assert_eq!(check(everywhere, false, Plaintext::Anywhere), Ok(()));
        assert_eq!(
            check(local, true, Plaintext::Loopback),
            Err(TransportRefused::Contradictory)
        );
    }
}
