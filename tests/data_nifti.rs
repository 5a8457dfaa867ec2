//! NIfTI reading of the IBSI reference files (geometry as SimpleITK reports it).

use crate::util::shared_dir;
use radbench::data::nifti::{read_image, read_mask};

#[test]
fn ibsi_digital_phantom_reads_with_its_geometry_and_values() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/ibsi/digital_phantom");
    let image = read_image(&dir.join("phantom.nii.gz")).unwrap();
    let mask = read_mask(&dir.join("mask.nii.gz")).unwrap();
    // The header stores sform diag(-2, -2, 2) in RAS: LPS identity at 2 mm, origin 0.
    let g = &image.grid;
    assert_eq!(g.dims, [5, 4, 4]);
    assert_eq!(g.spacing, [2.0; 3]);
    assert_eq!(g.origin, [0.0; 3]);
    assert_eq!(
        g.direction,
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    );
    assert!(mask.grid.mismatch(g, 0.0).is_none());
    // Rows as the IBSI README gives them (x fastest): z=0 y=0 is [1 4 4 1 1], z=0 y=3 is [4 4 6 4 1].
    let row = |j, k| -> Vec<f64> { (0..5).map(|i| image.voxels[g.index(i, j, k)]).collect() };
    assert_eq!(row(0, 0), [1.0, 4.0, 4.0, 1.0, 1.0]);
    assert_eq!(row(3, 0), [4.0, 4.0, 6.0, 4.0, 1.0]);
    assert_eq!(row(2, 1), [1.0, 1.0, 3.0, 1.0, 1.0]);
    assert_eq!(mask.voxels[g.index(0, 2, 1)], 0);
    // The one masked-out interior voxel holds 9.
    assert_eq!(image.voxels[g.index(2, 2, 2)], 9.0);
    assert_eq!(mask.voxels[g.index(2, 2, 2)], 0);
    assert_eq!(mask.count(1), 74);
    let roi: Vec<f64> = (0..g.len())
        .filter(|&n| mask.voxels[n] == 1)
        .map(|n| image.voxels[n])
        .collect();
    let mean = roi.iter().sum::<f64>() / roi.len() as f64;
    assert!((mean - 2.149).abs() < 5e-4, "mean {mean}");
}

#[test]
fn ibsi_ct_phantom_reads_with_simpleitk_geometry() {
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("conformance/ibsi/ct_phantom");
    let image = read_image(&dir.join("image.nii.gz")).unwrap();
    let mask = read_mask(&dir.join("mask.nii.gz")).unwrap();
    let g = &image.grid;
    assert_eq!(g.dims, [204, 201, 60]);
    // float32 header values, widened: 0.977 and the RAS origin (174.3945, 79.6255, -100.4).
    let close = |a: f64, b: f64| (a - b).abs() < 1e-5;
    assert!(close(g.spacing[0], 0.977) && close(g.spacing[1], 0.977) && close(g.spacing[2], 3.0));
    assert!(close(g.origin[0], -174.3945) && close(g.origin[1], -79.6255));
    assert!(close(g.origin[2], -100.4));
    assert_eq!(
        g.direction,
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    );
    assert!(mask.grid.mismatch(g, 1e-6).is_none());
    assert!(mask.count(1) > 0);
}
