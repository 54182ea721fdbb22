//! Free loopback ports, so that several control planes (and CI) never collide on fixed ports.
//!
//! Ports come from below the kernel's ephemeral range: a port the OS hands out for `bind(0)` is
//! also what it hands to outgoing connections (API server → etcd, clients → API server), so a
//! port that was free a moment ago could be taken by a connection before the server binds it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;

use anyhow::{Result, bail};

/// The lowest port handed out.
const LOWEST: u16 = 10_000;
/// Used when the kernel's ephemeral range cannot be read.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;
const ATTEMPTS: usize = 200;

/// A TCP port on 127.0.0.1, outside the ephemeral range, that is free right now.
pub fn free_loopback_port() -> Result<u16> {
    let end = ephemeral_range_start().max(LOWEST + 1000);
    let span = u64::from(end - LOWEST);
    for _ in 0..ATTEMPTS {
        let offset = u16::try_from(random() % span).unwrap_or(0);
        let port = LOWEST + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free loopback port between {LOWEST} and {end} after {ATTEMPTS} attempts")
}

fn ephemeral_range_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

/// Whether a failed start was a lost race for a port, worth retrying with other ports.
pub fn is_port_conflict(error: &anyhow::Error) -> bool {
    format!("{error:#}").contains("address already in use")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_spread_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20).map(|_| free_loopback_port().unwrap()).collect();
        assert!(
            ports
                .iter()
                .all(|port| (LOWEST..ephemeral_range_start()).contains(port)),
            "{ports:?}"
        );
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 10, "ports repeat: {ports:?}");
    }

    #[test]
    fn a_port_in_use_is_never_handed_out() {
        // Holding 50 ports; a bind can lose a race with a process another test thread forks.
        let holders: Vec<TcpListener> = (0..50)
            .map(|_| {
                loop {
                    if let Ok(holder) =
                        TcpListener::bind(("127.0.0.1", free_loopback_port().unwrap()))
                    {
                        break holder;
                    }
                }
            })
            .collect();
        let taken: Vec<u16> = holders
            .iter()
            .map(|holder| holder.local_addr().unwrap().port())
            .collect();
        for _ in 0..200 {
            assert!(!taken.contains(&free_loopback_port().unwrap()));
        }
    }

    #[test]
    fn a_taken_port_reads_as_a_conflict() {
        let error = anyhow::anyhow!("kube-apiserver exited\nbind: address already in use");
        assert!(is_port_conflict(&error));
        assert!(!is_port_conflict(&anyhow::anyhow!(
            "etcd exited with status 1"
        )));
    }
}
