//! Soberana's placement engine against the same eligibility rules written in Rego and run by
//! regorus, on deterministic synthetic scenarios of a Latin-American state data centre.
//!
//! Run with `cargo bench -p soberana-core --bench placement_vs_rego` (full sizes: 10000×50,
//! 10000×200, 100000×50 workloads×sites) or add `-- --quick` / set `SOBERANA_BENCH_QUICK=1` for
//! 200×10, 1000×50, 1000×200.
//!
//! What is timed, one decision at a time with `std::time::Instant`:
//! - raw scan (the floor): the same hard filters as one plain loop over parsed sites, returning
//!   only the eligible set (`support/raw_scan.rs`).
//! - ours, compiled: `judge(&snapshot, &workload)`: tenant and classification lookups, rule
//!   matching, every hard filter (reasons as codes per rejected site), scores, spread and the
//!   chosen sites. The `Snapshot` (with what it judges once) is built once per size, untimed.
//! - ours, explained: `evaluate`, the judgement rendered with every reason sentence, as the
//!   operator writes it to status; and `reference::evaluate`, the plain evaluation (every filter
//!   renders its sentences as it runs) the compiled engine replaced and is tested against.
//! - Rego: `engine.set_input(input)` + `engine.eval_rule("data.soberana.eligibility.eligible")`,
//!   eligibility only. The policy is added once; the sites go into `data` once per size; each
//!   workload's input (workload, classification, tenant ceiling, tenant and the rules that select
//!   the workload, matched in Rust) is built outside the timing.
//!
//! Rego is therefore given less work than ours (no scores, spread, reasons, lookups or rule
//! matching): the comparison is conservative. Both engines must return the same eligible set for
//! every workload both evaluated, or the benchmark panics with the first difference.

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
#[path = "support/raw_scan.rs"]
mod raw_scan;

use estate::World;

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use soberana_core::placement::{
    Decision, Objects, ReasonCode, Snapshot, evaluate, judge, reference,
};
use soberana_core::resources::availability::Availability;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

const POLICY: &str = include_str!("eligibility.rego");
const RULE: &str = "data.soberana.eligibility.eligible";
/// Wall-clock budget for Rego at one size; beyond it Rego evaluates every k-th workload.
/// `SOBERANA_BENCH_REGO_BUDGET_SECS` overrides it.
const REGO_BUDGET_SECS: f64 = 60.0;
/// The fewest workloads Rego evaluates at a size when it samples.
const REGO_MINIMUM_SAMPLE: usize = 500;
/// The goal is judged at this many sites.
const GOAL_SITES: usize = 50;
const GOAL_WORKLOADS: usize = 10_000;
/// The compiled engine's goals at 10000 × 50: throughput ≥ 200× regorus, p99 ≤ 20 µs, and at most
/// 5× the raw scan's time per decision.
const GOAL_RATIO: f64 = 200.0;
const GOAL_P99_MICROS: f64 = 20.0;
const GOAL_RAW_FACTOR: f64 = 5.0;

impl World {
    fn classification(&self, name: &str) -> &DataClassification {
        self.classifications
            .iter()
            .find(|classification| classification.metadata.name.as_deref() == Some(name))
            .expect("a generated workload names a generated classification")
    }

    fn tenant(&self, name: &str) -> &Tenant {
        self.tenants
            .iter()
            .find(|tenant| tenant.metadata.name.as_deref() == Some(name))
            .expect("a generated workload names a generated tenant")
    }

    /// The rules selecting `workload`, matched here (independently of the engine) for Rego.
    fn matching_rules(&self, workload: &Workload) -> Vec<&PlacementRule> {
        let mut labels = workload.metadata.labels.clone().unwrap_or_default();
        labels.extend(workload.spec.labels.clone());
        self.rules
            .iter()
            .filter(|rule| {
                let selector = &rule.spec.selector;
                (selector.tenants.is_empty() || selector.tenants.contains(&workload.spec.tenant))
                    && (selector.classifications.is_empty()
                        || selector
                            .classifications
                            .contains(&workload.spec.classification))
                    && selector
                        .match_labels
                        .iter()
                        .all(|(key, value)| labels.get(key) == Some(value))
            })
            .collect()
    }
}

