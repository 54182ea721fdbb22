//! `soberana`: the command line for security teams and migration tooling. Offline mode evaluates
//! placement from the same YAML users `kubectl apply`, for CI gates:
//! exit 0 when every workload can be placed, 1 when some cannot, 2 on bad input. The other
//! commands talk to the API (`--server`, a token issued for the API's audience from `--token`,
//! `SOBERANA_TOKEN`, or requested by the kubeconfig's ServiceAccount).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use soberana_cli::offline::evaluate::{Evaluated, evaluate_all};
use soberana_cli::offline::manifests::{InputError, load};
use soberana_cli::offline::report::{decisions_table, explanation, unplaceable_summary};
use soberana_cli::offline::slo_rules::{SloRulesArgs, slo_rules};
use soberana_cli::offline::what_if::what_if_files;
use soberana_cli::offline::what_if_report::impact_table;
use soberana_cli::remote::commands::{self as remote, Failure, Format as RemoteFormat};
use soberana_cli::remote::connection::Connection;
use soberana_cli::remote::what_if::what_if as what_if_remote;
use soberana_cli::sla::{SlaReportArgs, sla_report};
use soberana_core::placement::what_if::Impact;
use soberana_core::placement::{Decision, Outcome};
use soberana_core::residency::admission_policies::DEFAULT_SOBERANA_IDENTITY;
use soberana_core::residency::{SiteResidency, compile};

