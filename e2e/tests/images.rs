//! `make images` (images/build.sh) as a user and a registry see it: two builds from the same commit
//! give byte-identical archives; every image names the chart's default reference, runs as a
//! non-root user, carries the OCI labels and an SBOM listing its Debian packages and every crate
//! in its binary; the files of each image suffice to run its binary as that user (in a chroot), the
//! example service answers HTTP and pause exits on SIGTERM; no build path leaks into a binary.
//!
//! Builds once per run (the release build in target/image-build is reused after the first); needs
//! root for the chroot, as the e2e suites do.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// The images `make images` builds, by name, and the cargo package of each one's binary.
const IMAGES: [(&str, &str, &str); 5] = [
    (
        "soberana-operator",
        "soberana-operator",
        "/usr/bin/soberana-operator",
    ),
    ("soberana-api", "soberana-api", "/usr/bin/soberana-api"),
    ("soberana", "soberana-cli", "/usr/bin/soberana"),
    (
        "example-http",
        "soberana-example-http",
        "/usr/bin/example-http",
    ),
    ("pause", "soberana-pause", "/pause"),
];
const NON_ROOT: &str = "65532:65532";

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = [
        trial(
            "the_charts_app_version_is_the_workspace_version",
            the_charts_app_version_is_the_workspace_version,
        ),
        trial(
            "building_twice_gives_the_same_digests",
            building_twice_gives_the_same_digests,
        ),
        trial(
            "images_are_tagged_as_the_chart_refers_to_them",
            images_are_tagged_as_the_chart_refers_to_them,
        ),
        trial(
            "every_image_runs_as_non_root_and_carries_the_oci_labels",
            every_image_runs_as_non_root_and_carries_the_oci_labels,
        ),
        trial(
            "every_sbom_lists_the_debian_packages_and_every_crate_in_the_binary",
            every_sbom_lists_the_debian_packages_and_every_crate_in_the_binary,
        ),
        trial(
            "no_build_path_leaks_into_a_binary",
            no_build_path_leaks_into_a_binary,
        ),
        trial(
            "each_image_runs_its_binary_as_non_root_from_its_own_files",
            each_image_runs_its_binary_as_non_root_from_its_own_files,
        ),
        // Debian's containerd (1.6) is what a real node here runs; without it there is nothing
        // to import into.
        trial(
            "containerd_imports_every_archive_under_its_reference",
            containerd_imports_every_archive_under_its_reference,
        )
        .with_ignored_flag(!on_path("containerd") || !on_path("ctr")),
    ];
    libtest_mimic::run(&args, trials.into()).exit_code()
}

fn trial(name: &'static str, test: fn() -> Result<()>) -> Trial {
    Trial::test(name, move || {
        test().map_err(|error| Failed::from(format!("{error:#}")))
    })
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is inside the workspace")
        .to_path_buf()
}

/// The workspace's version (this crate's, `version.workspace = true`).
fn workspace_version() -> Result<String> {
    Ok(env!("CARGO_PKG_VERSION").to_owned())
}

/// One image as built: its archive, what the archive's index, manifest and config say, and its
/// layer unpacked.
#[derive(Debug)]
struct Image {
    archive: PathBuf,
    reference: String,
    digest: String,
    config: Value,
    rootfs: PathBuf,
    sbom_beside: Value,
}

#[derive(Debug)]
struct Built {
    images: BTreeMap<String, Image>,
    second_build: BTreeMap<String, (PathBuf, String)>,
}

/// Both builds, run once for all the tests that need them.
fn built() -> Result<&'static Built> {
    static BUILT: OnceLock<std::result::Result<Built, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_twice().map_err(|error| format!("{error:#}")))
        .as_ref()
        .map_err(|error| anyhow::anyhow!("building the images: {error}"))
}