fn ppm(text: &str) -> u32 {
    Availability::parse_percent(text)
        .expect("generated availabilities are valid percentages")
        .parts_per_million()
}

/// `data` for Rego: the sites with their offered availability in parts per million.
fn rego_data(world: &World) -> regorus::Value {
    let sites: Vec<Value> = world
        .sites
        .iter()
        .map(|site| {
            let mut value = serde_json::to_value(site).expect("a Site serializes");
            value["offeredAvailabilityPpm"] = json!(ppm(&site.spec.offered_availability));
            value
        })
        .collect();
    to_rego(json!({ "sites": sites }))
}

/// The input for one workload (built outside the timed section).
fn rego_input(
    world: &World,
    workload: &Workload,
    with_sites: Option<&regorus::Value>,
) -> regorus::Value {
    let classification = world.classification(&workload.spec.classification);
    let tenant = world.tenant(&workload.spec.tenant);
    let ceiling = world.classification(&tenant.spec.highest_classification);
    let mut workload_value = serde_json::to_value(workload).expect("a Workload serializes");
    if let Some(target) = &workload.spec.availability_target {
        workload_value["availabilityTargetPpm"] = json!(ppm(target));
    }
    let mut classification_value =
        serde_json::to_value(classification).expect("a DataClassification serializes");
    if let Some(minimum) = &classification.spec.minimum_availability {
        classification_value["minimumAvailabilityPpm"] = json!(ppm(minimum));
    }
    let mut input = to_rego(json!({
        "workload": workload_value,
        "classification": classification_value,
        "ceiling": ceiling,
        "tenant": tenant,
        "rules": world.matching_rules(workload),
    }));
    if let Some(sites) = with_sites {
        input
            .as_object_mut()
            .expect("the input is an object")
            .insert(regorus::Value::from("sites"), sites.clone());
    }
    input
}

fn to_rego(value: Value) -> regorus::Value {
    let converted = regorus::Value::from(value);
    assert_ne!(
        converted,
        regorus::Value::Undefined,
        "JSON converts to a regorus value"
    );
    converted
}

fn rego_eligible(engine: &mut regorus::Engine) -> Vec<String> {
    let result = engine
        .eval_rule(RULE.to_owned())
        .unwrap_or_else(|error| panic!("evaluating {RULE}: {error}"));
    set_names(&result)
}

