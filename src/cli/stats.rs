//! `radbench stats`: re-analyse a CSV of predictions without an experiment.
//!
//! Principal items: [`StatsArgs`] (clap), [`run`] (prints the result), [`render`] (returns it),
//! [`StatsError`] (bad input, each naming the column and row). Modes: binary (one label with
//! two values, `--scores A,B,…`: AUC + DeLong, bootstrap, AP, Brier, paired comparisons, DCA),
//! multi-class (a label with more values and one probability column per class: OvR AUCs with
//! DeLong CIs, macro/weighted AUC, Hand–Till M, confusion matrix) and `survival` (Kaplan–Meier
//! medians with CIs, log-rank). The statistics are [`crate::eval`]'s; the CSV is read with
//! polars, every column as text, so that each bad cell can be reported by row.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use crate::eval::EvalError;

mod binary;
mod markdown;
mod multiclass;
mod survival;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// One JSON object (stable key order).
    #[default]
    Json,
    /// Markdown tables.
    Md,
}

/// Which way the scores point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DirectionArg {
    /// Higher score = positive class (probabilities).
    #[default]
    Higher,
    /// Lower score = positive class.
    Lower,
}

/// `radbench stats [survival] ...`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StatsArgs {
    /// Survival mode instead of classification.
    #[command(subcommand)]
    pub mode: Option<StatsMode>,
    /// CSV file of predictions, one row per case.
    #[arg(long, required = true)]
    pub input: Option<PathBuf>,
    /// Column holding the true label.
    #[arg(long, required = true)]
    pub label: Option<String>,
    /// Label value of the positive class (binary labels).
    #[arg(long)]
    pub positive: Option<String>,
    /// Score columns, comma-separated (multi-class: one probability column per class).
    #[arg(long, required = true, value_delimiter = ',')]
    pub scores: Vec<String>,
    /// Multi-class: the label value each score column stands for, in the order of --scores.
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,
    /// Which way the scores point; never guessed.
    #[arg(long, value_enum, default_value_t = DirectionArg::Higher)]
    pub direction: DirectionArg,
    /// Stratified bootstrap replicates (0 = no bootstrap).
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Decision-curve thresholds FROM:TO:STEP, e.g. 0.01:0.99:0.01.
    #[arg(long)]
    pub dca: Option<String>,
    /// Confidence level of every interval.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Also report threshold metrics (sensitivity, specificity, …) at this score threshold.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Sub-modes of `radbench stats`.
#[derive(Debug, Clone, Subcommand)]
pub enum StatsMode {
    /// Kaplan–Meier medians with CIs per group and the log-rank test.
    Survival(SurvivalArgs),
}

/// `radbench stats survival ...`.
#[derive(Debug, Clone, Args)]
pub struct SurvivalArgs {
    /// CSV file, one row per patient.
    #[arg(long)]
    pub input: PathBuf,
    /// Column with the follow-up time (≥ 0).
    #[arg(long)]
    pub time: String,
    /// Column with the event indicator (1/0, true/false, yes/no).
    #[arg(long)]
    pub event: String,
    /// Column defining the groups (any values); omitted: one group.
    #[arg(long)]
    pub group: Option<String>,
    /// Split a numeric --group column at this value ("median" or a number): above vs at/below.
    #[arg(long)]
    pub split_at: Option<String>,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Bad input to `radbench stats`; every variant names the file, column or row at fault.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The CSV could not be read.
    #[error("{path}: cannot read CSV: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// First line of the reader's message.
        message: String,
    },
    /// A named column is absent.
    #[error("{path}: no column {column:?} (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The columns present, comma-separated.
        available: String,
    },
    /// An empty cell.
    #[error("column {column:?}, row {row}: missing value")]
    MissingValue {
        /// The column.
        column: String,
        /// 1-based data row (line row + 1 of the file).
        row: usize,
    },
    /// A cell that should be a number.
    #[error("column {column:?}, row {row}: {value:?} is not a number")]
    NotANumber {
        /// The column.
        column: String,
        /// 1-based data row.
        row: usize,
        /// The text found.
        value: String,
    },
    /// A NaN or infinite score.
    #[error("column {column:?}, row {row}: {value} is not a finite number")]
    NotFinite {
        /// The column.
        column: String,
        /// 1-based data row.
        row: usize,
        /// The value found.
        value: String,
    },
    /// The label column has a single value.
    #[error("label column {column:?} has only one value ({value:?}); need cases and controls")]
    OneClass {
        /// The label column.
        column: String,
        /// Its only value.
        value: String,
    },
    /// A binary label without `--positive`, or with a value that is not there.
    #[error(
        "label column {column:?} has values {values}; say which is positive with --positive VALUE{given}"
    )]
    Positive {
        /// The label column.
        column: String,
        /// The values present.
        values: String,
        /// What was given, if anything.
        given: String,
    },
    /// Fewer than two observations in a class.
    #[error(
        "label column {column:?}: class {class:?} has {count} row(s); need at least 2 per class"
    )]
    TooFewPerClass {
        /// The label column.
        column: String,
        /// The class value.
        class: String,
        /// Its rows.
        count: usize,
    },
    /// A score column with one value only.
    #[error("score column {column:?} is constant ({value} in every row); it cannot rank cases")]
    ConstantScore {
        /// The score column.
        column: String,
        /// The value.
        value: f64,
    },
    /// A malformed option value.
    #[error("{option}: {message}")]
    BadOption {
        /// The option, e.g. "--dca".
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A survival time below zero.
    #[error("column {column:?}, row {row}: survival time {value} is negative")]
    NegativeTime {
        /// The time column.
        column: String,
        /// 1-based data row.
        row: usize,
        /// The time.
        value: f64,
    },
    /// A statistic failed on one score column.
    #[error("{context}: {source}")]
    Eval {
        /// The column or comparison.
        context: String,
        /// The statistics error.
        source: EvalError,
    },
}

