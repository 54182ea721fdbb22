//! What-if on a large estate: 100,000 workloads × 50 sites (the generator of
//! `placement_vs_rego`, shared in `estate/`), one classification changed, the incremental answer
//! timed next to a baseline in the same run that re-evaluates every workload before and after.
//!
//! Run with `cargo bench -p soberana-core --bench what_if` (or `make bench`); `-- --quick` or
//! `SOBERANA_BENCH_QUICK=1` for 10,000 workloads. Every figure is the median of several runs,
//! single thread, with `std::time::Instant`. The incremental answer must equal the exhaustive one
//! (every workload evaluated in full, then compared) or the benchmark panics. Beside the baseline
//! (`evaluate` every workload before and after) the run also times `judge` on every workload
//! before and after (reason codes only): the least any what-if that re-judges everything costs.

#![allow(
    clippy::too_many_lines,
    reason = "a benchmark reads top to bottom as one measured scenario"
)]
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark over its own generated data: a panic reports a broken benchmark"
)]

#[path = "support/estate.rs"]
mod estate;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use estate::World;
use soberana_core::placement::what_if::{Impact, Proposal, what_if, what_if_exhaustive};
use soberana_core::placement::{Objects, Snapshot, evaluate, judge};
use soberana_core::resources::data_classification::DataClassification;

const SITES: usize = 50;
const GOAL: Duration = Duration::from_secs(1);
/// Runs per measurement; the median is reported.
const RUNS: usize = 3;

/// The classification `name` of `world` with one more required certification.
fn requiring(world: &World, name: &str, certification: &str) -> DataClassification {
    let mut changed = world
        .classifications
        .iter()
        .find(|classification| classification.metadata.name.as_deref() == Some(name))
        .unwrap()
        .clone();
    changed
        .spec
        .required_certifications
        .push(certification.to_owned());
    changed
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

fn timed<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut durations = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let result = black_box(work());
        durations.push(started.elapsed());
        last = Some(result);
    }
    (median(durations), last.unwrap())
}

/// The current and the proposed snapshot.
fn snapshots(world: &World, objects: Objects<'_>, proposal: &Proposal) -> (Snapshot, Snapshot) {
    let before = Snapshot::new(objects).unwrap();
    let classifications: Vec<DataClassification> = world
        .classifications
        .iter()
        .map(|current| {
            proposal
                .classifications
                .iter()
                .find(|proposed| proposed.metadata.name == current.metadata.name)
                .unwrap_or(current)
                .clone()
        })
        .collect();
    let after = Snapshot::new(Objects {
        classifications: &classifications,
        ..objects
    })
    .unwrap();
    (before, after)
}

/// The baseline: every workload evaluated (every reason written) against the current and the
/// proposed snapshot, nothing compared. Returns how many workloads' chosen sites differ.
fn evaluate_everything(world: &World, objects: Objects<'_>, proposal: &Proposal) -> usize {
    let (before, after) = snapshots(world, objects, proposal);
    world
        .workloads
        .iter()
        .map(|workload| {
            let old = evaluate(&before, workload).unwrap();
            let new = evaluate(&after, workload).unwrap();
            usize::from(old.chosen_sites != new.chosen_sites)
        })
        .sum()
}

/// The cheapest re-judging of everything: every workload judged (reason codes only, nothing
/// written) against both snapshots, nothing compared.
fn judge_everything(world: &World, objects: Objects<'_>, proposal: &Proposal) -> usize {
    let (before, after) = snapshots(world, objects, proposal);
    world
        .workloads
        .iter()
        .map(|workload| {
            let old = judge(&before, workload).unwrap();
            let new = judge(&after, workload).unwrap();
            usize::from(old.chosen != new.chosen)
        })
        .sum()
}

fn kinds(impact: &Impact) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for workload in &impact.workloads {
        *counts.entry(format!("{:?}", workload.change)).or_default() += 1;
    }
    counts
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick")
        || std::env::var("SOBERANA_BENCH_QUICK")
            .is_ok_and(|value| !value.is_empty() && value != "0");
    let workload_count = if quick { 10_000 } else { 100_000 };
    println!(
        "what_if{}: {workload_count} workloads × {SITES} sites; median of {RUNS} runs, single thread",
        if quick { " (quick)" } else { "" }
    );
    println!(
        "machine: {} CPUs available; load average before the run: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .map_or_else(|_| "unknown".to_owned(), |load| load.trim().to_owned())
    );
    let started = Instant::now();
    let world = World::generate(workload_count, SITES);
    println!("generated in {:.2} s", started.elapsed().as_secs_f64());
    let objects = Objects {
        sites: &world.sites,
        classifications: &world.classifications,
        rules: &world.rules,
        tenants: &world.tenants,
        ..Objects::default()
    };
    let changes = [
        ("internal", "TierIII", "internal also requires TierIII"),
        ("restricted", "TierIV", "restricted also requires TierIV"),
    ];
    let mut verdicts = Vec::new();
    for (name, certification, label) in changes {
        let proposal = Proposal {
            classifications: vec![requiring(&world, name, certification)],
            ..Proposal::default()
        };
        println!("\n== {label} ==");
        let (incremental_time, incremental) = timed(RUNS, || {
            what_if(objects, &world.workloads, &proposal).unwrap()
        });
        let (exhaustive_time, exhaustive) = timed(1, || {
            what_if_exhaustive(objects, &world.workloads, &proposal).unwrap()
        });
        assert_eq!(
            incremental.workloads, exhaustive.workloads,
            "the incremental answer differs"
        );
        assert_eq!(
            incremental.tenants, exhaustive.tenants,
            "the incremental answer differs"
        );
        let (baseline_time, moved) =
            timed(RUNS, || evaluate_everything(&world, objects, &proposal));
        let (judged_time, _) = timed(RUNS, || judge_everything(&world, objects, &proposal));
        println!(
            "judged again: {} of {} workloads; affected: {} ({}); tenants affected: {}; chosen sites differ for {moved}",
            incremental.workloads_judged,
            incremental.workloads_total,
            incremental.workloads.len(),
            kinds(&incremental),
            incremental.tenants.len()
        );
        println!(
            "what-if (incremental)                           {:>9}",
            seconds(incremental_time)
        );
        println!(
            "baseline: evaluate every workload before+after  {:>9}",
            seconds(baseline_time)
        );
        println!(
            "judge every workload before+after (codes only)  {:>9}",
            seconds(judged_time)
        );
        println!(
            "exhaustive what-if (the reference, 1 run)       {:>9}",
            seconds(exhaustive_time)
        );
        println!(
            "speed-up over the baseline: {:.1}×; goal ≤ {} s: {}",
            baseline_time.as_secs_f64() / incremental_time.as_secs_f64(),
            GOAL.as_secs(),
            if incremental_time <= GOAL {
                "met"
            } else {
                "NOT met"
            }
        );
        verdicts.push((label, incremental_time));
    }
    println!("\n== summary ==");
    for (label, time) in verdicts {
        println!(
            "{label:<34} what-if {:>9}  goal ≤ {} s: {}",
            seconds(time),
            GOAL.as_secs(),
            if time <= GOAL { "met" } else { "NOT met" }
        );
    }
}
