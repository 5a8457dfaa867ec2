//! NRRD image reading (the format of pyradiomics' test cases).
//!
//! Principal items: [`read_nrrd`] (any supported volume → [`NrrdVolume`]), [`read_image`] and
//! [`read_mask`] (→ [`Image`] / [`Mask`] on an LPS [`Grid`]), [`NrrdError`].
//!
//! Reference: the NRRD format specification (teem.sourceforge.net/nrrd/format.html) and ITK's
//! `NrrdImageIO`, which SimpleITK (and so pyradiomics) uses: spacing is the norm of each
//! `space directions` vector, direction the unit vector, and RAS/LAS spaces are turned into LPS
//! by negating the flipped axes. Supported: dimension 2 or 3, attached data, encodings `raw`,
//! `gzip`/`gz` and `ascii`/`text`, little or big endian, 8/16/32/64-bit integers and
//! `float`/`double`. Other encodings, detached data and non-spatial axes are errors.

use std::path::{Path, PathBuf};

use crate::data::image::{Grid, Image, Mask};

mod header;
mod samples;
#[cfg(test)]
mod tests;

use header::{Header, header_error, parse_header, split_header};
use samples::{Samples, decode_data, label_of, samples_to_f64, samples_to_labels};

/// Errors from reading an NRRD file; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NrrdError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header is malformed or has a value radbench cannot use.
    #[error("{path}: NRRD header field {field:?}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header field at fault (or "magic" for the first line).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The header is valid NRRD but asks for something radbench does not read.
    #[error("{path}: unsupported NRRD {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported, with its value.
        what: String,
    },
    /// The data section is shorter or longer than the header promises, or does not decode.
    #[error("{path}: NRRD data {reason}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A mask holds a value that is not a label 0..=255.
    #[error("{path}: mask value {value} at voxel index {index} is not an integer label in 0..=255")]
    MaskValue {
        /// The file.
        path: PathBuf,
        /// Linear voxel index (i fastest).
        index: usize,
        /// The value found.
        value: f64,
    },
}

/// A decoded NRRD volume: geometry plus voxel values converted to f64 (every supported type up
/// to 32 bits converts exactly; 64-bit integers beyond 2^53 are rounded).
#[derive(Debug, Clone, PartialEq)]
pub struct NrrdVolume {
    /// Geometry in LPS.
    pub grid: Grid,
    /// Voxel values, i fastest.
    pub voxels: Vec<f64>,
    /// The NRRD `type` as written in the header, normalised (`int16`, `float`, ...).
    pub sample_type: &'static str,
}

/// Reads an NRRD file with its geometry.
pub fn read_nrrd(path: &Path) -> Result<NrrdVolume, NrrdError> {
    parse_nrrd(&read_file(path)?, path)
}

fn read_file(path: &Path) -> Result<Vec<u8>, NrrdError> {
    std::fs::read(path).map_err(|source| NrrdError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an NRRD image (any supported sample type) as an [`Image`].
pub fn read_image(path: &Path) -> Result<Image, NrrdError> {
    let volume = read_nrrd(path)?;
    Ok(Image {
        grid: volume.grid,
        voxels: volume.voxels,
    })
}

/// Reads an NRRD label map as a [`Mask`]; every value must be an integer in 0..=255.
pub fn read_mask(path: &Path) -> Result<Mask, NrrdError> {
    parse_mask(&read_file(path)?, path)
}

/// Parses a whole NRRD label map held in memory (see [`read_mask`]).
pub fn parse_mask(bytes: &[u8], path: &Path) -> Result<Mask, NrrdError> {
    let (header, grid, samples) = parse_parts(bytes, path)?;
    let labels = match samples {
        Samples::Text(values) => values
            .iter()
            .enumerate()
            .map(|(index, &value)| label_of(value, index, path))
            .collect::<Result<Vec<u8>, _>>()?,
        Samples::Bytes(raw) => {
            samples_to_labels(&raw, header.sample_type, header.big_endian, path)?
        }
    };
    Ok(Mask {
        grid,
        voxels: labels,
    })
}

/// Parses a whole NRRD file held in memory; `path` only names it in errors.
pub fn parse_nrrd(bytes: &[u8], path: &Path) -> Result<NrrdVolume, NrrdError> {
    let (header, grid, samples) = parse_parts(bytes, path)?;
    let voxels = match samples {
        Samples::Text(values) => values,
        Samples::Bytes(raw) => samples_to_f64(&raw, header.sample_type, header.big_endian),
    };
    Ok(NrrdVolume {
        grid,
        voxels,
        sample_type: header.sample_type.name(),
    })
}

/// Header, grid and undecoded samples of an NRRD file.
fn parse_parts<'a>(bytes: &'a [u8], path: &Path) -> Result<(Header, Grid, Samples<'a>), NrrdError> {
    let (header_text, data) = split_header(bytes, path)?;
    let header = parse_header(&header_text, path)?;
    let voxel_count = header
        .sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| header_error(path, "sizes", "the voxel count overflows"))?;
    let samples = decode_data(&header, data, voxel_count, path)?;
    let grid = build_grid(&header, path)?;
    Ok((header, grid, samples))
}

fn build_grid(header: &Header, path: &Path) -> Result<Grid, NrrdError> {
    let mut dims = [1usize; 3];
    dims[..header.sizes.len()].copy_from_slice(&header.sizes);
    let mut spacing = [1.0; 3];
    let mut direction = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut origin = header.origin;
    if let Some(vectors) = &header.directions {
        for (axis, vector) in vectors.iter().enumerate() {
            let norm = vector.iter().map(|c| c * c).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(header_error(
                    path,
                    "space directions",
                    format!("axis {axis} has length {norm}"),
                ));
            }
            spacing[axis] = norm;
            for row in 0..3 {
                direction[row][axis] = vector[row] / norm;
            }
        }
        if vectors.len() == 2 {
            // A 2-D image in 3-D space: the third axis is the normal of the first two.
            let a = [direction[0][0], direction[1][0], direction[2][0]];
            let b = [direction[0][1], direction[1][1], direction[2][1]];
            let n = [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ];
            for row in 0..3 {
                direction[row][2] = n[row];
            }
        }
    } else if let Some(values) = &header.spacings {
        for (axis, &s) in values.iter().enumerate() {
            if s.is_finite() && s > 0.0 {
                spacing[axis] = s;
            } else if !s.is_nan() {
                return Err(header_error(
                    path,
                    "spacings",
                    format!("axis {axis} is {s}"),
                ));
            }
        }
    }
    for (axis, &flipped) in header.flip.iter().enumerate() {
        if flipped {
            origin[axis] = -origin[axis];
            for cosine in direction[axis].iter_mut() {
                *cosine = -*cosine;
            }
        }
    }
    Ok(Grid {
        dims,
        spacing,
        origin,
        direction,
    })
}
