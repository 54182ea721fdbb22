//! A Pod's sandbox process, what a kubelet runs as its "pause" image: it holds the Pod's namespaces
//! for as long as it lives, reaps the zombies re-parented to it (it is PID 1 of a shared PID
//! namespace) and exits cleanly on SIGTERM or SIGINT.
//!
//! Linked statically (`-C target-feature=+crt-static`, see images/build.sh) so that its image holds
//! nothing but this file. The signals are blocked and taken with `sigwait`: a PID 1 never receives a
//! signal whose disposition is the default, but a blocked one stays pending until taken.

use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

fn main() -> ExitCode {
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        signals.add(signal);
    }
    if let Err(error) = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None) {
        eprintln!("pause: blocking SIGTERM, SIGINT and SIGCHLD: {error}");
        return ExitCode::FAILURE;
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => reap(),
            Ok(_) => return ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("pause: waiting for a signal: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Reaps every child that has exited: one SIGCHLD may stand for several.
fn reap() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(error) => {
                eprintln!("pause: reaping children: {error}");
                return;
            }
        }
    }
}