fn build_twice() -> Result<Built> {
    let out = workspace().join("target/images-test");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let first = run_build(&out.join("first"))?;
    let second = run_build(&out.join("second"))?;
    let mut images = BTreeMap::new();
    for (name, archive) in first {
        let unpacked = out.join("unpacked").join(&name);
        images.insert(name.clone(), unpack(&name, archive, &unpacked)?);
    }
    let mut second_build = BTreeMap::new();
    for (name, archive) in second {
        let digest = read_index(&archive)?.1;
        second_build.insert(name, (archive, digest));
    }
    Ok(Built {
        images,
        second_build,
    })
}

/// Runs images/build.sh into `out` and returns the archives it printed last, by image name.
fn run_build(out: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(workspace().join("images/build.sh"))
        .env("SOBERANA_IMAGES_OUT", out)
        .stderr(Stdio::inherit())
        .output()
        .context("running images/build.sh")?;
    ensure!(
        output.status.success(),
        "images/build.sh failed: {}",
        output.status
    );
    eprintln!("images/build.sh took {:.1?}", started.elapsed());
    let stdout = String::from_utf8(output.stdout)?;
    let version = workspace_version()?;
    let mut archives = BTreeMap::new();
    for line in stdout.lines().rev().take(IMAGES.len()) {
        let path = PathBuf::from(line);
        let file = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let name = file
            .strip_suffix(&format!("-{version}.oci.tar"))
            .with_context(|| format!("images/build.sh printed {line:?}, not an archive"))?;
        ensure!(path.is_file(), "{line} does not exist");
        archives.insert(name.to_owned(), path);
    }
    let expected: BTreeSet<&str> = IMAGES.iter().map(|(name, ..)| *name).collect();
    let printed: BTreeSet<&str> = archives.keys().map(String::as_str).collect();
    ensure!(
        printed == expected,
        "images/build.sh printed {printed:?}, not {expected:?}"
    );
    Ok(archives)
}

/// The archive's index and the digest of its one manifest, extracting nothing else.
fn read_index(archive: &Path) -> Result<(Value, String)> {
    let index: Value = serde_json::from_slice(&tar_member(archive, "index.json")?)?;
    let manifests = index["manifests"]
        .as_array()
        .context("index.json: no manifests")?;
    ensure!(
        manifests.len() == 1,
        "{}: {} manifests",
        archive.display(),
        manifests.len()
    );
    let digest = manifests[0]["digest"]
        .as_str()
        .context("no digest")?
        .to_owned();
    Ok((index, digest))
}

fn tar_member(archive: &Path, member: &str) -> Result<Vec<u8>> {
    let output = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(member)
        .output()?;
    ensure!(
        output.status.success(),
        "{} has no {member}: {}",
        archive.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output.stdout)
}

fn blob(archive: &Path, digest: &str) -> Result<Vec<u8>> {
    let hex = digest
        .strip_prefix("sha256:")
        .context("not a sha256 digest")?;
    let data = tar_member(archive, &format!("blobs/sha256/{hex}"))?;
    let actual = sha256(&data)?;
    ensure!(
        actual == hex,
        "blob {digest} of {} hashes to {actual}",
        archive.display()
    );
    Ok(data)
}

fn sha256(data: &[u8]) -> Result<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(data)?;
    let output = child.wait_with_output()?;
    let text = String::from_utf8(output.stdout)?;
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

