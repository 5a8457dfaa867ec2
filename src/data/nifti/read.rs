//! Decoding NIfTI-1 bytes: header fields in either byte order, gzip, geometry to LPS.

use super::{HEADER_LEN, NiftiDtype, unsupported_dtype_name};
use crate::data::DataError;
use crate::data::image::{Grid, Image};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// Decodes the bytes of a `.nii` or `.nii.gz` file; `path` is only used in errors.
pub fn decode_image(raw: &[u8], path: &Path) -> Result<Image, DataError> {
    let (bytes, gzip_error) = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip_lenient(raw)
    } else {
        (raw.to_vec(), None)
    };
    let corrupt = |reason: String| DataError::CorruptGzip {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < HEADER_LEN {
        return Err(match gzip_error {
            Some(reason) => corrupt(reason),
            None => header_error(
                path,
                format!(
                    "file has {} bytes, a header needs {HEADER_LEN}",
                    bytes.len()
                ),
            ),
        });
    }
    let header = Header::parse(&bytes, path)?;
    let expected = header.voxel_count * header.dtype.size();
    let found = bytes.len().saturating_sub(header.vox_offset);
    if found < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    // All voxels are present, but a damaged trailer (CRC, length) still means a damaged file.
    if let Some(reason) = gzip_error {
        return Err(corrupt(reason));
    }
    let data = &bytes[header.vox_offset..header.vox_offset + expected];
    let voxels = header.decode_voxels(data);
    Ok(Image {
        grid: header.grid,
        voxels,
    })
}

/// Decompresses as much of a gzip stream as decodes; returns the bytes and the decoder error.
///
/// Keeping the partial output lets a truncated `.nii.gz` report how many voxel bytes it holds.
fn gunzip_lenient(raw: &[u8]) -> (Vec<u8>, Option<String>) {
    let mut decoder = MultiGzDecoder::new(raw);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return (
                    out,
                    Some("the stream ends early (file truncated?)".to_string()),
                );
            }
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

fn header_error(path: &Path, reason: String) -> DataError {
    DataError::NiftiHeader {
        path: path.to_path_buf(),
        reason,
    }
}

/// The header fields radbench uses, already validated.
struct Header {
    little_endian: bool,
    dtype: NiftiDtype,
    voxel_count: usize,
    vox_offset: usize,
    slope: f64,
    intercept: f64,
    grid: Grid,
}

/// Reads fields of one byte order from a header.
struct Fields<'a> {
    bytes: &'a [u8],
    little_endian: bool,
}

impl Fields<'_> {
    fn i16(&self, at: usize) -> i16 {
        let b = [self.bytes[at], self.bytes[at + 1]];
        if self.little_endian {
            i16::from_le_bytes(b)
        } else {
            i16::from_be_bytes(b)
        }
    }

    fn i32(&self, at: usize) -> i32 {
        let b = [
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ];
        if self.little_endian {
            i32::from_le_bytes(b)
        } else {
            i32::from_be_bytes(b)
        }
    }

    fn f32(&self, at: usize) -> f64 {
        f64::from(f32::from_bits(self.i32(at) as u32))
    }
}

impl Header {
    fn parse(bytes: &[u8], path: &Path) -> Result<Header, DataError> {
        let err = |reason: String| header_error(path, reason);
        let size_le = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let size_be = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let little_endian = if size_le == HEADER_LEN as i32 {
            true
        } else if size_be == HEADER_LEN as i32 {
            false
        } else {
            return Err(err(format!(
                "sizeof_hdr is {size_le}, not 348 (not a NIfTI-1 file; NIfTI-2 is not supported)"
            )));
        };
        let f = Fields {
            bytes,
            little_endian,
        };
        match &bytes[344..348] {
            b"n+1\0" => {}
            b"ni1\0" => {
                return Err(err(
                    "magic `ni1` is a two-file (.hdr/.img) NIfTI; radbench reads single-file .nii"
                        .to_string(),
                ));
            }
            other => return Err(err(format!("bad magic {other:?}, expected \"n+1\\0\""))),
        }
        let code = f.i16(70);
        let dtype = NiftiDtype::from_code(code).ok_or_else(|| DataError::UnsupportedDatatype {
            path: path.to_path_buf(),
            code,
            name: unsupported_dtype_name(code),
        })?;
        let dim: Vec<i64> = (0..8).map(|n| i64::from(f.i16(40 + 2 * n))).collect();
        let rank = dim[0];
        if !(1..=7).contains(&rank) {
            return Err(err(format!("dim[0] is {rank}, must be 1..=7")));
        }
        let rank = rank as usize;
        if let Some(n) = (1..=rank).find(|&n| dim[n] <= 0) {
            return Err(err(format!("dims <= 0: dim[{n}] is {}", dim[n])));
        }
        let extent = |n: usize| if n <= rank { dim[n] as usize } else { 1 };
        let dims = [extent(1), extent(2), extent(3)];
        let extra: usize = (4..=rank).map(extent).product();
        if extra != 1 {
            return Err(err(format!(
                "{extra} volumes (dim[4..] > 1); radbench reads 3-D images only"
            )));
        }
        let voxel_count = dims[0]
            .checked_mul(dims[1])
            .and_then(|v| v.checked_mul(dims[2]))
            .ok_or_else(|| err(format!("dims {dims:?} overflow")))?;
        let vox_offset = f.f32(108);
        if !(vox_offset.is_finite() && vox_offset >= HEADER_LEN as f64) {
            return Err(err(format!("vox_offset is {vox_offset}, must be >= 348")));
        }
        let (slope, intercept) = match (f.f32(112), f.f32(116)) {
            // nifti1.h: a zero (or non-finite) slope means "no scaling".
            (s, i) if s.is_finite() && s != 0.0 => (s, if i.is_finite() { i } else { 0.0 }),
            _ => (1.0, 0.0),
        };
        let grid = geometry(&f, dims).map_err(err)?;
        Ok(Header {
            little_endian,
            dtype,
            voxel_count,
            vox_offset: vox_offset as usize,
            slope,
            intercept,
            grid,
        })
    }

