//! NIfTI-1 reader and deterministic writer (`.nii` and `.nii.gz`).
//!
//! Principal items: [`read_image`], [`read_mask`], [`write_image`], [`write_mask`] and the
//! on-disk voxel type [`NiftiDtype`]. Reference: the NIfTI-1 header definition `nifti1.h`
//! (NIfTI Data Format Working Group, 2004) and the geometry rules of `nifti1_io.c`.
//!
//! Hand-written rather than taken from a crate so that output bytes and error messages are ours:
//!
//! - **Read**: single-file NIfTI-1 (`n+1`), either byte order, gzip detected by its magic bytes.
//!   Datatypes uint8, int8, int16, uint16, int32, float32, float64; `scl_slope`/`scl_inter` are
//!   applied when the slope is finite and non-zero. Geometry comes from the sform when
//!   `sform_code > 0`, else from the qform quaternion when `qform_code > 0`, else from `pixdim`
//!   alone (the "analyze" method, which SimpleITK reads as LPS identity at origin 0). Spacing
//!   is the length of each affine column (pixdim for the qform and pixdim methods), direction
//!   the normalised columns. NIfTI world space is RAS; we negate the first two rows of the
//!   affine to get LPS, so the [`Grid`] equals what SimpleITK reports for the same file
//!   (checked against SimpleITK 2 for sform, qform-only and pixdim-only files, rotated and
//!   reflected).
//! - **Write**: a 348-byte little-endian header, 4 zero extension bytes, voxels at offset 352;
//!   sform and qform both set (code 1, scanner) from the grid; `scl_slope = 1`, `scl_inter = 0`;
//!   gzip (when the path ends in `.gz`) at level 1 (fast) with mtime 0 and OS byte 255, so equal images
//!   give equal bytes on every machine. Integer dtypes refuse values they cannot hold exactly.

mod read;
mod write;

pub use read::decode_image;
pub use write::{encode_image, encode_mask};

use super::DataError;
use super::image::{Image, Mask};
use std::path::Path;

/// Size of a NIfTI-1 header in bytes.
const HEADER_LEN: usize = 348;
/// Voxel offset of the files we write: header plus a 4-byte empty extension block.
const WRITE_VOX_OFFSET: usize = 352;
/// gzip level of the files we write: fixed so that bytes never depend on a default, and low
/// because voxel noise barely compresses while unoptimised debug builds deflate slowly.
const GZIP_LEVEL: u32 = 1;

/// Voxel type of a NIfTI file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NiftiDtype {
    /// Unsigned 8-bit integer (code 2).
    U8,
    /// Signed 8-bit integer (code 256).
    I8,
    /// Signed 16-bit integer (code 4).
    I16,
    /// Unsigned 16-bit integer (code 512).
    U16,
    /// Signed 32-bit integer (code 8).
    I32,
    /// 32-bit float (code 16).
    F32,
    /// 64-bit float (code 64).
    F64,
}

impl NiftiDtype {
    /// Every supported dtype.
    pub const ALL: [NiftiDtype; 7] = [
        NiftiDtype::U8,
        NiftiDtype::I8,
        NiftiDtype::I16,
        NiftiDtype::U16,
        NiftiDtype::I32,
        NiftiDtype::F32,
        NiftiDtype::F64,
    ];

    /// The NIfTI `datatype` code.
    pub fn code(self) -> i16 {
        match self {
            NiftiDtype::U8 => 2,
            NiftiDtype::I8 => 256,
            NiftiDtype::I16 => 4,
            NiftiDtype::U16 => 512,
            NiftiDtype::I32 => 8,
            NiftiDtype::F32 => 16,
            NiftiDtype::F64 => 64,
        }
    }

    /// The dtype of a NIfTI `datatype` code, if supported.
    pub fn from_code(code: i16) -> Option<NiftiDtype> {
        NiftiDtype::ALL.into_iter().find(|d| d.code() == code)
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            NiftiDtype::U8 | NiftiDtype::I8 => 1,
            NiftiDtype::I16 | NiftiDtype::U16 => 2,
            NiftiDtype::I32 | NiftiDtype::F32 => 4,
            NiftiDtype::F64 => 8,
        }
    }

    /// Lowercase name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            NiftiDtype::U8 => "uint8",
            NiftiDtype::I8 => "int8",
            NiftiDtype::I16 => "int16",
            NiftiDtype::U16 => "uint16",
            NiftiDtype::I32 => "int32",
            NiftiDtype::F32 => "float32",
            NiftiDtype::F64 => "float64",
        }
    }

    /// The integer range the dtype holds exactly, or `None` for float dtypes.
    fn integer_range(self) -> Option<(f64, f64)> {
        match self {
            NiftiDtype::U8 => Some((0.0, 255.0)),
            NiftiDtype::I8 => Some((-128.0, 127.0)),
            NiftiDtype::I16 => Some((-32768.0, 32767.0)),
            NiftiDtype::U16 => Some((0.0, 65535.0)),
            NiftiDtype::I32 => Some((-2147483648.0, 2147483647.0)),
            NiftiDtype::F32 | NiftiDtype::F64 => None,
        }
    }
}

/// NIfTI names of datatype codes radbench does not read, for error messages.
fn unsupported_dtype_name(code: i16) -> &'static str {
    match code {
        1 => "binary",
        32 => "complex64",
        128 => "rgb24",
        768 => "uint32",
        1024 => "int64",
        1280 => "uint64",
        1536 => "float128",
        1792 => "complex128",
        2048 => "complex256",
        2304 => "rgba32",
        _ => "unknown",
    }
}

/// Reads a NIfTI-1 image (`.nii` or `.nii.gz`) into LPS geometry and f64 voxels.
pub fn read_image(path: &Path) -> Result<Image, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_image(&raw, path)
}

/// Reads a NIfTI-1 label mask; every voxel must be an integer in 0..=255.
pub fn read_mask(path: &Path) -> Result<Mask, DataError> {
    let image = read_image(path)?;
    let mut voxels = Vec::with_capacity(image.voxels.len());
    for (index, &value) in image.voxels.iter().enumerate() {
        if value.fract() != 0.0 || !(0.0..=255.0).contains(&value) {
            let [nx, ny, _] = image.grid.dims;
            return Err(DataError::MaskValue {
                path: path.to_path_buf(),
                i: index % nx,
                j: (index / nx) % ny,
                k: index / (nx * ny),
                value,
            });
        }
        voxels.push(value as u8);
    }
    Ok(Mask {
        grid: image.grid,
        voxels,
    })
}

/// Writes `image` as `dtype`; gzip-compressed when `path` ends in `.gz`.
pub fn write_image(path: &Path, image: &Image, dtype: NiftiDtype) -> Result<(), DataError> {
    let bytes =
        encode_image(image, dtype, is_gz_path(path)).map_err(|reason| DataError::NiftiWrite {
            path: path.to_path_buf(),
            reason,
        })?;
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// Writes `mask` as uint8; gzip-compressed when `path` ends in `.gz`.
pub fn write_mask(path: &Path, mask: &Mask) -> Result<(), DataError> {
    let bytes = encode_mask(mask, is_gz_path(path)).map_err(|reason| DataError::NiftiWrite {
        path: path.to_path_buf(),
        reason,
    })?;
    std::fs::write(path, bytes).map_err(|e| DataError::io(path, e))
}

/// True when `path` names a gzip file (`.gz` extension).
pub fn is_gz_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

#[cfg(test)]
mod tests;
