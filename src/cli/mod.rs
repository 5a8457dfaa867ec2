//! The command-line interface: clap types and one function per subcommand. The binary calls
//! [`main`]; every error becomes one line on stderr and exit code 2.

pub mod bench_compare;
mod cluster;
pub mod diff;
pub mod extract;
pub mod stats;

use crate::Error;
use crate::runner::{Mode, RunOptions};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// radbench: reproducible radiomics / CNN / fusion benchmarks.
#[derive(Debug, Parser)]
#[command(name = "radbench", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment file and write its versioned report.
    Run {
        /// The experiment file (TOML).
        experiment: PathBuf,
        /// Root folder of reports.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
        /// Cell cache (default `<out>/.cache`); shared by the shards of a cluster run.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Compute only shard INDEX/COUNT of the cells into the cache; write no report.
        #[arg(long, value_name = "INDEX/COUNT")]
        shard: Option<crate::runner::shard::Shard>,
    },
    /// Split an experiment into shards and write a Slurm job array + merge job for them.
    Plan {
        /// The experiment file (TOML).
        experiment: PathBuf,
        /// Number of shards (array tasks).
        #[arg(long)]
        shards: usize,
        /// Shared cell cache; the plan and the batch scripts are written there too.
        #[arg(long)]
        cache: PathBuf,
        /// Root folder of reports for the merge job.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// Write the report of a planned experiment from the cells its shards stored.
    Merge {
        /// The cache folder given to `radbench plan`.
        cache: PathBuf,
        /// Write a report marked partial when cells are missing, instead of failing.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Re-analyse a CSV of predictions: AUC with DeLong and bootstrap CIs, paired tests, DCA,
    /// calibration; multi-class and survival modes.
    Stats(Box<stats::StatsArgs>),
    /// Extract radiomics from an image and mask (NRRD or NIfTI) with pyradiomics settings.
    Extract(Box<extract::ExtractArgs>),
    /// Compare two reports: a Markdown table of every metric that changed.
    Diff(diff::DiffArgs),
    /// Compare two saved criterion baselines; flag changes beyond the machine's noise.
    BenchCompare(bench_compare::BenchCompareArgs),
    /// Work with cohort manifests.
    Manifest {
        /// What to do.
        #[command(subcommand)]
        action: ManifestAction,
    },
    /// Write a built-in synthetic cohort (NIfTI images, masks and a manifest).
    Synth {
        /// Scenario name (e.g. `lesion-ct`).
        scenario: String,
        /// Number of cases.
        #[arg(long)]
        n: usize,
        /// Seed.
        #[arg(long)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `radbench manifest ...`.
#[derive(Debug, Subcommand)]
pub enum ManifestAction {
    /// Check the SHA-256 of every file a manifest lists.
    Verify {
        /// The manifest file.
        file: PathBuf,
    },
}

/// Parses the command line, runs it, and maps errors to exit code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(&cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // Differences found are an answer, not a failure of radbench: exit 1, as diff(1).
        Err(e @ (Error::ReportsDiffer(_) | Error::BenchRegressed(_))) => {
            eprintln!("radbench: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("radbench: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one parsed command.
pub fn dispatch(command: &Command) -> Result<(), Error> {
    match command {
        Command::Run {
            experiment,
            out,
            quiet,
            cache,
            shard,
        } => {
            let mode = match shard {
                Some(s) => Mode::Shard(*s),
                None => Mode::Full,
            };
            run(&RunOptions {
                experiment: experiment.clone(),
                out: out.clone(),
                cache: cache.clone(),
                progress: !quiet,
                mode,
            })
        }
        Command::Plan {
            experiment,
            shards,
            cache,
            out,
        } => cluster::plan(experiment, *shards, cache, out),
        Command::Merge {
            cache,
            allow_partial,
        } => {
            let plan = cluster::read_plan(cache)?;
            run(&RunOptions {
                experiment: plan.experiment,
                out: plan.out,
                cache: Some(cache.clone()),
                progress: true,
                mode: Mode::Merge {
                    allow_partial: *allow_partial,
                },
            })
        }
        Command::Stats(args) => stats::run(args),
        Command::Diff(args) => diff::run(args),
        Command::BenchCompare(args) => bench_compare::run(args),
        Command::Extract(args) => extract::run(args),
        Command::Manifest {
            action: ManifestAction::Verify { file },
        } => verify(file),
        Command::Synth {
            scenario,
            n,
            seed,
            out,
        } => {
            let manifest = crate::data::synth::write_synthetic_cohort(scenario, *n, *seed, out)?;
            println!(
                "wrote {n} cases of {scenario} (seed {seed}); manifest {}",
                manifest.display()
            );
            Ok(())
        }
    }
}

fn run(opts: &RunOptions) -> Result<(), Error> {
    let outcome = crate::runner::run(opts)?;
    let Some((report_dir, r)) = &outcome.report else {
        println!(
            "shard done: {} cells planned, {} computed, {} reused",
            outcome.cells_planned, outcome.cells_computed, outcome.cells_reused
        );
        return Ok(());
    };
    let counts: Vec<String> = r
        .cohort
        .classes
        .iter()
        .zip(&r.cohort.per_class)
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    println!(
        "{}: {} cases ({}), {} cells computed, {} reused",
        r.experiment["name"].as_str().unwrap_or(""),
        r.cohort.n_cases,
        counts.join(", "),
        outcome.cells_computed,
        outcome.cells_reused
    );
    if !outcome.cells_missing.is_empty() {
        println!(
            "  PARTIAL report: {} cells missing ({})",
            outcome.cells_missing.len(),
            outcome.cells_missing.join(", ")
        );
    }
    for m in &r.models {
        match m.auc_ci_delong {
            Some(ci) => println!(
                "  {:<24} AUC {:.3} ({:.0}% CI {:.3}–{:.3}, DeLong)",
                m.id,
                m.auc,
                m.ci_level * 100.0,
                ci[0],
                ci[1]
            ),
            None => println!("  {:<24} macro one-vs-rest AUC {:.3}", m.id, m.auc),
        }
        if m.auc < 0.5 {
            println!(
                "  {:<24} note: AUC below 0.5 (worse than chance; never flipped)",
                ""
            );
        }
    }
    for c in &r.comparisons {
        println!(
            "  {} vs {}: ΔAUC {:+.3} ({:.3}–{:.3}), p {}",
            c.a,
            c.b,
            c.auc_difference,
            c.ci[0],
            c.ci[1],
            crate::report::tables::p_relation(c.p)
        );
    }
    println!("report: {}", report_dir.display());
    Ok(())
}

fn verify(file: &std::path::Path) -> Result<(), Error> {
    let manifest = crate::data::manifest::Manifest::load(file)?;
    let report = crate::data::manifest::verify(&manifest);
    if report.is_ok() {
        println!("{}: every file matches its SHA-256", file.display());
        Ok(())
    } else {
        eprintln!("{report}");
        Err(Error::Usage(format!(
            "{}: verification failed (files listed above)",
            file.display()
        )))
    }
}