    fn decode_voxels(&self, data: &[u8]) -> Vec<f64> {
        let size = self.dtype.size();
        let le = self.little_endian;
        let value = |c: &[u8]| -> f64 {
            match self.dtype {
                NiftiDtype::U8 => f64::from(c[0]),
                NiftiDtype::I8 => f64::from(c[0] as i8),
                NiftiDtype::I16 => {
                    let b = [c[0], c[1]];
                    f64::from(if le {
                        i16::from_le_bytes(b)
                    } else {
                        i16::from_be_bytes(b)
                    })
                }
                NiftiDtype::U16 => {
                    let b = [c[0], c[1]];
                    f64::from(if le {
                        u16::from_le_bytes(b)
                    } else {
                        u16::from_be_bytes(b)
                    })
                }
                NiftiDtype::I32 => {
                    let b = [c[0], c[1], c[2], c[3]];
                    f64::from(if le {
                        i32::from_le_bytes(b)
                    } else {
                        i32::from_be_bytes(b)
                    })
                }
                NiftiDtype::F32 => {
                    let b = [c[0], c[1], c[2], c[3]];
                    f64::from(if le {
                        f32::from_le_bytes(b)
                    } else {
                        f32::from_be_bytes(b)
                    })
                }
                NiftiDtype::F64 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    if le {
                        f64::from_le_bytes(b)
                    } else {
                        f64::from_be_bytes(b)
                    }
                }
            }
        };
        let scaled = self.slope != 1.0 || self.intercept != 0.0;
        data.chunks_exact(size)
            .map(|c| {
                let v = value(c);
                if scaled {
                    v * self.slope + self.intercept
                } else {
                    v
                }
            })
            .collect()
    }
}

/// LPS grid from the sform, else the qform, else pixdim (see the module doc).
fn geometry(f: &Fields, dims: [usize; 3]) -> Result<Grid, String> {
    let pixdim: Vec<f64> = (0..8).map(|n| f.f32(76 + 4 * n)).collect();
    let qform_code = f.i16(252);
    let sform_code = f.i16(254);
    // RAS affine: rotation-and-scale columns plus translation.
    let (columns, spacing, origin_ras) = if sform_code > 0 {
        let row = |at: usize| [f.f32(at), f.f32(at + 4), f.f32(at + 8), f.f32(at + 12)];
        let rows = [row(280), row(296), row(312)];
        let columns: [[f64; 3]; 3] = std::array::from_fn(|c| [rows[0][c], rows[1][c], rows[2][c]]);
        let spacing: [f64; 3] = std::array::from_fn(|c| norm(columns[c]));
        if spacing.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(format!("sform has a zero or non-finite column: {rows:?}"));
        }
        let unit = std::array::from_fn(|c| columns[c].map(|x| x / spacing[c]));
        (unit, spacing, [rows[0][3], rows[1][3], rows[2][3]])
    } else {
        let spacing: [f64; 3] = std::array::from_fn(|n| {
            let d = pixdim[n + 1].abs();
            if d.is_finite() && d > 0.0 { d } else { 1.0 }
        });
        if qform_code > 0 {
            let (b, c, d) = (f.f32(256), f.f32(260), f.f32(264));
            let qfac = if pixdim[0] < 0.0 { -1.0 } else { 1.0 };
            let origin = [f.f32(268), f.f32(272), f.f32(276)];
            (quaternion_columns(b, c, d, qfac), spacing, origin)
        } else {
            // SimpleITK reports LPS identity and origin 0 here (checked with SimpleITK 2.x),
            // not the RAS identity that nifti1.h's "method 1" describes.
            let lps_identity_in_ras = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];
            (lps_identity_in_ras, spacing, [0.0; 3])
        }
    };
    // RAS -> LPS: negate the x and y rows of the affine.
    let flip = [-1.0, -1.0, 1.0];
    let direction: [[f64; 3]; 3] = std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            let v = flip[r] * columns[c][r];
            if v == 0.0 { 0.0 } else { v }
        })
    });
    let origin: [f64; 3] = std::array::from_fn(|r| {
        let v = flip[r] * origin_ras[r];
        if v == 0.0 { 0.0 } else { v }
    });
    Ok(Grid {
        dims,
        spacing,
        origin,
        direction,
    })
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// Columns of the qform rotation (`nifti_quatern_to_mat44`), third column times `qfac`.
pub(super) fn quaternion_columns(b: f64, c: f64, d: f64, qfac: f64) -> [[f64; 3]; 3] {
    let sum = b * b + c * c + d * d;
    let (a, b, c, d) = if 1.0 - sum < 1e-7 {
        // nifti1_io: a is taken as 0 and (b, c, d) renormalised.
        let s = sum.sqrt();
        (0.0, b / s, c / s, d / s)
    } else {
        ((1.0 - sum).sqrt(), b, c, d)
    };
    let rows = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ];
    std::array::from_fn(|col| {
        let scale = if col == 2 { qfac } else { 1.0 };
        [
            rows[0][col] * scale,
            rows[1][col] * scale,
            rows[2][col] * scale,
        ]
    })
}
