//! [`DataError`]: every error of reading, verifying or generating cohort data (its own file so
//! that the image readers compile without the rest of the crate, as the fuzz targets do).

use std::path::PathBuf;

/// Errors from reading, verifying or generating cohort data. Each names the file or case at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `.npz` file that cannot be read: a truncated or corrupt zip, or arrays missing or of
    /// the wrong shape or dtype.
    #[error("{path}: cannot read npz: {reason}")]
    Npz {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An NRRD file could not be read.
    #[error(transparent)]
    Nrrd(#[from] super::nrrd::NrrdError),
    /// A cohort cannot be split as asked (too few cases of a class, say).
    #[error("cannot split the cohort: {0}")]
    Split(String),
    /// A NIfTI file ends before all its voxels.
    #[error("{path}: truncated: expected {expected} bytes of voxel data, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes of voxel data the header announces.
        expected: usize,
        /// Bytes present after the voxel offset.
        found: usize,
    },
    /// A `.gz` file whose gzip stream cannot be decoded.
    #[error("{path}: corrupt gzip stream: {reason}")]
    CorruptGzip {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// A NIfTI header that radbench cannot use (bad magic, dims <= 0, 4-D data ...).
    #[error("{path}: invalid NIfTI-1 header: {reason}")]
    NiftiHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A NIfTI datatype code outside the supported set.
    #[error(
        "{path}: unsupported NIfTI datatype {code} ({name}); radbench reads uint8, int8, int16, \
         uint16, int32, float32 and float64"
    )]
    UnsupportedDatatype {
        /// The file.
        path: PathBuf,
        /// The `datatype` header field.
        code: i16,
        /// The NIfTI name of that code, or "unknown".
        name: &'static str,
    },
    /// A mask voxel that is not an integer in 0..=255.
    #[error(
        "{path}: mask voxel ({i}, {j}, {k}) holds {value}; mask labels must be integers 0..=255"
    )]
    MaskValue {
        /// The file.
        path: PathBuf,
        /// Voxel index along i.
        i: usize,
        /// Voxel index along j.
        j: usize,
        /// Voxel index along k.
        k: usize,
        /// The offending value.
        value: f64,
    },
    /// An image that cannot be written as asked (a value the dtype cannot hold, say).
    #[error("{path}: cannot write NIfTI: {reason}")]
    NiftiWrite {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A manifest that does not parse or is invalid; `line` is 1-based.
    #[error("{path}:{line}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The line at fault (1 when the whole file is at fault).
        line: usize,
        /// What is wrong, with the valid keys where a key is unknown.
        message: String,
    },
    /// Files of a manifest that are missing or whose SHA-256 differs.
    #[error("{manifest}: {count} file(s) fail verification: {details}")]
    Verification {
        /// The manifest file.
        manifest: PathBuf,
        /// How many files fail.
        count: usize,
        /// One clause per failing file, separated by "; ".
        details: String,
    },
    /// A case whose mask grid differs from its image grid.
    #[error("case {case}: mask {mask} does not match image {image}: {detail}")]
    GridMismatch {
        /// The case id.
        case: String,
        /// The image file.
        image: PathBuf,
        /// The mask file.
        mask: PathBuf,
        /// The first difference (shape, spacing, origin or direction).
        detail: String,
    },
    /// A case whose mask has no voxel with the requested label.
    #[error("case {case}: mask {mask} has no voxel with label {label}")]
    EmptyMask {
        /// The case id.
        case: String,
        /// The mask file.
        mask: PathBuf,
        /// The label looked for.
        label: u8,
    },
    /// A case without the extra image channel asked for.
    #[error("case {case}: no channel `{channel}` in the manifest")]
    MissingChannel {
        /// The case id.
        case: String,
        /// The channel name asked for.
        channel: String,
    },
    /// A synthetic scenario name that is not registered.
    #[error("unknown synthetic scenario `{name}`; valid scenarios: {valid}")]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        valid: String,
    },
}

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
