//! Experiment files: TOML in, a validated [`Experiment`] out.
//!
//! Two stages, as ripgrep's low/high arguments: [`raw`] mirrors the file with serde (unknown keys
//! denied), then [`Experiment::load`] checks meaning (split sizes, model kinds, comparisons) and
//! resolves paths relative to the experiment file. Every error names the file and line.

pub mod raw;

mod experiment;
pub mod mask_source;
pub mod operating_point;
pub mod published;
pub mod survival;

pub use experiment::{Experiment, ModelEntry, SplitKind, SplitSpec};

use std::path::PathBuf;

/// An experiment file that cannot be used; `Display` names the file, the line and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The experiment file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, a wrong type or misses a key.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The experiment file.
        path: PathBuf,
        /// 1-based line of the fault (0 when the whole file is at fault).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// The 1-based line holding byte `offset` of `source`.
pub(crate) fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where `key` is assigned in the table that starts at `span.start` (the table runs
/// to the next `[` header; toml's span of an array-of-tables entry may cover only its header),
/// or the table's first line when the key is not found.
pub(crate) fn line_of_key(source: &str, span: std::ops::Range<usize>, key: &str) -> usize {
    let start = span.start.min(source.len());
    let mut offset = start;
    for (n, line) in source[start..].split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if n > 0 && trimmed.starts_with('[') {
            break;
        }
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return line_of(source, offset);
        }
        offset += line.len();
    }
    line_of(source, start)
}
