//! Encoding NIfTI-1 bytes deterministically: little-endian header, sform and qform, fixed gzip.

use super::{GZIP_LEVEL, HEADER_LEN, NiftiDtype, WRITE_VOX_OFFSET};
use crate::data::image::{Grid, Image, Mask};
use flate2::{Compression, GzBuilder};
use std::io::Write;

/// The bytes of a NIfTI file holding `mask` as uint8 (gzip-compressed when `gzip`).
pub fn encode_mask(mask: &Mask, gzip: bool) -> Result<Vec<u8>, String> {
    let mut out = header_bytes(&mask.grid, NiftiDtype::U8)?;
    out.extend_from_slice(&mask.voxels);
    finish(out, gzip)
}

/// The bytes of a NIfTI file holding `image` as `dtype` (gzip-compressed when `gzip`).
///
/// Errors when the voxel count differs from the grid, or when an integer dtype cannot hold a
/// value exactly (a fraction, NaN or a value out of range).
pub fn encode_image(image: &Image, dtype: NiftiDtype, gzip: bool) -> Result<Vec<u8>, String> {
    if image.voxels.len() != image.grid.len() {
        return Err(format!(
            "{} voxels for a grid of {:?}",
            image.voxels.len(),
            image.grid.dims
        ));
    }
    let mut out = header_bytes(&image.grid, dtype)?;
    out.reserve(image.voxels.len() * dtype.size());
    if let Some((low, high)) = dtype.integer_range() {
        for (index, &v) in image.voxels.iter().enumerate() {
            if v.fract() != 0.0 || !(low..=high).contains(&v) {
                return Err(format!(
                    "voxel {index} holds {v}, which {} cannot hold exactly",
                    dtype.name()
                ));
            }
        }
    }
    for &v in &image.voxels {
        // The range check above makes these casts exact for the integer dtypes.
        match dtype {
            NiftiDtype::U8 => out.push(v as u8),
            NiftiDtype::I8 => out.extend_from_slice(&(v as i8).to_le_bytes()),
            NiftiDtype::I16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            NiftiDtype::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            NiftiDtype::I32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            NiftiDtype::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            NiftiDtype::F64 => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    finish(out, gzip)
}

/// Compresses `raw` deterministically when asked.
pub(super) fn finish(raw: Vec<u8>, gzip: bool) -> Result<Vec<u8>, String> {
    if !gzip {
        return Ok(raw);
    }
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(GZIP_LEVEL));
    encoder.write_all(&raw).map_err(|e| format!("gzip: {e}"))?;
    encoder.finish().map_err(|e| format!("gzip: {e}"))
}

/// Quaternion (b, c, d) and qfac of an orthonormal RAS rotation given by columns
/// (`nifti_mat44_to_quatern`).
pub(super) fn rotation_to_quaternion(columns: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let m = |r: usize, c: usize| columns[c][r];
    let det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    // A proper rotation: flip the third column when the determinant is negative.
    let r = |row: usize, col: usize| {
        if col == 2 {
            qfac * m(row, col)
        } else {
            m(row, col)
        }
    };
    let trace = r(0, 0) + r(1, 1) + r(2, 2) + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r(2, 1) - r(1, 2)) / a;
        c = 0.25 * (r(0, 2) - r(2, 0)) / a;
        d = 0.25 * (r(1, 0) - r(0, 1)) / a;
    } else {
        let xd = 1.0 + r(0, 0) - (r(1, 1) + r(2, 2));
        let yd = 1.0 + r(1, 1) - (r(0, 0) + r(2, 2));
        let zd = 1.0 + r(2, 2) - (r(0, 0) + r(1, 1));
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r(0, 1) + r(1, 0)) / b;
            d = 0.25 * (r(0, 2) + r(2, 0)) / b;
            a = 0.25 * (r(2, 1) - r(1, 2)) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r(0, 1) + r(1, 0)) / c;
            d = 0.25 * (r(1, 2) + r(2, 1)) / c;
            a = 0.25 * (r(0, 2) - r(2, 0)) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r(0, 2) + r(2, 0)) / d;
            c = 0.25 * (r(1, 2) + r(2, 1)) / d;
            a = 0.25 * (r(1, 0) - r(0, 1)) / d;
        }
    }
    // The quaternion and its negation are the same rotation; NIfTI stores the one with a >= 0.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    ([sign * b, sign * c, sign * d], qfac)
}

/// A 352-byte little-endian header (with the empty extension block) for `grid` and `dtype`.
fn header_bytes(grid: &Grid, dtype: NiftiDtype) -> Result<Vec<u8>, String> {
    if grid.dims.iter().any(|&d| d == 0 || d > i16::MAX as usize) {
        return Err(format!("dims {:?} must be 1..=32767", grid.dims));
    }
    if grid.spacing.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return Err(format!("spacing {:?} must be positive", grid.spacing));
    }
    let d = &grid.direction;
    for a in 0..3 {
        for b in 0..3 {
            let dot: f64 = (0..3).map(|r| d[r][a] * d[r][b]).sum();
            let want = if a == b { 1.0 } else { 0.0 };
            if (dot - want).abs() > 1e-4 {
                return Err(format!("direction {d:?} is not orthonormal"));
            }
        }
    }
    let mut h = vec![0u8; WRITE_VOX_OFFSET];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 = |h: &mut Vec<u8>, at: usize, v: f64| {
        h[at..at + 4].copy_from_slice(&(v as f32).to_le_bytes())
    };
    h[0..4].copy_from_slice(&(HEADER_LEN as i32).to_le_bytes());
    h[38] = b'r'; // "regular", as nifti1_io writes it
    put_i16(&mut h, 40, 3);
    for (n, &extent) in grid.dims.iter().enumerate() {
        put_i16(&mut h, 42 + 2 * n, extent as i16);
    }
    for n in 3..7 {
        put_i16(&mut h, 42 + 2 * n, 1);
    }
    put_i16(&mut h, 70, dtype.code());
    put_i16(&mut h, 72, (8 * dtype.size()) as i16);
    // RAS rotation columns: LPS direction with the x and y rows negated.
    let flip = [-1.0, -1.0, 1.0];
    let columns: [[f64; 3]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|r| flip[r] * d[r][c]));
    let origin_ras: [f64; 3] = std::array::from_fn(|r| flip[r] * grid.origin[r]);
    let (quaternion, qfac) = rotation_to_quaternion(columns);
    put_f32(&mut h, 76, qfac);
    for n in 0..3 {
        put_f32(&mut h, 80 + 4 * n, grid.spacing[n]);
    }
    for n in 3..7 {
        put_f32(&mut h, 80 + 4 * n, 1.0);
    }
    put_f32(&mut h, 108, WRITE_VOX_OFFSET as f64);
    put_f32(&mut h, 112, 1.0);
    h[123] = 2; // xyzt_units: millimetres
    let descrip = b"radbench";
    h[148..148 + descrip.len()].copy_from_slice(descrip);
    put_i16(&mut h, 252, 1);
    put_i16(&mut h, 254, 1);
    for n in 0..3 {
        put_f32(&mut h, 256 + 4 * n, quaternion[n]);
        put_f32(&mut h, 268 + 4 * n, origin_ras[n]);
    }
    for r in 0..3 {
        for (c, column) in columns.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * r + 4 * c, column[r] * grid.spacing[c]);
        }
        put_f32(&mut h, 280 + 16 * r + 12, origin_ras[r]);
    }
    h[344..348].copy_from_slice(b"n+1\0");
    Ok(h)
}
