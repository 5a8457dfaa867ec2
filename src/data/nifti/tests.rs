//! Unit tests of the NIfTI reader and writer.

use super::read::quaternion_columns;
use super::write::{finish, rotation_to_quaternion};
use super::*;
use crate::data::image::Grid;

/// A grid with a rotated, reflected direction and an off-zero origin.
fn oblique_grid(dims: [usize; 3], reflected: bool) -> Grid {
    let (s, c) = (0.3f64.sin(), 0.3f64.cos());
    let z = if reflected { -1.0 } else { 1.0 };
    Grid {
        dims,
        spacing: [0.75, 1.25, 2.5],
        origin: [-12.5, 30.25, -7.0],
        direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, z]],
    }
}

fn sample_values(dtype: NiftiDtype, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let i = i as f64;
            match dtype {
                NiftiDtype::U8 => (i * 7.0) % 256.0,
                NiftiDtype::I8 => (i * 7.0) % 256.0 - 128.0,
                NiftiDtype::I16 => (i * 977.0) % 65536.0 - 32768.0,
                NiftiDtype::U16 => (i * 977.0) % 65536.0,
                NiftiDtype::I32 => (i * 1.0e6) - 3.0e7,
                NiftiDtype::F32 => i * 0.25 - 10.0,
                NiftiDtype::F64 => i * 0.1 - 1.0e-3,
            }
        })
        .collect()
}

fn assert_grid_close(a: &Grid, b: &Grid) {
    assert!(a.mismatch(b, 1e-5).is_none(), "{a:?} vs {b:?}");
}

#[test]
fn every_dtype_round_trips_with_oblique_geometry() {
    for reflected in [false, true] {
        for dtype in NiftiDtype::ALL {
            let grid = oblique_grid([5, 4, 3], reflected);
            let image = Image {
                voxels: sample_values(dtype, grid.len()),
                grid,
            };
            for gzip in [false, true] {
                let bytes = encode_image(&image, dtype, gzip).unwrap();
                let back = decode_image(&bytes, Path::new("x.nii")).unwrap();
                assert_grid_close(&back.grid, &image.grid);
                assert_eq!(back.voxels, image.voxels, "{dtype:?} gzip={gzip}");
            }
        }
    }
}

#[test]
fn writing_is_deterministic_and_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let grid = oblique_grid([6, 5, 4], false);
    let image = Image {
        voxels: sample_values(NiftiDtype::I16, grid.len()),
        grid: grid.clone(),
    };
    let a = dir.path().join("a.nii.gz");
    let b = dir.path().join("b.nii.gz");
    write_image(&a, &image, NiftiDtype::I16).unwrap();
    write_image(&b, &image, NiftiDtype::I16).unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    // gzip header: magic, deflate, no flags, mtime 0.
    assert_eq!(&bytes[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    assert_eq!(read_image(&a).unwrap(), {
        let mut expect = image.clone();
        expect.grid = read_image(&a).unwrap().grid;
        expect
    });
    let mask = Mask {
        voxels: (0..grid.len()).map(|i| (i % 3) as u8).collect(),
        grid,
    };
    let m = dir.path().join("m.nii");
    write_mask(&m, &mask).unwrap();
    let back = read_mask(&m).unwrap();
    assert_eq!(back.voxels, mask.voxels);
    assert_grid_close(&back.grid, &mask.grid);
}

#[test]
fn integer_dtypes_refuse_values_they_cannot_hold() {
    let grid = Grid::new([2, 1, 1], [1.0; 3]);
    let image = Image {
        grid,
        voxels: vec![1.5, 2.0],
    };
    let err = encode_image(&image, NiftiDtype::I16, false).unwrap_err();
    assert!(err.contains("1.5"), "{err}");
    let image = Image {
        voxels: vec![300.0, 0.0],
        ..image
    };
    assert!(encode_image(&image, NiftiDtype::U8, false).is_err());
    assert!(encode_image(&image, NiftiDtype::F32, false).is_ok());
}

/// Byte-swaps the numeric header fields and the int16 voxels of a file we wrote.
fn to_big_endian_i16(le: &[u8]) -> Vec<u8> {
    let mut be = le.to_vec();
    let mut swap = |at: usize, width: usize| be[at..at + width].reverse();
    swap(0, 4);
    for at in (40..56).step_by(2).chain([70, 72, 252, 254]) {
        swap(at, 2);
    }
    for at in (76..120).step_by(4).chain((256..328).step_by(4)) {
        swap(at, 4);
    }
    for at in (WRITE_VOX_OFFSET..le.len()).step_by(2) {
        swap(at, 2);
    }
    be
}

#[test]
fn big_endian_files_read_like_little_endian_ones() {
    let grid = oblique_grid([4, 3, 2], true);
    let image = Image {
        voxels: sample_values(NiftiDtype::I16, grid.len()),
        grid,
    };
    let le = encode_image(&image, NiftiDtype::I16, false).unwrap();
    let back = decode_image(&to_big_endian_i16(&le), Path::new("be.nii")).unwrap();
    assert_eq!(back.voxels, image.voxels);
    assert_grid_close(&back.grid, &image.grid);
}

#[test]
fn qform_and_pixdim_geometry_and_scaling() {
    let grid = oblique_grid([3, 3, 3], true);
    let image = Image {
        voxels: sample_values(NiftiDtype::I16, grid.len()),
        grid: grid.clone(),
    };
    let mut bytes = encode_image(&image, NiftiDtype::I16, false).unwrap();
    // sform_code = 0: geometry must come from the qform and agree.
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes());
    let from_qform = decode_image(&bytes, Path::new("q.nii")).unwrap();
    assert_grid_close(&from_qform.grid, &grid);
    // qform_code = 0 too: pixdim spacing, LPS identity, origin 0 (what SimpleITK reports).
    bytes[252..254].copy_from_slice(&0i16.to_le_bytes());
    let from_pixdim = decode_image(&bytes, Path::new("p.nii")).unwrap();
    assert_eq!(from_pixdim.grid.spacing, [0.75, 1.25, 2.5]);
    assert_eq!(from_pixdim.grid.origin, [0.0; 3]);
    assert_eq!(
        from_pixdim.grid.direction,
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    );
    // scl_slope = 2, scl_inter = -1.
    bytes[112..116].copy_from_slice(&2f32.to_le_bytes());
    bytes[116..120].copy_from_slice(&(-1f32).to_le_bytes());
    let scaled = decode_image(&bytes, Path::new("s.nii")).unwrap();
    let expect: Vec<f64> = image.voxels.iter().map(|v| 2.0 * v - 1.0).collect();
    assert_eq!(scaled.voxels, expect);
}

