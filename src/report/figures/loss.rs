//! Training curves of models that report them (CNNs): the training loss and, when validation
//! data were used, the validation loss of each fold (repeat 0), per epoch.

use super::{Line, line_chart_svg};
use crate::report::{ModelResult, ReportError};

/// (fold, epochs, train loss, validation loss) read from a fold's summary, which for a CNN is
/// its loss curve `{"epochs": [{"epoch", "train_loss", "val_loss"}, ...], ...}`.
type FoldCurve = (usize, Vec<f64>, Vec<f64>, Vec<f64>);

fn fold_curves(model: &ModelResult) -> Vec<FoldCurve> {
    model
        .cell_summaries
        .iter()
        .enumerate()
        .filter_map(|(fold, summary)| {
            let epochs = summary.get("epochs")?.as_array()?;
            let (mut e, mut train, mut val) = (Vec::new(), Vec::new(), Vec::new());
            for record in epochs {
                let epoch = record.get("epoch")?.as_f64()?;
                e.push(epoch);
                train.push(record.get("train_loss")?.as_f64()?);
                val.push(
                    record
                        .get("val_loss")
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or(f64::NAN),
                );
            }
            (!e.is_empty()).then_some((fold, e, train, val))
        })
        .collect()
}

/// Whether the model's fold summaries carry loss curves.
pub fn has_loss_curves(model: &ModelResult) -> bool {
    !fold_curves(model).is_empty()
}

/// One line per fold for the training loss, and one per fold for the validation loss where
/// recorded.
pub fn loss_svg(model: &ModelResult) -> Result<String, ReportError> {
    let curves = fold_curves(model);
    let mut labelled: Vec<(String, &[f64], &[f64])> = Vec::new();
    for (fold, epochs, train, val) in &curves {
        labelled.push((format!("fold {fold} train"), epochs, train));
        if val.iter().any(|v| v.is_finite()) {
            labelled.push((format!("fold {fold} validation"), epochs, val));
        }
    }
    let lines: Vec<Line<'_>> = labelled
        .iter()
        .map(|(label, x, y)| Line {
            label,
            x,
            y,
            reference: false,
        })
        .collect();
    let finite = || {
        labelled
            .iter()
            .flat_map(|(_, _, y)| y.iter())
            .filter(|v| v.is_finite())
    };
    let top = finite().fold(0.0f64, |a, &b| a.max(b));
    let last = curves
        .iter()
        .flat_map(|(_, e, _, _)| e.last().copied())
        .fold(1.0f64, f64::max);
    line_chart_svg(
        &format!("Loss curves: {}", model.id),
        "epoch",
        "cross-entropy loss",
        (1.0, last.max(2.0)),
        (0.0, if top > 0.0 { top * 1.1 } else { 1.0 }),
        &lines,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(summaries: Vec<serde_json::Value>) -> ModelResult {
        ModelResult {
            id: "cnn".into(),
            kind: "cnn".into(),
            auc: 0.7,
            auc_ci_delong: None,
            delong_variance: None,
            ci_level: 0.95,
            n_cases: 10,
            fold_auc: Vec::new(),
            repeat_auc: Vec::new(),
            published_auc: None,
            binary: None,
            multiclass: None,
            cell_summaries: summaries,
            patch_level: None,
        }
    }

    #[test]
    fn loss_curves_per_fold_are_drawn_reproducibly() {
        let curve = |shift: f64| {
            serde_json::json!({
                "epochs": (1..=6).map(|e| serde_json::json!({
                    "epoch": e, "lr": 0.01, "train_loss": 1.0 / e as f64 + shift,
                    "max_grad_norm": 1.0, "val_loss": 1.2 / e as f64 + shift,
                    "val_auc": null, "val_dice": null
                })).collect::<Vec<_>>(),
                "best_epoch": 6,
                "stopped_early": false
            })
        };
        let m = model(vec![curve(0.0), curve(0.1)]);
        assert!(has_loss_curves(&m));
        let a = loss_svg(&m).unwrap();
        assert_eq!(a, loss_svg(&m).unwrap());
        assert!(
            a.contains("fold 1 validation") && a.contains("epoch") && a.contains("Loss curves")
        );
        // A model without loss curves (e.g. a logistic fit summary) gets no figure.
        assert!(!has_loss_curves(&model(vec![
            serde_json::json!({"selected": ["a"]})
        ])));
    }
}