fn set_names(value: &regorus::Value) -> Vec<String> {
    let set = value
        .as_set()
        .unwrap_or_else(|_| panic!("{RULE} is a set of site names, got {value}"));
    let mut names: Vec<String> = set
        .iter()
        .map(|name| {
            name.as_string()
                .expect("a site name is a string")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

fn ours_eligible(decision: &Decision) -> Vec<String> {
    let mut names: Vec<String> = decision.eligible_sites().map(str::to_owned).collect();
    names.sort();
    names
}

/// Bit `i` set when some site was rejected for `ReasonCode::ALL[i]` alone.
fn sole_reasons(decision: &Decision) -> u32 {
    decision
        .rejected
        .iter()
        .filter(|rejection| rejection.reasons.len() == 1)
        .filter_map(|rejection| {
            ReasonCode::ALL
                .iter()
                .position(|code| *code == rejection.reasons[0].code)
        })
        .fold(0, |mask, position| mask | (1 << position))
}

#[derive(Clone, Copy, Debug)]
struct Stats {
    decisions: usize,
    per_second: f64,
    p50_micros: f64,
    p99_micros: f64,
}

impl Stats {
    fn of(mut durations: Vec<Duration>) -> Self {
        durations.sort_unstable();
        let total: Duration = durations.iter().sum();
        let percentile = |percent: usize| {
            // Nearest rank.
            let rank = (percent * durations.len()).div_ceil(100).max(1);
            durations[rank - 1].as_secs_f64() * 1e6
        };
        Self {
            decisions: durations.len(),
            per_second: durations.len() as f64 / total.as_secs_f64(),
            p50_micros: percentile(50),
            p99_micros: percentile(99),
        }
    }
}

/// The figures of one size.
struct Outcome {
    workloads: usize,
    sites: usize,
    raw: Stats,
    /// The compiled engine: `judge`.
    ours: Stats,
    /// `evaluate`: the judgement rendered with every sentence.
    explained: Stats,
    /// `reference::evaluate`: the plain evaluation.
    plain: Stats,
    rego: Stats,
    stride: usize,
}

impl Outcome {
    fn ratio(&self) -> f64 {
        self.ours.per_second / self.rego.per_second
    }

    /// How many times the raw scan's time per decision the compiled engine takes.
    fn raw_factor(&self) -> f64 {
        self.raw.per_second / self.ours.per_second
    }
}

fn run_size(
    workload_count: usize,
    site_count: usize,
    engine: &mut regorus::Engine,
    rego_budget_secs: f64,
    covered: &mut u32,
) -> Outcome {
    println!("\n== {workload_count} workloads × {site_count} sites ==");
    let started = Instant::now();
    let world = World::generate(workload_count, site_count);
    println!(
        "generated in {:.2} s (4 classifications, {} tenants, {} placement rules)",
        started.elapsed().as_secs_f64(),
        world.tenants.len(),
        world.rules.len()
    );

    // Ours: the snapshot once, then every decision timed on its own.
    let started = Instant::now();
    let snapshot = Snapshot::new(Objects {
        sites: &world.sites,
        classifications: &world.classifications,
        rules: &world.rules,
        tenants: &world.tenants,
        ..Objects::default()
    })
    .expect("the generated snapshot is valid");
    println!(
        "ours: snapshot built once in {:.1} µs (not timed per decision)",
        started.elapsed().as_secs_f64() * 1e6
    );
    for workload in world.workloads.iter().take(200) {
        black_box(evaluate(&snapshot, workload).expect("warm-up"));
    }
    let mut durations = Vec::with_capacity(workload_count);
    let mut eligible = Vec::with_capacity(workload_count);
    let mut sole = Vec::with_capacity(workload_count);
    let mut reasons = Vec::with_capacity(workload_count);
    for workload in &world.workloads {
        let started = Instant::now();
        let decision = evaluate(&snapshot, black_box(workload));
        durations.push(started.elapsed());
        // Checking and dropping the decision happen after the clock stops.
        let decision = decision.expect("every generated workload evaluates");
        eligible.push(ours_eligible(&decision));
        sole.push(sole_reasons(&decision));
        reasons.push(
            decision
                .rejected
                .iter()
                .map(|rejection| rejection.reasons.len())
                .sum::<usize>(),
        );
        black_box(decision);
    }
    let explained = Stats::of(durations);
    let ours = time_judge(&snapshot, &world.workloads, &eligible);
    let plain = time_reference(&snapshot, &world.workloads);
    let raw = time_raw_scan(&world, &snapshot, &eligible);
    // The raw scan agreed on every workload: the coverage of the filters counts them all.
    *covered |= sole.iter().fold(0, |all, codes| all | codes);
    reasons.sort_unstable();
    println!(
        "ours: rejection reasons written per decision: mean {:.1}, p99 {}, max {}",
        reasons.iter().sum::<usize>() as f64 / workload_count as f64,
        reasons[(99 * workload_count).div_ceil(100).max(1) - 1],
        reasons.last().copied().unwrap_or_default()
    );

    // Rego: the sites into data once; each workload's input built outside the timing.
    let started = Instant::now();
    engine.clear_data();
    engine
        .add_data(rego_data(&world))
        .expect("the sites load into data");
    let first = rego_input(&world, &world.workloads[0], None);
    engine.set_input(first);
    rego_eligible(engine); // prepares the engine after add_data
    println!(
        "Rego: sites loaded into data and engine prepared in {:.1} ms (not timed per decision)",
        started.elapsed().as_secs_f64() * 1e3
    );

    // A pilot over the first workloads (untimed warm-up) sizes the sample within the budget.
    let pilot = workload_count.min(50);
    let inputs: Vec<regorus::Value> = world.workloads[..pilot]
        .iter()
        .map(|workload| rego_input(&world, workload, None))
        .collect();
    let started = Instant::now();
    for input in inputs {
        engine.set_input(input);
        black_box(rego_eligible(engine));
    }
    let estimate = started.elapsed().as_secs_f64() / pilot as f64 * workload_count as f64;
    let stride = if estimate <= rego_budget_secs {
        1
    } else {
        let wanted = (estimate / rego_budget_secs).ceil() as usize;
        wanted.min((workload_count / REGO_MINIMUM_SAMPLE).max(1))
    };
    if stride > 1 {
        println!(
            "Rego: all {workload_count} workloads would take ~{estimate:.0} s (budget {rego_budget_secs} s); \
             evaluating 1 in {stride} workloads ({} of them: indices 0, {stride}, 2×{stride}, …; ours still evaluates all)",
            workload_count.div_ceil(stride)
        );
    }

    let mut durations = Vec::with_capacity(workload_count.div_ceil(stride));
    let mut eligible_total = 0usize;
    let mut none_eligible = 0usize;
    for (index, workload) in world.workloads.iter().enumerate().step_by(stride) {
        let input = rego_input(&world, workload, None);
        let started = Instant::now();
        engine.set_input(input);
        let result = engine.eval_rule(RULE.to_owned());
        durations.push(started.elapsed());
        let result = result.unwrap_or_else(|error| panic!("evaluating {RULE}: {error}"));
        let theirs = set_names(&result);
        if theirs != eligible[index] {
            disagreement(&world, &snapshot, workload, &eligible[index], &theirs);
        }
        eligible_total += theirs.len();
        none_eligible += usize::from(theirs.is_empty());
    }
    let rego = Stats::of(durations);

    // The same policy with the sites in the input instead of data must agree too.
    engine.clear_data();
    let sites_value = &rego_data(&world)["sites"];
    for (index, workload) in world.workloads.iter().enumerate().take(20) {
        engine.set_input(rego_input(&world, workload, Some(sites_value)));
        let theirs = rego_eligible(engine);
        if theirs != eligible[index] {
            disagreement(&world, &snapshot, workload, &eligible[index], &theirs);
        }
    }

    println!(
        "agreement: the eligible sets of all {} workloads evaluated by both engines are equal \
         (mean {:.1} eligible sites per workload, {} with none)",
        rego.decisions,
        eligible_total as f64 / rego.decisions as f64,
        none_eligible
    );
    let outcome = Outcome {
        workloads: workload_count,
        sites: site_count,
        raw,
        ours,
        explained,
        plain,
        rego,
        stride,
    };
    print_table(&outcome);
    outcome
}

/// The compiled engine, timed per decision; its eligible sets must be those `evaluate` showed.
fn time_judge(snapshot: &Snapshot, workloads: &[Workload], eligible: &[Vec<String>]) -> Stats {
    let mut durations = Vec::with_capacity(workloads.len());
    for (index, workload) in workloads.iter().enumerate() {
        let started = Instant::now();
        let judgement = judge(snapshot, black_box(workload));
        durations.push(started.elapsed());
        let judgement = judgement.expect("every generated workload is judged");
        let mut names: Vec<&str> = judgement
            .eligible
            .iter()
            .map(|ranked| snapshot.sites()[ranked.site].name.as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names, eligible[index],
            "judge and evaluate disagree on {index}"
        );
        black_box(judgement);
    }
    Stats::of(durations)
}

/// The plain evaluation the compiled engine replaced, timed per decision.
fn time_reference(snapshot: &Snapshot, workloads: &[Workload]) -> Stats {
    let mut durations = Vec::with_capacity(workloads.len());
    for workload in workloads {
        let started = Instant::now();
        let decision = reference::evaluate(snapshot, black_box(workload));
        durations.push(started.elapsed());
        black_box(decision.expect("every generated workload evaluates"));
    }
    Stats::of(durations)
}

/// The raw scan, timed per decision; its eligible sets must be the engine's.
fn time_raw_scan(world: &World, snapshot: &Snapshot, eligible: &[Vec<String>]) -> Stats {
    let scan = raw_scan::RawScan::new(
        &world.sites,
        &world.classifications,
        &world.tenants,
        &world.rules,
    );
    let mut durations = Vec::with_capacity(world.workloads.len());
    for (index, workload) in world.workloads.iter().enumerate() {
        let started = Instant::now();
        let found = scan.eligible(black_box(workload));
        durations.push(started.elapsed());
        let names: Vec<&str> = found
            .iter()
            .map(|site| snapshot.sites()[*site].name.as_str())
            .collect();
        assert_eq!(
            names, eligible[index],
            "the raw scan and the engine disagree on {index}"
        );
    }
    Stats::of(durations)
}

fn disagreement(
    world: &World,
    snapshot: &Snapshot,
    workload: &Workload,
    ours: &[String],
    theirs: &[String],
) -> ! {
    let ours_set: BTreeSet<&String> = ours.iter().collect();
    let theirs_set: BTreeSet<&String> = theirs.iter().collect();
    let decision = evaluate(snapshot, workload).expect("evaluated before");
    let mut report = format!(
        "the engines disagree on workload {} (tenant {}, classification {}, rules {:?})\n",
        decision.workload,
        workload.spec.tenant,
        workload.spec.classification,
        world
            .matching_rules(workload)
            .iter()
            .map(|rule| rule.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    );
    for site in ours_set.difference(&theirs_set) {
        report += &format!("  {site}: eligible for ours, not for Rego\n");
    }
    for site in theirs_set.difference(&ours_set) {
        let reasons: Vec<String> = decision
            .rejected
            .iter()
            .filter(|rejection| &&rejection.site == site)
            .flat_map(|rejection| rejection.reasons.iter())
            .map(|reason| format!("{}: {}", reason.code, reason.message))
            .collect();
        report += &format!("  {site}: eligible for Rego, rejected by ours: {reasons:?}\n");
    }
    for site in ours_set.symmetric_difference(&theirs_set) {
        if let Some(site) = world
            .sites
            .iter()
            .find(|candidate| candidate.metadata.name.as_deref() == Some(site.as_str()))
        {
            report += &format!(
                "  {}\n",
                serde_json::to_string(site).expect("a Site serializes")
            );
        }
    }
    report += &format!(
        "  workload: {}\n",
        serde_json::to_string(workload).expect("a Workload serializes")
    );
    panic!("{report}");
}

fn print_table(outcome: &Outcome) {
    let row = |engine: &str, stats: &Stats| {
        println!(
            "{engine:<34} {:>9} {:>13.0} {:>9.1} {:>9.1}",
            stats.decisions, stats.per_second, stats.p50_micros, stats.p99_micros
        );
    };
    println!(
        "{:<34} {:>9} {:>13} {:>9} {:>9}",
        "engine", "decisions", "decisions/s", "p50 µs", "p99 µs"
    );
    row("raw scan: eligible set only", &outcome.raw);
    row("ours: judge (compiled, reason codes)", &outcome.ours);
    row("ours: evaluate (judge + sentences)", &outcome.explained);
    row("ours: reference (plain, before)", &outcome.plain);
    let label = if outcome.stride > 1 {
        format!("regorus: eligible (1 in {})", outcome.stride)
    } else {
        "regorus: eligible only".to_owned()
    };
    row(&label, &outcome.rego);
    println!(
        "judge: {:.1}× regorus's throughput, {:.2}× the raw scan's time per decision",
        outcome.ratio(),
        outcome.raw_factor()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; unknown arguments are ignored.
    let quick = std::env::args().any(|argument| argument == "--quick")
        || std::env::var("SOBERANA_BENCH_QUICK")
            .is_ok_and(|value| !value.is_empty() && value != "0");
    let sizes: [(usize, usize); 3] = if quick {
        [(200, 10), (1_000, 50), (1_000, 200)]
    } else {
        [(10_000, 50), (10_000, 200), (100_000, 50)]
    };
    let rego_budget_secs = std::env::var("SOBERANA_BENCH_REGO_BUDGET_SECS")
        .ok()
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|secs| *secs > 0.0)
        .unwrap_or(REGO_BUDGET_SECS);
    println!(
        "placement_vs_rego{}: ours = soberana_core::placement::judge (compiled: hard filters with \
         reason codes, scores, spread), evaluate (judge + reason sentences) and reference::evaluate \
         (the plain evaluation); raw scan = the hard filters as one loop (eligible set only); \
         Rego = regorus {RULE} (hard filters only). Timed per decision; Rego set_input() + eval_rule().",
        if quick { " (quick)" } else { "" }
    );
    println!(
        "machine: {} CPUs available; load average before the run: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .map_or_else(|_| "unknown".to_owned(), |load| load.trim().to_owned())
    );

    let mut engine = regorus::Engine::new();
    engine
        .add_policy("eligibility.rego".to_owned(), POLICY.to_owned())
        .unwrap_or_else(|error| panic!("eligibility.rego: {error}"));

    let mut covered = 0u32;
    let outcomes: Vec<Outcome> = sizes
        .iter()
        .map(|&(workloads, sites)| {
            run_size(
                workloads,
                sites,
                &mut engine,
                rego_budget_secs,
                &mut covered,
            )
        })
        .collect();

    // Every filter must have decided some site on its own, or the agreement proves little.
    let missing: Vec<String> = ReasonCode::ALL
        .iter()
        .enumerate()
        .filter(|(position, _)| covered & (1 << position) == 0)
        .map(|(_, code)| code.to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "no site was rejected by these filters alone, so the agreement check does not cover them: {missing:?}"
    );
    println!(
        "\ncoverage: each of the {} hard filters was, for some workload and site, the only reason for a rejection \
         (among the workloads on which the raw scan, and for its sample regorus, agreed with the engine)",
        ReasonCode::ALL.len()
    );

    println!("\n== summary (per decision: decisions/s, p99 µs) ==");
    println!(
        "{:>9} {:>5} {:>18} {:>18} {:>18} {:>18} {:>18} {:>9} {:>8}",
        "workloads",
        "sites",
        "raw scan",
        "judge",
        "evaluate",
        "reference",
        "regorus",
        "×regorus",
        "×raw"
    );
    let cell = |stats: &Stats| format!("{:>9.0} {:>8.1}", stats.per_second, stats.p99_micros);
    for outcome in &outcomes {
        println!(
            "{:>9} {:>5} {:>18} {:>18} {:>18} {:>18} {:>18} {:>8.0}× {:>7.2}×{}",
            outcome.workloads,
            outcome.sites,
            cell(&outcome.raw),
            cell(&outcome.ours),
            cell(&outcome.explained),
            cell(&outcome.plain),
            cell(&outcome.rego),
            outcome.ratio(),
            outcome.raw_factor(),
            if outcome.stride > 1 {
                format!("  (regorus on 1 in {} workloads)", outcome.stride)
            } else {
                String::new()
            }
        );
    }
    if let Some(goal) = outcomes
        .iter()
        .find(|outcome| outcome.sites == GOAL_SITES && outcome.workloads == GOAL_WORKLOADS)
    {
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        println!(
            "\ngoals at {GOAL_WORKLOADS} × {GOAL_SITES} for judge: ≤ {GOAL_RAW_FACTOR}× the raw scan: {} ({:.2}×); \
             p99 ≤ {GOAL_P99_MICROS} µs: {} ({:.1} µs); ≥ {GOAL_RATIO}× regorus: {} ({:.0}×)",
            verdict(goal.raw_factor() <= GOAL_RAW_FACTOR),
            goal.raw_factor(),
            verdict(goal.ours.p99_micros <= GOAL_P99_MICROS),
            goal.ours.p99_micros,
            verdict(goal.ratio() >= GOAL_RATIO),
            goal.ratio()
        );
    }
    println!(
        "note: judge computes the whole decision (eligible set, reason codes for every rejected site, \
         scores, spread, chosen sites) while Rego computes only the eligible set, from inputs whose \
         rules were matched beforehand, and the raw scan only the eligible set: both ratios are conservative."
    );
}
