//! Checking every file of a manifest against its SHA-256.

use super::{Manifest, ManifestSource};
use crate::data::DataError;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// SHA-256 of a file, lowercase hex, read in 64 KiB chunks.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => hasher.update(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::io(path, e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of bytes in memory, lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What is wrong with one file of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    /// The file does not exist.
    Missing,
    /// The file exists but could not be read.
    Unreadable(String),
    /// The file's SHA-256 differs from the manifest's.
    Mismatch {
        /// The hash in the manifest.
        expected: String,
        /// The hash of the file on disk.
        actual: String,
    },
}

/// One failing file: its case, its role in the case and its path.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    /// The case id.
    pub case: String,
    /// `image`, `mask` or `channel <name>`.
    pub role: String,
    /// The resolved path.
    pub path: PathBuf,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (case {}, {}): ",
            self.path.display(),
            self.case,
            self.role
        )?;
        match &self.kind {
            ProblemKind::Missing => write!(f, "missing"),
            ProblemKind::Unreadable(reason) => write!(f, "unreadable: {reason}"),
            ProblemKind::Mismatch { expected, actual } => {
                write!(f, "SHA-256 mismatch: expected {expected}, found {actual}")
            }
        }
    }
}

/// The outcome of [`verify`]: how many files were checked and every one that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    /// The manifest file.
    pub manifest: PathBuf,
    /// Number of files checked.
    pub checked: usize,
    /// Failing files, in manifest order.
    pub problems: Vec<FileProblem>,
}

impl VerifyReport {
    /// True when every file is present with the expected hash.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok` when every file verifies, else a [`DataError::Verification`] listing the failures.
    pub fn into_result(self) -> Result<(), DataError> {
        if self.is_ok() {
            return Ok(());
        }
        let details: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        Err(DataError::Verification {
            manifest: self.manifest,
            count: self.problems.len(),
            details: details.join("; "),
        })
    }
}

impl fmt::Display for VerifyReport {
    /// One line per failing file; a single summary line when all files verify.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "{}: all {} file(s) verified",
                self.manifest.display(),
                self.checked
            );
        }
        for (n, problem) in self.problems.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Hashes every file of a file manifest (in parallel) and lists each missing or mismatching
/// one. A synthetic manifest has no files yet: its report is empty and ok.
pub fn verify(manifest: &Manifest) -> VerifyReport {
    let files: Vec<(&str, String, &super::FileRef)> = match &manifest.source {
        ManifestSource::Files(cases) => cases
            .iter()
            .flat_map(|case| {
                case.files()
                    .into_iter()
                    .map(move |(role, file)| (case.id.as_str(), role, file))
            })
            .collect(),
        ManifestSource::Synthetic { .. } => Vec::new(),
        ManifestSource::MedMnist(m) => vec![("(all cases)", "npz".to_string(), &m.file)],
    };
    let problems: Vec<FileProblem> = files
        .par_iter()
        .filter_map(|&(case, ref role, file)| {
            let kind = match sha256_file(&file.path) {
                Ok(actual) if actual == file.sha256 => return None,
                Ok(actual) => ProblemKind::Mismatch {
                    expected: file.sha256.clone(),
                    actual,
                },
                Err(DataError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    ProblemKind::Missing
                }
                Err(DataError::Io { source, .. }) => ProblemKind::Unreadable(source.to_string()),
                Err(other) => ProblemKind::Unreadable(other.to_string()),
            };
            Some(FileProblem {
                case: case.to_string(),
                role: role.clone(),
                path: file.path.clone(),
                kind,
            })
        })
        .collect();
    VerifyReport {
        manifest: manifest.path.clone(),
        checked: files.len(),
        problems,
    }
}