impl StatsError {
    fn eval(context: impl Into<String>) -> impl FnOnce(EvalError) -> StatsError {
        let context = context.into();
        move |source| StatsError::Eval { context, source }
    }
}

/// A CSV read as text: column names and, per column, the cells (`None` = empty).
pub(crate) struct TextTable {
    path: PathBuf,
    names: Vec<String>,
    columns: Vec<Vec<Option<String>>>,
}

impl TextTable {
    /// Reads every column as text (no type inference), so that each cell is checked here.
    pub(crate) fn read(path: &Path) -> Result<Self, StatsError> {
        use polars::prelude::{CsvReadOptions, SerReader};
        let csv_error = |e: polars::prelude::PolarsError| StatsError::Csv {
            path: path.to_path_buf(),
            message: e
                .to_string()
                .lines()
                .next()
                .unwrap_or("unknown error")
                .to_string(),
        };
        if !path.is_file() {
            return Err(StatsError::Csv {
                path: path.to_path_buf(),
                message: "no such file".into(),
            });
        }
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .map_err(csv_error)?
            .finish()
            .map_err(csv_error)?;
        let mut names = Vec::new();
        let mut columns = Vec::new();
        for column in df.columns() {
            let text = column.str().map_err(csv_error)?;
            names.push(column.name().to_string());
            columns.push(text.iter().map(|c| c.map(str::to_string)).collect());
        }
        Ok(Self {
            path: path.to_path_buf(),
            names,
            columns,
        })
    }

    fn column(&self, name: &str) -> Result<&[Option<String>], StatsError> {
        match self.names.iter().position(|n| n == name) {
            Some(j) => Ok(&self.columns[j]),
            None => Err(StatsError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
                available: self.names.join(", "),
            }),
        }
    }

    /// The cells of a column as text, each required.
    pub(crate) fn text(&self, name: &str) -> Result<Vec<String>, StatsError> {
        self.column(name)?
            .iter()
            .enumerate()
            .map(|(r, c)| match c.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() && v != "NA" => Ok(v.to_string()),
                _ => Err(StatsError::MissingValue {
                    column: name.to_string(),
                    row: r + 1,
                }),
            })
            .collect()
    }

    /// The cells of a column as finite numbers.
    pub(crate) fn numbers(&self, name: &str) -> Result<Vec<f64>, StatsError> {
        self.text(name)?
            .into_iter()
            .enumerate()
            .map(|(r, v)| {
                let x: f64 = v.parse().map_err(|_| StatsError::NotANumber {
                    column: name.to_string(),
                    row: r + 1,
                    value: v.clone(),
                })?;
                if x.is_finite() {
                    Ok(x)
                } else {
                    Err(StatsError::NotFinite {
                        column: name.to_string(),
                        row: r + 1,
                        value: v,
                    })
                }
            })
            .collect()
    }
}

/// Parses `FROM:TO:STEP` into a threshold grid.
pub(crate) fn parse_dca(spec: &str) -> Result<Vec<f64>, StatsError> {
    let bad = |message: String| StatsError::BadOption {
        option: "--dca",
        message,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let [from, to, step] = parts.as_slice() else {
        return Err(bad(format!("{spec:?} is not FROM:TO:STEP")));
    };
    let num = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|_| bad(format!("{s:?} is not a number")))
    };
    crate::eval::dca::threshold_grid(num(from)?, num(to)?, num(step)?)
        .map_err(|e| bad(e.to_string()))
}

/// Computes the requested analysis and returns it as text (JSON or Markdown).
pub fn render(args: &StatsArgs) -> Result<String, StatsError> {
    if let Some(StatsMode::Survival(s)) = &args.mode {
        return survival::render(s);
    }
    let missing = |what: &'static str| StatsError::BadOption {
        option: what,
        message: "is required".into(),
    };
    let input = args.input.as_deref().ok_or_else(|| missing("--input"))?;
    let label = args.label.as_deref().ok_or_else(|| missing("--label"))?;
    if args.scores.is_empty() {
        return Err(missing("--scores"));
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        return Err(StatsError::BadOption {
            option: "--level",
            message: format!("{} is not in (0, 1)", args.level),
        });
    }
    let table = TextTable::read(input)?;
    let labels = table.text(label)?;
    let distinct: std::collections::BTreeSet<&str> = labels.iter().map(String::as_str).collect();
    match distinct.len() {
        0 | 1 => Err(StatsError::OneClass {
            column: label.to_string(),
            value: distinct.first().map_or(String::new(), |v| v.to_string()),
        }),
        2 if args.classes.is_empty() => binary::render(args, &table, label, &labels),
        _ => multiclass::render(args, &table, label, &labels),
    }
}

/// Runs `radbench stats` and prints the result on stdout.
pub fn run(args: &StatsArgs) -> Result<(), crate::Error> {
    let text = render(args)?;
    println!("{text}");
    Ok(())
}

/// Serialises a report as pretty JSON (serde_json writes non-finite numbers as null).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
