//! The directory a control plane lives in, and the clean-up of directories whose owner died
//! without tearing down (a killed test binary), so that stray servers never pile up.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Set to `1` to keep every run's files (PKI, etcd data, logs) after it ends.
pub const KEEP_FILES_ENV: &str = "SOBERANA_E2E_KEEP";

const OWNER_FILE: &str = "owner.pid";

/// A per-run directory under `<tmp>/soberana-e2e`, removed on drop unless asked to keep it.
#[derive(Debug)]
pub struct RunDirectory {
    path: PathBuf,
    keep: AtomicBool,
}

impl RunDirectory {
    pub fn create() -> Result<Self> {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join("soberana-e2e");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        remove_abandoned_runs(&root);
        let pid = std::process::id();
        let path = root.join(format!(
            "run-{pid}-{}",
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join(OWNER_FILE), pid.to_string())?;
        let keep = std::env::var(KEEP_FILES_ENV).is_ok_and(|value| value == "1");
        Ok(Self {
            path,
            keep: AtomicBool::new(keep),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }
}

impl Drop for RunDirectory {
    fn drop(&mut self) {
        if !self.keep.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Kills the components of runs whose owning process is gone, then removes those runs' files.
fn remove_abandoned_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for run in entries.flatten().map(|entry| entry.path()) {
        let Some(owner) = read_pid(&run.join(OWNER_FILE)) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        for pid_file in pid_files(&run) {
            if let Some(pid) = read_pid(&pid_file) {
                // Only a process started for this run: its command line names the run directory.
                let command_line =
                    std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&command_line).contains(&*run.to_string_lossy()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&run);
    }
}

fn pid_files(run: &Path) -> Vec<PathBuf> {
    let clusters = std::fs::read_dir(run).into_iter().flatten().flatten();
    clusters
        .filter_map(|cluster| std::fs::read_dir(cluster.path()).ok())
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "pid"))
        .collect()
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn an_abandoned_run_has_its_processes_killed_and_its_files_removed() {
        let root = std::env::temp_dir().join(format!("soberana-e2e-test-{}", std::process::id()));
        let run = root.join("run-abandoned");
        let cluster = run.join("site");
        std::fs::create_dir_all(&cluster).unwrap();
        // A process whose command line names the run directory, as a component's would.
        let mut stray = Command::new("sh")
            .args(["-c", "sleep 60; exit 0", &cluster.display().to_string()])
            .spawn()
            .unwrap();
        std::fs::write(cluster.join("etcd.pid"), stray.id().to_string()).unwrap();
        // Until the child has exec'd, its command line is still this test binary's.
        let command_line = format!("/proc/{}/cmdline", stray.id());
        while !String::from_utf8_lossy(&std::fs::read(&command_line).unwrap())
            .contains(&*cluster.to_string_lossy())
        {
            std::thread::yield_now();
        }
        // No process has this pid: Linux pids stay below 2^22.
        std::fs::write(run.join(OWNER_FILE), "4194305").unwrap();

        remove_abandoned_runs(&root);

        let status = stray.wait().unwrap();
        assert!(!status.success(), "the stray process was killed");
        assert!(!run.exists(), "the abandoned run's files were removed");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_live_run_is_left_alone() {
        let root = std::env::temp_dir().join(format!("soberana-e2e-live-{}", std::process::id()));
        let run = root.join("run-live");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(OWNER_FILE), std::process::id().to_string()).unwrap();

        remove_abandoned_runs(&root);

        assert!(run.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