fn unpack(name: &str, archive: PathBuf, dir: &Path) -> Result<Image> {
    let (index, digest) = read_index(&archive)?;
    let reference = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .with_context(|| format!("{name}: index.json has no org.opencontainers.image.ref.name"))?
        .to_owned();
    let manifest: Value = serde_json::from_slice(&blob(&archive, &digest)?)?;
    let config_digest = manifest["config"]["digest"].as_str().context("no config")?;
    let config: Value = serde_json::from_slice(&blob(&archive, config_digest)?)?;
    let layers = manifest["layers"].as_array().context("no layers")?;
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs)?;
    for layer in layers {
        let digest = layer["digest"].as_str().context("a layer without digest")?;
        let data = blob(&archive, digest)?;
        let mut tar = Command::new("tar")
            .args(["-xzf", "-", "--same-owner", "-C"])
            .arg(&rootfs)
            .stdin(Stdio::piped())
            .spawn()?;
        tar.stdin.take().context("stdin")?.write_all(&data)?;
        ensure!(tar.wait()?.success(), "{name}: unpacking layer {digest}");
    }
    let beside = archive.with_file_name(format!("{name}-{}.sbom.json", workspace_version()?));
    let sbom_beside = serde_json::from_slice(
        &std::fs::read(&beside).with_context(|| format!("reading {}", beside.display()))?,
    )?;
    Ok(Image {
        archive,
        reference,
        digest,
        config,
        rootfs,
        sbom_beside,
    })
}

fn the_charts_app_version_is_the_workspace_version() -> Result<()> {
    let version = workspace_version()?;
    for chart in ["charts/soberana", "charts/soberana-member"] {
        let path = workspace().join(chart).join("Chart.yaml");
        let chart: Value = serde_norway::from_str(&std::fs::read_to_string(&path)?)?;
        for field in ["version", "appVersion"] {
            ensure!(
                chart[field].as_str() == Some(version.as_str()),
                "{}: {field} is {}, the workspace version (Cargo.toml) is {version}",
                path.display(),
                chart[field]
            );
        }
    }
    Ok(())
}

fn building_twice_gives_the_same_digests() -> Result<()> {
    let built = built()?;
    for (name, image) in &built.images {
        let (archive, digest) = &built.second_build[name];
        ensure!(
            *digest == image.digest,
            "{name}: the second build's digest {digest} differs from the first's {}",
            image.digest
        );
        ensure!(
            std::fs::read(archive)? == std::fs::read(&image.archive)?,
            "{name}: {} and {} differ",
            archive.display(),
            image.archive.display()
        );
        let recorded =
            std::fs::read_to_string(image.archive.with_extension("").with_extension("digest"))?;
        ensure!(
            recorded.trim() == image.digest,
            "{name}: the .digest file says {recorded}"
        );
    }
    Ok(())
}

fn images_are_tagged_as_the_chart_refers_to_them() -> Result<()> {
    let built = built()?;
    let version = workspace_version()?;
    for (name, image) in &built.images {
        ensure!(
            image.reference == format!("docker.io/soberana/{name}:{version}"),
            "{name} is tagged {}",
            image.reference
        );
    }
    // The chart's default rendering (kept equal to `helm template` by the chart suite).
    let snapshot =
        std::fs::read_to_string(workspace().join("e2e/tests/snapshots/chart-default.yaml"))?;
    let mut referenced: Vec<String> = snapshot
        .lines()
        .filter_map(|line| line.trim().strip_prefix("image: "))
        .map(|image| format!("docker.io/{}", image.trim_matches('"')))
        .collect();
    referenced.sort();
    referenced.dedup();
    let ours = vec![
        built.images["soberana-api"].reference.clone(),
        built.images["soberana-operator"].reference.clone(),
    ];
    ensure!(
        referenced == ours,
        "the chart refers to {referenced:?}, make images tags {ours:?}"
    );
    Ok(())
}

