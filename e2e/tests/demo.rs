//! `make demo` as a user runs it: the sites come up, `kubectl` reaches each one with the printed
//! kubeconfig, and Ctrl-C (or `--once`) tears everything down.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use soberana_e2e::HarnessBinaries;

const DEMO: &str = env!("CARGO_BIN_EXE_soberana-demo");
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn demo_serves_kubectl_on_every_site_until_interrupted() {
    let mut demo = Command::new(DEMO)
        .args(["--sites", "mgmt,public-cloud-us"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the demo binary starts");
    // A failed assertion must not leave the demo and its clusters running.
    let mut guard = InterruptOnDrop(Some(demo.id()));
    let mut stdout = BufReader::new(demo.stdout.take().expect("stdout is piped")).lines();
    let mut kubeconfigs = Vec::new();
    let mut run_directory = None;
    let mut transcript = String::new();
    for line in stdout.by_ref() {
        let line = line.expect("demo output is text");
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(rest) = line
            .trim()
            .split_once("kubectl --kubeconfig ")
            .map(|(_, rest)| rest)
        {
            let path = rest.trim_end_matches(" get ns");
            kubeconfigs.push(PathBuf::from(path));
        }
        if let Some(directory) = line.strip_prefix("Logs, PKI and data: ") {
            run_directory = Some(PathBuf::from(directory));
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    assert_eq!(
        kubeconfigs.len(),
        2,
        "one kubeconfig per site in:\n{transcript}"
    );
    let binaries = HarnessBinaries::locate().expect("the harness binaries are built");
    for kubeconfig in &kubeconfigs {
        let output = Command::new(&binaries.kubectl)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["get", "ns"])
            .output()
            .expect("the harness' kubectl runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.contains("kube-system"),
            "kubectl --kubeconfig {} get ns: {}{}",
            kubeconfig.display(),
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // The management site holds Soberana's CRDs and the example scenario.
    let management = kubeconfigs
        .iter()
        .find(|path| path.ends_with("mgmt/kubeconfig"))
        .expect("mgmt is listed");
    let sites = Command::new(&binaries.kubectl)
        .arg("--kubeconfig")
        .arg(management)
        .args(["get", "sites", "-o", "name"])
        .output()
        .expect("the harness' kubectl runs");
    let sites = String::from_utf8_lossy(&sites.stdout);
    assert!(
        sites.contains("site.soberana.io/state-dc-primary"),
        "sites on mgmt: {sites}"
    );

    // The foreign public cloud's own API server refuses restricted data, and says why.
    assert!(
        transcript.contains("refused by public-cloud-us's own API server: ")
            && transcript
                .contains("data classified restricted may not be hosted on site public-cloud-us")
            && transcript.contains("Legal basis: "),
        "the demo did not show the refusal:\n{transcript}"
    );
    // The example workloads are placed and run; public data goes to the only reachable site,
    // whose own scheduler and controllers run its Pods on the site's nodes.
    assert!(
        transcript.contains("Workloads placed by the engine")
            && transcript
                .lines()
                .any(|line| line.contains("biblioteca-prod/catalogo")
                    && line.contains("Running")
                    && line.contains("public-cloud-us")),
        "the demo did not show the workloads running:\n{transcript}"
    );
    let pods = transcript
        .lines()
        .find(|line| line.trim_start().starts_with("public-cloud-us ") && line.contains(" Pods, "))
        .unwrap_or_else(|| panic!("no Pods line for public-cloud-us:\n{transcript}"));
    let counts: Vec<usize> = pods
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .take(2)
        .collect();
    assert!(
        counts.len() == 2 && counts[0] > 0 && counts[0] == counts[1],
        "not every Pod on public-cloud-us runs: {pods}"
    );
    // The agreements are judged: the Ministry of Health's, whose tenancy reaches foreign
    // regions, is refused with those sites named (here only public-cloud-us runs, so the others
    // wait for their providers' placement).
    assert!(
        transcript.contains("Interoperability agreements, judged before any path opens")
            && transcript
                .lines()
                .any(|line| line.contains("registro-civil-padron-para-minsa")
                    && line.contains("Refused"))
            && transcript.contains("      site public-cloud-"),
        "the demo did not show the agreements:\n{transcript}"
    );
    // The API runs and an agency's tool plans a migration through it with the CLI.
    assert!(
        transcript.contains("plans a migration:")
            && transcript.contains("Chosen: public-cloud-us")
            && transcript.contains("Reserved on public-cloud-us"),
        "the demo did not show a working `soberana plan`:\n{transcript}"
    );
    // The ledger verifies, and holds the API's plan and the operator's placement decisions.
    let ledger = transcript
        .lines()
        .find(|line| line.contains("every link verified"))
        .unwrap_or_default();
    assert!(
        ledger.contains("(1 plans,")
            && !ledger.contains(" 0 placements")
            && ledger.contains("anchored through record"),
        "the demo did not verify a ledger with the plan and the operator's placements:\n{transcript}"
    );
    // The operator provisioned the institutions allowed on public-cloud-us there.
    assert!(
        transcript.contains("Every site is Ready and every tenant is provisioned on it."),
        "the demo did not report convergence:\n{transcript}"
    );
    let foreign = kubeconfigs
        .iter()
        .find(|path| path.ends_with("public-cloud-us/kubeconfig"))
        .expect("public-cloud-us is listed");
    let namespaces = Command::new(&binaries.kubectl)
        .arg("--kubeconfig")
        .arg(foreign)
        .args([
            "get",
            "ns",
            "-l",
            "app.kubernetes.io/managed-by=soberana",
            "-o",
            "name",
        ])
        .output()
        .expect("the harness' kubectl runs");
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    assert!(
        namespaces.lines().count() >= 2,
        "tenant namespaces on public-cloud-us: {namespaces}"
    );

    let pid = Pid::from_raw(i32::try_from(demo.id()).expect("pid fits"));
    kill(pid, Signal::SIGINT).expect("the demo can be interrupted");
    let farewell: Vec<String> = stdout.map_while(Result::ok).collect();
    let status = wait_with_deadline(&mut demo);
    guard.0 = None;
    assert_eq!(
        farewell.last().map(String::as_str),
        Some("Stopped."),
        "after Ctrl-C: {farewell:?}"
    );
    assert!(
        status.success(),
        "the demo exited with {status} after Ctrl-C"
    );
    let run_directory = run_directory.expect("the demo prints where its files are");
    assert!(
        !run_directory.exists(),
        "{} was left behind",
        run_directory.display()
    );
}

#[test]
fn demo_once_checks_every_site_and_exits() {
    let output = Command::new(DEMO)
        .args(["--once", "--sites", "state-dc"])
        .output()
        .expect("the demo binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo --once failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let site_row = stdout
        .lines()
        .find(|line| line.starts_with("state-dc "))
        .unwrap_or_else(|| panic!("no row for state-dc in:\n{stdout}"));
    assert!(
        site_row.contains("https://127.0.0.1:"),
        "row {site_row:?} lacks the server URL"
    );
    assert!(
        stdout.contains("Checks passed (--once)"),
        "no closing line in:\n{stdout}"
    );
}

#[test]
fn demo_refuses_a_site_name_that_is_not_a_dns_label() {
    let output = Command::new(DEMO)
        .args(["--once", "--sites", "State_DC"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an invalid site name was accepted"
    );
    assert!(
        stderr.contains("--sites") && stderr.contains("State_DC"),
        "unclear error: {stderr}"
    );
}

/// Sends SIGINT to the demo when dropped while it may still run.
struct InterruptOnDrop(Option<u32>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.0.take()
            && let Ok(id) = i32::try_from(id)
        {
            let _ = kill(Pid::from_raw(id), Signal::SIGINT);
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("waiting on the demo") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not exit within {EXIT_TIMEOUT:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
