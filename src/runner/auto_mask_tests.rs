use super::*;
use crate::data::image::{Grid, Image};
use std::collections::BTreeMap;
use std::path::Path;

fn experiment(label: u8) -> Experiment {
    let src = format!(
        r#"
[experiment]
name = "auto"
seed = 1
[data]
manifest = "m.toml"
label = "y"
[features]
classes = ["firstorder", "shape"]
label = {label}
[split]
kind = "stratified-kfold"
folds = 2
[[model]]
id = "auto"
kind = "logistic"
mask = "predicted:unet"
[[model]]
id = "unet"
kind = "segmenter"
"#
    );
    Experiment::parse(&src, Path::new("e.toml")).unwrap()
}

/// A 12×12×8 image with a smooth gradient and a reference mask (label 2 cube 2..10).
fn case() -> CaseImages {
    let grid = Grid::new([12, 12, 8], [0.8, 0.8, 2.0]);
    let voxels: Vec<f64> = (0..grid.len())
        .map(|n| (n % 12) as f64 * 3.0 + ((n / 12) % 12) as f64 * 2.0 + (n / 144) as f64)
        .collect();
    let mask = cube(&grid, 2, 10, 2);
    CaseImages {
        case_id: "c1".into(),
        image: Image { grid, voxels },
        mask,
        channels: BTreeMap::new(),
    }
}

fn cube(grid: &Grid, lo: usize, hi: usize, label: u8) -> Mask {
    let [nx, ny, nz] = grid.dims;
    let mut voxels = vec![0u8; nx * ny * nz];
    for k in lo.min(nz)..hi.min(nz) {
        for j in lo..hi {
            for i in lo..hi {
                voxels[(k * ny + j) * nx + i] = label;
            }
        }
    }
    Mask {
        grid: grid.clone(),
        voxels,
    }
}

fn names(exp: &Experiment, case: &CaseImages) -> Vec<String> {
    let x = Extraction::of(exp).unwrap();
    let settings = exp.feature_settings();
    let reference = features::extract(&case.image, &case.mask, &settings, &x.families).unwrap();
    reference.into_iter().map(|(n, _)| n).collect()
}

#[test]
fn features_come_from_the_predicted_mask_relabelled_to_the_roi_label() {
    let exp = experiment(2);
    let case = case();
    let names = names(&exp, &case);
    // The segmenter writes label 1 (and a grid as read back from NIfTI); the extractor sees
    // the experiment's label on the image's grid.
    let mut predicted = cube(&case.image.grid, 3, 7, 1);
    predicted.grid.spacing[2] = 2.000_01;
    let row = Extraction::of(&exp)
        .unwrap()
        .row(&case, &predicted, &names)
        .unwrap()
        .unwrap();
    let direct = features::extract(
        &case.image,
        &cube(&case.image.grid, 3, 7, 2),
        &exp.feature_settings(),
        &Extraction::of(&exp).unwrap().families,
    )
    .unwrap();
    let want: Vec<f64> = direct.iter().map(|(_, v)| *v).collect();
    assert_eq!(row, want);
    let on_reference = features::extract(
        &case.image,
        &case.mask,
        &exp.feature_settings(),
        &Extraction::of(&exp).unwrap().families,
    )
    .unwrap();
    assert_ne!(
        row,
        on_reference.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        "the reference mask must not be used"
    );
}

#[test]
fn an_empty_prediction_falls_back_and_a_wrong_grid_is_an_error() {
    let exp = experiment(1);
    let mut case = case();
    case.mask = cube(&case.image.grid, 2, 10, 1);
    let names = names(&exp, &case);
    let x = Extraction::of(&exp).unwrap();
    let empty = cube(&case.image.grid, 0, 0, 1);
    assert_eq!(
        x.row(&case, &empty, &names).unwrap(),
        Err("empty predicted mask".to_string())
    );
    let mut other = empty.clone();
    other.grid.dims = [12, 12, 4];
    let e = x.row(&case, &other, &names).unwrap_err().to_string();
    assert!(e.contains("c1") && e.contains("predicted mask"), "{e}");
    let e = x.row(&case, &cube(&case.image.grid, 3, 7, 1), &names[1..]);
    assert!(e.is_err());
}

#[test]
fn fallback_probabilities_are_the_training_class_frequencies() {
    assert_eq!(class_frequencies(&[0, 1, 1, 1], 2), vec![0.25, 0.75]);
    assert_eq!(class_frequencies(&[2, 0], 3), vec![0.5, 0.0, 0.5]);
}