fn every_image_runs_as_non_root_and_carries_the_oci_labels() -> Result<()> {
    let built = built()?;
    let version = workspace_version()?;
    let revision = git(&["rev-parse", "HEAD"])?;
    for (name, _, entrypoint) in IMAGES {
        let image = &built.images[name];
        let config = &image.config["config"];
        ensure!(
            config["User"] == NON_ROOT,
            "{name}: User is {}, not {NON_ROOT}",
            config["User"]
        );
        ensure!(
            config["Entrypoint"] == serde_json::json!([entrypoint]),
            "{name}: Entrypoint is {}",
            config["Entrypoint"]
        );
        let labels = &config["Labels"];
        for (label, expected) in [
            ("source", "https://github.com/soberana/soberana"),
            ("revision", revision.as_str()),
            ("version", version.as_str()),
            ("licenses", "Apache-2.0"),
        ] {
            let key = format!("org.opencontainers.image.{label}");
            ensure!(
                labels[&key] == expected,
                "{name}: label {key} is {}, not {expected}",
                labels[&key]
            );
        }
        ensure!(
            labels["org.opencontainers.image.title"]
                .as_str()
                .is_some_and(|title| !title.is_empty()),
            "{name}: no title label"
        );
        // The user exists in the image, and so does its home.
        let passwd = std::fs::read_to_string(image.rootfs.join("etc/passwd"))?;
        ensure!(
            passwd
                .lines()
                .any(|line| line.starts_with("nonroot:x:65532:65532:")),
            "{name}: /etc/passwd has no user 65532: {passwd}"
        );
    }
    Ok(())
}

/// Every crate in `cargo tree -e normal` for the package, built alone, by name and version.
fn cargo_tree_crates(package: &str) -> Result<BTreeSet<(String, String)>> {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "tree",
            "--locked",
            "-e",
            "normal",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .args(["--prefix", "none", "-f", "{p}", "-p", package])
        .output()?;
    ensure!(output.status.success(), "cargo tree -p {package} failed");
    let mut crates = BTreeSet::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        let mut words = line.split_whitespace();
        if let (Some(name), Some(version)) = (words.next(), words.next()) {
            let version = version.strip_prefix('v').context("no version")?;
            crates.insert((name.to_owned(), version.to_owned()));
        }
    }
    Ok(crates)
}

/// The registry crates whose sources a binary names (panic locations and the like): the ones
/// that surely are in it.
fn crates_named_in_binary(binary: &Path) -> Result<BTreeSet<(String, String)>> {
    let bytes = std::fs::read(binary)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut crates = BTreeSet::new();
    for (at, _) in text.match_indices("/cargo/registry/src/") {
        let rest = &text[at + "/cargo/registry/src/".len()..];
        let Some(directory) = rest.split('/').nth(1) else {
            continue;
        };
        // name-1.2.3[-pre][+build]: the version starts after the first '-' followed by
        // MAJOR.MINOR.: a name may hold "-<digit>" too (md-5).
        let semver = |rest: &str| {
            let mut parts = rest.splitn(3, '.');
            let mut numeric = || {
                parts.next().is_some_and(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
                })
            };
            numeric() && numeric() && parts.next().is_some()
        };
        let split = directory
            .char_indices()
            .filter(|(at, c)| *c == '-' && semver(&directory[at + 1..]))
            .map(|(at, _)| at)
            .next();
        if let Some(split) = split {
            crates.insert((
                directory[..split].to_owned(),
                directory[split + 1..].to_owned(),
            ));
        }
    }
    Ok(crates)
}