/// Soberana: where may government workloads run, and why.
#[derive(Debug, Parser)]
#[command(name = "soberana", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide where every Workload in the given files may run, offline.
    Evaluate {
        /// YAML files or directories with Sites, DataClassifications, PlacementRules, Tenants and Workloads.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print the full reasoning for one Workload: scores per criterion and every rejection.
    Explain {
        /// The Workload, as `name` or `namespace/name`.
        workload: String,
        /// YAML files or directories, as for `evaluate`.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// Output format (`table` prints the reasoning as text).
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// What a proposed policy change would do to every Workload and Tenant, before it is made:
    /// which would move, be stranded, become unplaceable or placeable, lose or gain eligible
    /// sites (with the reasons that changed), and which tenants would lose a site. Offline from
    /// files with -f; without -f, against the live data centre through the API (which needs
    /// `update` on each proposed object). Exit 0 when nothing would change, 1 when something
    /// would (or the call fails), 2 on bad input.
    WhatIf {
        /// The current estate: YAML files or directories with Sites, DataClassifications,
        /// PlacementRules, Tenants and Workloads, as for `evaluate`. Without it, the API is asked.
        #[arg(short = 'f', long = "filename", num_args = 1..)]
        files: Vec<PathBuf>,
        /// The proposed Sites, DataClassifications, PlacementRules and Tenants (files or
        /// directories): each replaces the current object of its kind and name, or is added.
        #[arg(long, required = true, num_args = 1..)]
        proposed: Vec<PathBuf>,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Plan a migration through the API: ranked sites, every rejected site's reasons, and
    /// capacity reserved on the chosen sites for --ttl seconds.
    Plan {
        /// A YAML file with one Workload (its namespace is the tenant namespace).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Seconds the reservation lasts unless the plan is submitted.
        #[arg(long, default_value_t = 600)]
        ttl: u64,
        /// Reuse to retry safely: the same id returns the first plan.
        #[arg(long)]
        request_id: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// Turn a plan into a Workload.
    Submit {
        plan_id: String,
        /// Name of the Workload to create.
        #[arg(long)]
        name: String,
        #[arg(long)]
        request_id: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// One migration, as namespace/name.
    Get {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// The migrations of a tenant namespace.
    List {
        #[arg(short = 'n', long)]
        namespace: String,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// Follow a migration live until it runs (exit 0) or cannot (exit 1).
    Watch {
        name: String,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// Cancel a migration: its Workload is deleted and its copies removed.
    Cancel {
        name: String,
        #[arg(long)]
        request_id: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// The sites and what each may host.
    Sites {
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// Interoperability agreements (DataExchanges) and where each stands: offline from files
    /// with -f (each Workload placed by the engine, each agreement judged as the operator
    /// would), or live through the API for one --tenant (which needs `list workloads` in that
    /// tenant's namespace). Exit 0, or 1 when an agreement is Refused, 2 on bad input.
    Exchanges {
        /// YAML files or directories with the estate and its DataExchanges; without it, the API
        /// is asked.
        #[arg(short = 'f', long = "filename", num_args = 1..)]
        files: Vec<PathBuf>,
        /// Only the agreements naming this tenant as provider or consumer (required live).
        #[arg(long)]
        tenant: Option<String>,
        /// Judge offline as at this time (RFC 3339) instead of now, e.g. to see what expires.
        #[arg(long)]
        at: Option<String>,
        #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// The tenants.
    Tenants {
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// The decision ledger: `audit list`, or `audit verify` to walk its hash chain.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print the admission policies that enforce residency inside one site's cluster, as YAML
    /// `kubectl apply -f -` accepts (the operator applies the same objects).
    Policies {
        /// The Site to compile for.
        #[arg(long)]
        site: String,
        /// YAML files or directories with the Site and the DataClassifications.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<PathBuf>,
        /// The user name Soberana's operator has on the site; only it may change tenant
        /// namespace labels.
        #[arg(long, default_value = DEFAULT_SOBERANA_IDENTITY)]
        soberana_identity: String,
    },
    /// Availability objectives as Prometheus rules: `slo rules`.
    Slo {
        #[command(subcommand)]
        action: SloAction,
    },
    /// Service level reports from Prometheus: `sla report`.
    Sla {
        #[command(subcommand)]
        action: SlaAction,
    },
}

#[derive(Debug, Subcommand)]
enum SloAction {
    /// Print the Prometheus rule file (recording rules, multi-window burn-rate alerts and
    /// Soberana's own alerts) for the objectives in the given files, offline.
    Rules(Box<SloRulesArgs>),
}

#[derive(Debug, Subcommand)]
enum SlaAction {
    /// Availability per site and per tenant workload over a window, against its target, with
    /// the error budget spent and left, read from Prometheus. Exit 1 when Prometheus cannot
    /// answer or has no Soberana series in the window.
    Report(Box<SlaReportArgs>),
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Every record.
    List {
        #[arg(short = 'o', long, value_enum, default_value_t = RemoteFormat::Table)]
        output: RemoteFormat,
    },
    /// Walk the chain; exit 1 naming the first broken link. With --checkpoint and --public-key,
    /// also check that the ledger still contains every signed checkpoint (a cut tail, a
    /// rewritten suffix or a restarted chain is then found too).
    Verify {
        /// A checkpoint file, or the directory of them (the API's --checkpoint-dir).
        #[arg(long, requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The Ed25519 public key (SPKI PEM) the API signs checkpoints with.
        #[arg(long, requires = "checkpoint")]
        public_key: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for the API's --ledger-signing-key (offline; never overwrites).
    Keygen {
        /// Where to write the private key (PKCS#8 PEM, mode 0600).
        #[arg(long)]
        private_key: PathBuf,
        /// Where to write the public key (SPKI PEM), for `audit verify --public-key`.
        #[arg(long)]
        public_key: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Yaml,
}

/// Exit codes for CI gates.
const ALL_PLACED: u8 = 0;
const SOME_UNPLACEABLE: u8 = 1;
const BAD_INPUT: u8 = 2;
/// `what-if`: nothing would change, or something would.
const NO_IMPACT: u8 = 0;
const IMPACT: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Evaluate { files, output } => run_evaluate(&files, output),
        Command::Explain {
            workload,
            files,
            output,
        } => run_explain(&workload, &files, output),
        Command::Policies {
            site,
            files,
            soberana_identity,
        } => run_policies(&site, &files, &soberana_identity),
        Command::WhatIf {
            files,
            proposed,
            output,
        } if !files.is_empty() => run_what_if(&files, &proposed, output),
        Command::Exchanges {
            files,
            tenant,
            at,
            output,
        } if !files.is_empty() => run_exchanges(&files, tenant.as_deref(), at.as_deref(), output),
        Command::Slo {
            action: SloAction::Rules(args),
        } => slo_rules(&args).map(|text| {
            print(&text);
            0
        }),
        Command::Sla {
            action: SlaAction::Report(args),
        } => return sla_report(&args),
        Command::Audit {
            action:
                AuditAction::Keygen {
                    private_key,
                    public_key,
                },
        } => run_keygen(&private_key, &public_key),
        remote_command => return run_remote(remote_command, &cli.connection),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Writes a fresh Ed25519 key pair, refusing to replace an existing file (a lost signing key
/// cannot be recovered, and a replaced one orphans every checkpoint it signed).
fn run_keygen(private_key: &Path, public_key: &Path) -> Result<u8, Vec<InputError>> {
    let mut secret = [0_u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|error| vec![InputError::new(None, format!("no randomness: {error}"))])?;
    let (private, public) = soberana_core::ledger::checkpoint::key_pair_pem(&secret)
        .map_err(|error| vec![InputError::new(None, error.to_string())])?;
    write_new(private_key, &private, 0o600)?;
    write_new(public_key, &public, 0o644)?;
    println!(
        "Wrote the signing key to {} (give it to soberana-api --ledger-signing-key; keep it out of etcd) and the public key to {} (for audit verify --public-key).",
        private_key.display(),
        public_key.display()
    );
    Ok(0)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Vec<InputError>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|error| {
            vec![InputError::new(
                None,
                format!("{}: {error}", path.display()),
            )]
        })?;
    file.write_all(text.as_bytes()).map_err(|error| {
        vec![InputError::new(
            None,
            format!("{}: {error}", path.display()),
        )]
    })
}

/// Runs a command against the API and turns its outcome into the exit code.
fn run_remote(command: Command, connection: &Connection) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome: Result<u8, Failure> = runtime.block_on(async {
        match command {
            Command::Plan {
                file,
                ttl,
                request_id,
                output,
            } => remote::plan(connection, &file, ttl, request_id, output).await,
            Command::Submit {
                plan_id,
                name,
                request_id,
                output,
            } => remote::submit(connection, &plan_id, &name, request_id, output).await,
            Command::Get { name, output } => remote::get(connection, &name, output).await,
            Command::List { namespace, output } => {
                remote::list(connection, &namespace, output).await
            }
            Command::Watch { name, output } => remote::watch(connection, &name, output).await,
            Command::Cancel {
                name,
                request_id,
                output,
            } => remote::cancel(connection, &name, request_id, output).await,
            Command::Sites { output } => remote::sites(connection, output).await,
            Command::Tenants { output } => remote::tenants(connection, output).await,
            Command::Exchanges { tenant, output, .. } => {
                exchanges_remote(connection, tenant, output).await
            }
            Command::Audit {
                action: AuditAction::List { output },
            } => remote::audit_list(connection, output).await,
            Command::Audit {
                action:
                    AuditAction::Verify {
                        checkpoint,
                        public_key,
                    },
            } => {
                let anchors =
                    checkpoint
                        .zip(public_key)
                        .map(|(checkpoints, public_key)| remote::Anchors {
                            checkpoints,
                            public_key,
                        });
                remote::audit_verify(connection, anchors.as_ref()).await
            }
            Command::Audit {
                action: AuditAction::Keygen { .. },
            } => Ok(0),
            Command::WhatIf {
                proposed, output, ..
            } => match what_if_remote(connection, &proposed).await {
                Ok(impact) => {
                    print_impact(&impact, output).map_err(|errors| input_failure(&errors))
                }
                Err(failure) => Err(failure),
            },
            // The offline commands (evaluate, explain, policies, slo, sla) never come here.
            _ => Ok(0),
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run_exchanges(
    files: &[PathBuf],
    tenant: Option<&str>,
    at: Option<&str>,
    output: Format,
) -> Result<u8, Vec<InputError>> {
    let now = match at {
        None => k8s_openapi::jiff::Timestamp::now(),
        Some(text) => text.parse().map_err(|error| {
            vec![InputError::new(
                None,
                format!("--at {text:?} is not an RFC 3339 time: {error}"),
            )]
        })?,
    };
    let rows = soberana_cli::offline::exchanges::judge_all(&load(files)?, tenant, now)?;
    match output {
        Format::Table => print(&soberana_cli::agreements::table(&rows)),
        Format::Json => print(&to_json(&rows)?),
        Format::Yaml => print(&to_yaml(&rows)?),
    }
    Ok(refusal_code(&rows))
}

/// Exit 1 when an agreement is refused, for CI gates.
fn refusal_code(rows: &[soberana_cli::agreements::AgreementRow]) -> u8 {
    u8::from(rows.iter().any(|row| row.state == "Refused"))
}

async fn exchanges_remote(
    connection: &Connection,
    tenant: Option<String>,
    output: Format,
) -> Result<u8, Failure> {
    let Some(tenant) = tenant else {
        return Err(Failure {
            message: "exchanges without -f asks the API for one tenant's agreements: pass --tenant <name>".to_owned(),
            code: BAD_INPUT,
        });
    };
    let rows = soberana_cli::remote::exchanges::list(connection, &tenant).await?;
    let text = match output {
        Format::Table => soberana_cli::agreements::table(&rows),
        Format::Json => to_json(&rows).map_err(|errors| input_failure(&errors))?,
        Format::Yaml => to_yaml(&rows).map_err(|errors| input_failure(&errors))?,
    };
    print(&text);
    Ok(refusal_code(&rows))
}

fn input_failure(errors: &[InputError]) -> Failure {
    Failure {
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        code: BAD_INPUT,
    }
}

fn run_evaluate(files: &[PathBuf], output: Format) -> Result<u8, Vec<InputError>> {
    let evaluated = evaluate_all(&load(files)?)?;
    let decisions: Vec<&Decision> = evaluated.iter().map(|item| &item.decision).collect();
    match output {
        Format::Table => {
            print(&decisions_table(&evaluated));
            let summary = unplaceable_summary(&evaluated);
            if !summary.is_empty() {
                print(&format!("\nUnplaceable:\n{summary}"));
            }
        }
        Format::Json => print(&to_json(&decisions)?),
        Format::Yaml => print(&to_yaml(&decisions)?),
    }
    Ok(exit_code(decisions.iter().copied()))
}

fn run_explain(wanted: &str, files: &[PathBuf], output: Format) -> Result<u8, Vec<InputError>> {
    let evaluated = evaluate_all(&load(files)?)?;
    let matches: Vec<&Evaluated> = evaluated
        .iter()
        .filter(|item| {
            let name = &item.decision.workload;
            name == wanted
                || name
                    .rsplit_once('/')
                    .is_some_and(|(_, short)| short == wanted)
        })
        .collect();
    let found = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(vec![InputError::new(
                None,
                format!("no Workload named {wanted:?} in the given files"),
            )]);
        }
        many => {
            let names: Vec<&str> = many
                .iter()
                .map(|item| item.decision.workload.as_str())
                .collect();
            let message = format!(
                "{wanted:?} names several Workloads ({}); use namespace/name",
                names.join(", ")
            );
            return Err(vec![InputError::new(None, message)]);
        }
    };
    match output {
        Format::Table => print(&explanation(found)),
        Format::Json => print(&to_json(&found.decision)?),
        Format::Yaml => print(&to_yaml(&found.decision)?),
    }
    Ok(exit_code(std::iter::once(&found.decision)))
}

fn run_policies(site: &str, files: &[PathBuf], identity: &str) -> Result<u8, Vec<InputError>> {
    let manifests = load(files)?;
    let Some(found) = manifests
        .sites
        .iter()
        .find(|candidate| candidate.metadata.name.as_deref() == Some(site))
    else {
        let known: Vec<&str> = manifests
            .sites
            .iter()
            .filter_map(|candidate| candidate.metadata.name.as_deref())
            .collect();
        return Err(vec![InputError::new(
            None,
            format!(
                "--site {site:?}: no such Site in the given files (sites: {})",
                known.join(", ")
            ),
        )]);
    };
    let residency = SiteResidency::new(found, &manifests.classifications)
        .map_err(|error| vec![InputError::new(None, error.to_string())])?;
    let compiled = compile(&residency, identity);
    let mut text = format!(
        "# Residency policies for site {site}, revision {}; it may host: {}\n",
        compiled.revision,
        if compiled.allowed.is_empty() {
            "nothing".to_owned()
        } else {
            compiled.allowed.join(", ")
        }
    );
    for object in &compiled.objects {
        text.push_str("---\n");
        text.push_str(&to_yaml(object)?);
    }
    print(&text);
    Ok(ALL_PLACED)
}

fn run_what_if(
    files: &[PathBuf],
    proposed: &[PathBuf],
    output: Format,
) -> Result<u8, Vec<InputError>> {
    print_impact(&what_if_files(files, proposed)?, output)
}

/// Prints a what-if's impact; its exit code says whether anything would change.
fn print_impact(impact: &Impact, output: Format) -> Result<u8, Vec<InputError>> {
    match output {
        Format::Table => print(&impact_table(impact)),
        Format::Json => print(&to_json(impact)?),
        Format::Yaml => print(&to_yaml(impact)?),
    }
    Ok(if impact.is_empty() { NO_IMPACT } else { IMPACT })
}

fn exit_code<'a>(decisions: impl IntoIterator<Item = &'a Decision>) -> u8 {
    if decisions
        .into_iter()
        .all(|decision| decision.outcome == Outcome::Placed)
    {
        ALL_PLACED
    } else {
        SOME_UNPLACEABLE
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Vec<InputError>> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|error| vec![InputError::new(None, format!("rendering JSON: {error}"))])
}

fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, Vec<InputError>> {
    serde_norway::to_string(value)
        .map_err(|error| vec![InputError::new(None, format!("rendering YAML: {error}"))])
}

/// Writes to standard output, ignoring a closed pipe (`soberana evaluate … | head`).
fn print(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}