fn small_file() -> Vec<u8> {
    let grid = Grid::new([40, 30, 20], [1.0; 3]);
    let image = Image {
        voxels: (0..grid.len())
            .map(|i| ((i * 7919) % 2000) as f64)
            .collect(),
        grid,
    };
    encode_image(&image, NiftiDtype::I16, false).unwrap()
}

#[test]
fn truncated_files_say_how_many_bytes_are_missing() {
    let raw = small_file();
    let expected = 40 * 30 * 20 * 2;
    let cut = &raw[..WRITE_VOX_OFFSET + 1000];
    let err = decode_image(cut, Path::new("cut.nii"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("cut.nii: truncated: expected {expected} bytes of voxel data, found 1000")
    );
    let gz = finish(raw, true).unwrap();
    let err = decode_image(&gz[..gz.len() / 2], Path::new("cut.nii.gz"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cut.nii.gz: truncated: expected {expected} bytes of voxel data, found "
        )),
        "{err}"
    );
    // Only the gzip trailer missing: all voxels decode, but the file is still damaged.
    let err = decode_image(&gz[..gz.len() - 4], Path::new("t.nii.gz")).unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
}

#[test]
fn corrupt_gzip_is_reported() {
    let mut gz = finish(small_file(), true).unwrap();
    let end = gz.len() - 20;
    for b in &mut gz[20..end] {
        *b ^= 0x5a;
    }
    let err = decode_image(&gz, Path::new("bad.nii.gz")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CorruptGzip { .. } | DataError::Truncated { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("bad.nii.gz: "), "{err}");
}

#[test]
fn bad_headers_name_the_problem() {
    let raw = small_file();
    let check = |bytes: &[u8], needle: &str| {
        let err = decode_image(bytes, Path::new("h.nii"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("h.nii: ") && err.contains(needle), "{err}");
    };
    let mut b = raw.clone();
    b[344..348].copy_from_slice(b"xyz\0");
    check(&b, "bad magic");
    let mut b = raw.clone();
    b[70..72].copy_from_slice(&1024i16.to_le_bytes());
    check(&b, "unsupported NIfTI datatype 1024 (int64)");
    let mut b = raw.clone();
    b[44..46].copy_from_slice(&0i16.to_le_bytes());
    check(&b, "dims <= 0: dim[2] is 0");
    let mut b = raw.clone();
    b[40..42].copy_from_slice(&4i16.to_le_bytes());
    b[48..50].copy_from_slice(&2i16.to_le_bytes());
    check(&b, "3-D images only");
    let mut b = raw.clone();
    b[0..4].copy_from_slice(&540i32.to_le_bytes());
    check(&b, "not 348");
    check(&raw[..100], "a header needs 348");
}

#[test]
fn masks_must_hold_small_integers() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::new([3, 2, 2], [1.0; 3]);
    let mut voxels = vec![0.0; grid.len()];
    voxels[grid.index(2, 1, 1)] = 0.5;
    let path = dir.path().join("m.nii.gz");
    write_image(&path, &Image { grid, voxels }, NiftiDtype::F32).unwrap();
    let err = read_mask(&path).unwrap_err().to_string();
    assert!(err.contains("mask voxel (2, 1, 1) holds 0.5"), "{err}");
}

#[test]
fn quaternion_round_trips_through_rotations() {
    let angles: [f64; 4] = [0.0, 0.4, 1.7, 3.1];
    for &ax in &angles {
        for &ay in &angles {
            let (sx, cx, sy, cy) = (ax.sin(), ax.cos(), ay.sin(), ay.cos());
            // Columns of Ry * Rx.
            let columns = [
                [cy, 0.0, -sy],
                [sy * sx, cx, cy * sx],
                [sy * cx, -sx, cy * cx],
            ];
            for qfac in [1.0, -1.0] {
                let cols = [columns[0], columns[1], columns[2].map(|v| v * qfac)];
                let (q, f) = rotation_to_quaternion(cols);
                assert_eq!(f, qfac);
                let back = quaternion_columns(q[0], q[1], q[2], f);
                for c in 0..3 {
                    for r in 0..3 {
                        assert!((back[c][r] - cols[c][r]).abs() < 1e-9, "{cols:?} {back:?}");
                    }
                }
            }
        }
    }
}
