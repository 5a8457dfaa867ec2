use super::*;

fn ramp(dims: [usize; 3], spacing: [f64; 3]) -> (Image, Mask) {
    let grid = Grid::new(dims, spacing);
    let voxels = (0..grid.len())
        .map(|n| {
            let (i, j, k) = (
                n % dims[0],
                (n / dims[0]) % dims[1],
                n / (dims[0] * dims[1]),
            );
            (i + 10 * j + 100 * k) as f64
        })
        .collect();
    let mask = Mask {
        grid: grid.clone(),
        voxels: vec![1; grid.len()],
    };
    (Image { grid, voxels }, mask)
}

fn linear() -> FeatureSettings {
    FeatureSettings {
        ibsi: true,
        interpolator: Interpolator::Linear,
        ..FeatureSettings::default()
    }
}

#[test]
fn grid_is_centred_and_rounded_up() {
    let old = Grid::new([5, 4, 3], [1.0, 1.0, 3.0]);
    let grid = IbsiGrid::new(&old, [2.0, 2.0, 0.0]);
    assert_eq!(grid.dims, [3, 2, 3]);
    assert_eq!(grid.spacing, [2.0, 2.0, 3.0]);
    // Centres coincide: old 2.0 ↔ new 1.0 along i, old 1.5 ↔ new 0.5 along j.
    assert_eq!(
        [0.0, 1.0, 2.0].map(|i| grid.old_index(0, i)),
        [0.0, 2.0, 4.0]
    );
    assert_eq!([0.0, 1.0].map(|j| grid.old_index(1, j)), [0.5, 2.5]);
    // An unchanged spacing keeps the old positions exactly.
    assert_eq!(
        [0.0, 1.0, 2.0].map(|k| grid.old_index(2, k)),
        [0.0, 1.0, 2.0]
    );
}

#[test]
fn linear_resampling_interpolates_and_replicates_the_border() {
    let (image, mask) = ramp([5, 4, 3], [1.0, 1.0, 1.0]);
    let (out, out_mask) = resample_ibsi(&image, &mask, [2.0, 2.0, 0.0], &linear()).unwrap();
    assert_eq!(out.grid.dims, [3, 2, 3]);
    assert_eq!(out.grid.spacing, [2.0, 2.0, 1.0]);
    // The first new voxel sits at old index (0, 0.5, 0).
    assert_eq!(out.grid.origin, [0.0, 0.5, 0.0]);
    assert_eq!(out.voxels[..6], [5.0, 7.0, 9.0, 25.0, 27.0, 29.0]);
    assert_eq!(out_mask.count(1), 18);
    // Past the old grid the border value is repeated: old index 4.5 along i of a 5-voxel axis.
    let (image, mask) = ramp([4, 1, 1], [1.0, 1.0, 1.0]);
    let (out, _) = resample_ibsi(&image, &mask, [3.0, 0.0, 0.0], &linear()).unwrap();
    assert_eq!(out.grid.dims, [2, 1, 1]);
    assert_eq!(out.voxels, vec![0.0, 3.0]); // old indices −0.0 and 3.0 … centred: 0 and 3
}

#[test]
fn integer_images_are_rounded_after_interpolation() {
    let grid = Grid::new([2, 1, 1], [1.0; 3]);
    let image = Image {
        grid: grid.clone(),
        voxels: vec![0.0, 3.0],
    };
    let mask = Mask {
        grid,
        voxels: vec![1, 1],
    };
    let spacing = [2.0, 0.0, 0.0];
    let (float, _) = resample_ibsi(&image, &mask, spacing, &linear()).unwrap();
    assert_eq!(float.voxels, vec![1.5]);
    let integer = FeatureSettings {
        stored_type: StoredType::from_name("int16"),
        ..linear()
    };
    let (rounded, _) = resample_ibsi(&image, &mask, spacing, &integer).unwrap();
    assert_eq!(rounded.voxels, vec![2.0]);
}

#[test]
fn mask_is_interpolated_and_kept_from_one_half() {
    let grid = Grid::new([4, 1, 1], [1.0; 3]);
    let image = Image {
        grid: grid.clone(),
        voxels: vec![0.0; 4],
    };
    // Indicator 1 1 0 0 at old 0..3; new spacing 1.5 → 3 voxels at old 0.0, 1.5, 3.0.
    let mask = Mask {
        grid,
        voxels: vec![1, 1, 0, 2],
    };
    let (_, out) = resample_ibsi(&image, &mask, [1.5, 0.0, 0.0], &linear()).unwrap();
    assert_eq!(out.voxels, vec![1, 1]); // 1.0, 0.5 kept; old 3.0 (0.0) outside the crop
    let quarter = Mask {
        voxels: vec![1, 0, 0, 0],
        ..mask
    };
    let (_, out) = resample_ibsi(&image, &quarter, [1.5, 0.0, 0.0], &linear()).unwrap();
    assert_eq!(out.count(1), 1); // 1.0 at old 0.0; 0.0 at old 1.5
}

#[test]
fn cubic_spline_passes_through_the_samples() {
    let grid = Grid::new([9, 7, 6], [1.0; 3]);
    let voxels: Vec<f64> = (0..grid.len())
        .map(|n| ((n * 7919) % 101) as f64 - 50.0)
        .collect();
    let image = Image {
        grid: grid.clone(),
        voxels,
    };
    let mask = Mask {
        grid: grid.clone(),
        voxels: vec![1; grid.len()],
    };
    let bbox = bounding_box(&mask, 1).unwrap();
    let spline = PaddedSpline::new(&image, &bbox);
    for k in 0..6 {
        for j in 0..7 {
            for i in 0..9 {
                let value = spline.at([i as f64, j as f64, k as f64]);
                let expected = image.voxels[grid.index(i, j, k)];
                assert!((value - expected).abs() < 1e-6, "{i} {j} {k}: {value}");
            }
        }
    }
    // A constant image stays constant everywhere, also past the border.
    let flat = Image {
        grid,
        voxels: vec![7.0; 9 * 7 * 6],
    };
    let spline = PaddedSpline::new(&flat, &bbox);
    assert!((spline.at([-0.4, 3.3, 5.4]) - 7.0).abs() < 1e-9);
}

#[test]
fn outlier_filter_keeps_three_sigma() {
    let grid = Grid::new([21, 1, 1], [1.0; 3]);
    let mut voxels = vec![0.0; 21];
    voxels[0] = 100.0;
    voxels[1] = 1.0;
    let image = Image {
        grid: grid.clone(),
        voxels,
    };
    let mask = Mask {
        grid,
        voxels: vec![1; 21],
    };
    let kept = filter_outliers(&image, &mask, 3.0, 1).unwrap();
    assert_eq!(kept.voxels[0], 0);
    assert_eq!(kept.count(1), 20);
    assert!(filter_outliers(&image, &mask, 0.0, 1).is_err());
}