fn every_sbom_lists_the_debian_packages_and_every_crate_in_the_binary() -> Result<()> {
    let built = built()?;
    for (name, package, entrypoint) in IMAGES {
        let image = &built.images[name];
        let inside: Value = serde_json::from_slice(
            &std::fs::read(image.rootfs.join("usr/share/doc/soberana/sbom.json"))
                .with_context(|| format!("{name}: no /usr/share/doc/soberana/sbom.json"))?,
        )?;
        ensure!(
            inside == image.sbom_beside,
            "{name}: the SBOM beside the archive differs from the one inside"
        );
        ensure!(
            inside["bomFormat"] == "CycloneDX",
            "{name}: not a CycloneDX SBOM"
        );
        let components = inside["components"].as_array().context("no components")?;
        let listed: BTreeMap<(String, String), &Value> = components
            .iter()
            .filter(|component| {
                component["purl"]
                    .as_str()
                    .is_some_and(|purl| purl.starts_with("pkg:cargo/"))
            })
            .map(|component| {
                let field = |key: &str| component[key].as_str().unwrap_or_default().to_owned();
                ((field("name"), field("version")), component)
            })
            .collect();
        let tree = cargo_tree_crates(package)?;
        let missing: Vec<_> = tree
            .iter()
            .filter(|key| !listed.contains_key(*key))
            .collect();
        ensure!(
            missing.is_empty(),
            "{name}: the SBOM misses crates of `cargo tree -p {package}`: {missing:?}"
        );
        let in_binary =
            crates_named_in_binary(&image.rootfs.join(entrypoint.trim_start_matches('/')))?;
        ensure!(
            !in_binary.is_empty(),
            "{name}: found no crate in the binary: the check below would prove nothing"
        );
        for key in &in_binary {
            let component = listed.get(key).with_context(|| {
                format!("{name}: the binary holds {key:?}, the SBOM does not list it")
            })?;
            ensure!(
                component["scope"] == "required",
                "{name}: {key:?} is in the binary but marked {}",
                component["scope"]
            );
        }
        // The Debian packages whose files the image holds, at the versions installed here.
        let debs: BTreeMap<String, String> = components
            .iter()
            .filter(|component| {
                component["purl"]
                    .as_str()
                    .is_some_and(|purl| purl.starts_with("pkg:deb/"))
            })
            .map(|component| {
                let field = |key: &str| component[key].as_str().unwrap_or_default().to_owned();
                (field("name"), field("version"))
            })
            .collect();
        let dynamic = image
            .rootfs
            .join("lib64/ld-linux-x86-64.so.2")
            .symlink_metadata()
            .is_ok();
        let expected: &[&str] = if dynamic {
            &["ca-certificates", "libc6", "libgcc-s1"]
        } else {
            &[]
        };
        ensure!(
            debs.keys().map(String::as_str).collect::<Vec<_>>() == expected,
            "{name}: the SBOM lists the Debian packages {debs:?}, expected {expected:?}"
        );
        for (deb, version) in &debs {
            let installed = Command::new("dpkg-query")
                .args(["-W", "-f", "${Version}", deb])
                .output()?;
            ensure!(
                String::from_utf8_lossy(&installed.stdout) == *version,
                "{name}: the SBOM lists {deb} {version}, {} is installed",
                String::from_utf8_lossy(&installed.stdout)
            );
        }
    }
    Ok(())
}

fn no_build_path_leaks_into_a_binary() -> Result<()> {
    let built = built()?;
    let checkout = workspace().display().to_string();
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    for (name, _, entrypoint) in IMAGES {
        let binary = built.images[name]
            .rootfs
            .join(entrypoint.trim_start_matches('/'));
        let bytes = std::fs::read(&binary)?;
        for path in [&checkout, &cargo_home] {
            ensure!(
                !bytes
                    .windows(path.len())
                    .any(|window| window == path.as_bytes()),
                "{name}: {} names {path}",
                binary.display()
            );
        }
    }
    Ok(())
}

