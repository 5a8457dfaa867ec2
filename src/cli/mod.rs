//! The command-line interface: clap types and one function per subcommand. The binary calls
//! [`main`]; every error becomes one line on stderr and exit code 2.

use crate::Error;
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
    },
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
        } => run(experiment, out, !quiet),
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
            println!("wrote {n} cases of {scenario} (seed {seed}); manifest {}", manifest.display());
            Ok(())
        }
    }
}

fn run(experiment: &std::path::Path, out: &std::path::Path, progress: bool) -> Result<(), Error> {
    let outcome = crate::runner::run(&crate::runner::RunOptions {
        experiment: experiment.to_path_buf(),
        out: out.to_path_buf(),
        progress,
    })?;
    let r = &outcome.report;
    println!(
        "{}: {} cases ({} positive), {} cells computed, {} reused",
        r.experiment["name"].as_str().unwrap_or(""),
        r.cohort.n_cases,
        r.cohort.n_positive,
        outcome.cells_computed,
        outcome.cells_reused
    );
    for m in &r.models {
        println!(
            "  {:<24} AUC {:.3} ({:.0}% CI {:.3}–{:.3}, DeLong)",
            m.id,
            m.auc,
            m.ci_level * 100.0,
            m.auc_ci_delong[0],
            m.auc_ci_delong[1]
        );
    }
    for c in &r.comparisons {
        println!(
            "  {} vs {}: ΔAUC {:+.3} ({:.3}–{:.3}), p = {}",
            c.a,
            c.b,
            c.auc_difference,
            c.ci[0],
            c.ci[1],
            crate::report::tables::p_value(c.p)
        );
    }
    println!("report: {}", outcome.report_dir.display());
    Ok(())
}

fn verify(file: &std::path::Path) -> Result<(), Error> {
    let manifest = crate::data::manifest::Manifest::load(file)?;
    let report = crate::data::manifest::verify(&manifest);
    if report.is_ok() {
        println!("{}: every file matches its SHA-256", file.display());
        Ok(())
    } else {
        eprint!("{report}");
        Err(Error::Usage(format!(
            "{}: verification failed (files listed above)",
            file.display()
        )))
    }
}
