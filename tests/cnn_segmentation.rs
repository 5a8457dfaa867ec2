//! U-Net segmentation end to end on a tiny synthetic cohort: training, predicted masks on the
//! image grid, Dice, volumes and quality control.

use crate::cnn_data::cohort;
use radbench::models::cnn::augment::Augment;
use radbench::models::cnn::segment::{
    SegmenterSpec, fit_segmenter, qc_failure_rate, training_slices,
};
use radbench::seed::rng_for;

#[test]
fn unet_learns_bright_lesions_and_reports_quality() {
    // Only class-1 cases carry a visible (bright) lesion.
    let visible = |cases: Vec<crate::cnn_data::Case>| {
        cases
            .into_iter()
            .filter(|c| c.label == 1)
            .collect::<Vec<_>>()
    };
    let train = visible(cohort(11, "seg-train", 16, 2, 3.0));
    let test = visible(cohort(11, "seg-test", 8, 2, 3.0));
    let spec = SegmenterSpec {
        epochs: 6,
        batch_size: 8,
        lr: 1e-2,
        augment: Augment {
            flips: true,
            rot90: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut slices = Vec::new();
    for c in &train {
        slices.extend(training_slices(&c.id, &[&c.image], &c.mask, spec.normalise).unwrap());
    }
    let fitted = fit_segmenter(&slices, &spec, &mut rng_for(11, &["unet"])).unwrap();
    assert_eq!(fitted.curve().epochs.len(), 6);
    let first = fitted.curve().epochs[0].train_loss;
    let last = fitted.curve().epochs[5].train_loss;
    assert!(last < first, "loss {first} → {last}");
    let results: Vec<_> = test
        .iter()
        .map(|c| {
            let predicted = fitted.predict_mask(&c.id, &[&c.image]).unwrap();
            assert_eq!(predicted.grid, c.mask.grid);
            fitted.evaluate(&c.id, &predicted, &c.mask)
        })
        .collect();
    let mean_dice = results.iter().map(|r| r.dice).sum::<f64>() / results.len() as f64;
    assert!(mean_dice > 0.6, "mean Dice {mean_dice}: {results:?}");
    assert!(results.iter().all(|r| r.reference_ml > 0.0));
    assert!(qc_failure_rate(&results) <= 0.5);

    let again = fit_segmenter(&slices, &spec, &mut rng_for(11, &["unet"])).unwrap();
    assert_eq!(fitted.fingerprint().unwrap(), again.fingerprint().unwrap());
}