fn each_image_runs_its_binary_as_non_root_from_its_own_files() -> Result<()> {
    let built = built()?;
    // The three Soberana binaries start and answer --version from nothing but their image's files.
    let version = workspace_version()?;
    for (name, _, entrypoint) in &IMAGES[..3] {
        let output = chroot(&built.images[*name].rootfs, entrypoint)
            .arg("--version")
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success() && stdout.contains(&version),
            "{name}: `{entrypoint} --version` in its image: {} {stdout} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The example service answers / and /healthz, and exits at once on SIGTERM.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut service = Guard(
        chroot(
            &built.images["example-http"].rootfs,
            "/usr/bin/example-http",
        )
        .env("PORT", port.to_string())
        .env("HOSTNAME", "example-pod")
        .spawn()?,
    );
    let health = eventually(|| http_get(port, "/healthz"))?;
    ensure!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("\r\n\r\nok\n"),
        "/healthz: {health}"
    );
    let root = http_get(port, "/")?;
    ensure!(root.ends_with("hello from example-pod\n"), "/: {root}");
    terminate_and_expect_success(&mut service.0, "example-http")?;
    // pause waits for SIGTERM, then exits 0.
    let mut pause = Guard(chroot(&built.images["pause"].rootfs, "/pause").spawn()?);
    let pid = pause.0.id();
    // SIGTERM before pause has blocked it would kill it by default: wait until it waits for it
    // (in rt_sigtimedwait, x86_64 system call 128; it blocks the signals before).
    eventually(|| {
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall"))?;
        ensure!(
            syscall.starts_with("128 "),
            "pause is not waiting for a signal yet: {syscall}"
        );
        Ok(())
    })?;
    terminate_and_expect_success(&mut pause.0, "pause")?;
    Ok(())
}

/// `chroot --userspec=65532:65532 ROOTFS PROGRAM`, with an empty environment.
fn chroot(rootfs: &Path, program: &str) -> Command {
    // Found on this process' PATH: the child's environment is emptied.
    let mut command = Command::new(which("chroot").unwrap_or_else(|| PathBuf::from("chroot")));
    command
        .arg(format!("--userspec={NON_ROOT}"))
        .arg(rootfs)
        .arg(program)
        .env_clear()
        .stdin(Stdio::null());
    command
}

/// Kills the child if a test fails before it exits.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn terminate_and_expect_success(child: &mut Child, name: &str) -> Result<()> {
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    kill(pid, Signal::SIGTERM)?;
    let status = eventually(|| child.try_wait()?.context("still running"))?;
    ensure!(status.success(), "{name} exited {status} on SIGTERM");
    Ok(())
}

fn http_get(port: u16, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// Retries `attempt` until it succeeds or 20 s pass.
fn eventually<T>(mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() > deadline => return Err(error.context("after 20 s")),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn git(args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .current_dir(workspace())
        .args(args)
        .output()?;
    if !output.status.success() {
        bail!("git {args:?} failed");
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

fn on_path(program: &str) -> bool {
    which(program).is_some()
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| candidate.is_file())
}

/// A containerd of its own (root, state and socket in a temporary directory, no CRI plugin) into
/// which every archive is imported, as a node's is by `ctr -n k8s.io images import`.
fn containerd_imports_every_archive_under_its_reference() -> Result<()> {
    let built = built()?;
    let dir =
        std::env::temp_dir().join(format!("soberana-images-containerd-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("containerd.sock");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{socket}\"\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            socket = socket.display(),
        ),
    )?;
    let log = std::fs::File::create(dir.join("containerd.log"))?;
    let mut containerd = Guard(
        Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?,
    );
    let result = import_all(built, &socket);
    terminate_and_expect_success(&mut containerd.0, "containerd").ok();
    std::fs::remove_dir_all(&dir).ok();
    result
}

fn import_all(built: &Built, socket: &Path) -> Result<()> {
    let ctr = |args: &[&str]| -> Result<String> {
        let output = Command::new("ctr")
            .arg("--address")
            .arg(socket)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()?;
        ensure!(
            output.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    };
    eventually(|| ctr(&["version"]))?;
    for image in built.images.values() {
        let archive = image.archive.display().to_string();
        ctr(&["images", "import", &archive])?;
    }
    let listed = ctr(&["images", "ls"])?;
    for (name, image) in &built.images {
        ensure!(
            listed.lines().any(|line| {
                let mut columns = line.split_whitespace();
                columns.next() == Some(image.reference.as_str())
                    && columns.nth(1) == Some(image.digest.as_str())
            }),
            "{name}: containerd lists no {} at {}: {listed}",
            image.reference,
            image.digest
        );
    }
    Ok(())
}
