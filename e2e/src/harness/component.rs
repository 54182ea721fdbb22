//! One control-plane process (etcd, kube-apiserver or kube-controller-manager): started with its
//! output in a log file, stopped with SIGTERM (then SIGKILL), and its log tail on demand.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a component gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A named child process whose output goes to `<directory>/<name>.log`.
#[derive(Debug)]
pub struct Component {
    name: String,
    binary: PathBuf,
    arguments: Vec<String>,
    log_file: PathBuf,
    pid_file: PathBuf,
    environment: Vec<(String, String)>,
    child: Option<Child>,
}

impl Component {
    pub fn new(name: &str, binary: &Path, arguments: Vec<String>, directory: &Path) -> Self {
        Self {
            name: name.to_owned(),
            binary: binary.to_owned(),
            arguments,
            log_file: directory.join(format!("{name}.log")),
            pid_file: directory.join(format!("{name}.pid")),
            environment: Vec::new(),
            child: None,
        }
    }

    /// Sets an environment variable for the process (from its next start).
    #[must_use]
    pub fn with_environment(mut self, name: &str, value: &str) -> Self {
        self.environment.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the process, appending to its log so a restart keeps the earlier output.
    pub fn start(&mut self) -> Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("opening {}", self.log_file.display()))?;
        let child = Command::new(&self.binary)
            .args(&self.arguments)
            .envs(self.environment.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Own process group: a Ctrl-C in the terminal reaches only the harness, which then
            // stops the components in order.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.binary.display()))?;
        std::fs::write(&self.pid_file, child.id().to_string())
            .with_context(|| format!("writing {}", self.pid_file.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// The exit status when the process has ended, which makes a failed start fail fast.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// Stops the process: SIGTERM, then SIGKILL once the grace period is over. Idempotent.
    /// Returns how it ended, when it ran.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        if kill(pid, Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    let _ = std::fs::remove_file(&self.pid_file);
                    return Some(status);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.reap(child)
    }

    /// Freezes (`true`: SIGSTOP) or thaws (`false`: SIGCONT) the process: a frozen server keeps
    /// its connections open but answers nothing, as a hung one would.
    pub fn freeze(&self, frozen: bool) {
        if let Some(child) = &self.child {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let signal = if frozen {
                Signal::SIGSTOP
            } else {
                Signal::SIGCONT
            };
            let _ = kill(pid, signal);
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would. Idempotent.
    pub fn kill(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.take()?;
        self.reap(child)
    }

    fn reap(&self, mut child: Child) -> Option<std::process::ExitStatus> {
        let _ = child.kill();
        let status = child.wait().ok();
        let _ = std::fs::remove_file(&self.pid_file);
        status
    }

    /// The last `lines` lines of the component's log.
    pub fn log_tail(&self, lines: usize) -> String {
        match std::fs::read_to_string(&self.log_file) {
            Ok(text) => {
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(error) => format!("(no log at {}: {error})", self.log_file.display()),
        }
    }

    pub fn log_file(&self) -> &Path {
        &self.log_file
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Locks a component; a poisoned lock (a panicking test) still yields the component so it can be
/// stopped and its logs read.
pub(crate) fn lock(component: &Mutex<Component>) -> MutexGuard<'_, Component> {
    component
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `error`, followed by the last lines of the component's log: why it did not come up.
pub(crate) fn with_log_tail(error: &anyhow::Error, component: &Mutex<Component>) -> anyhow::Error {
    let component = lock(component);
    anyhow::anyhow!(
        "{error:#}\n--- last lines of {} ({}) ---\n{}",
        component.name(),
        component.log_file().display(),
        component.log_tail(30)
    )
}
