//! The plan of an experiment: its cells (model × repeat × fold), in a fixed order.

use crate::seed::SeededRng;

/// One unit of work: fit one model on one training fold, predict its test fold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    /// Index of the model in the experiment.
    pub model_index: usize,
    /// Model id.
    pub model: String,
    /// Repeat index.
    pub repeat: usize,
    /// Fold index.
    pub fold: usize,
}

impl Cell {
    /// A file-name-safe key, unique within an experiment version.
    pub fn key(&self) -> String {
        format!("{}__r{}__f{}", self.model, self.repeat, self.fold)
    }

    /// The cell's random stream: derived from the experiment seed, model id, repeat and fold
    /// only, so it does not depend on which thread runs the cell or in what order.
    pub fn rng(&self, seed: u64) -> SeededRng {
        crate::seed::rng_for(
            seed,
            &[
                "model",
                &self.model,
                "repeat",
                &self.repeat.to_string(),
                "fold",
                &self.fold.to_string(),
            ],
        )
    }
}

/// Every cell, ordered by model (experiment order), repeat, fold.
pub fn plan_cells(model_ids: &[String], repeats: usize, folds: usize) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(model_ids.len() * repeats * folds);
    for (model_index, model) in model_ids.iter().enumerate() {
        for repeat in 0..repeats {
            for fold in 0..folds {
                cells.push(Cell {
                    model_index,
                    model: model.clone(),
                    repeat,
                    fold,
                });
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn cells_cover_model_repeat_fold_in_order() {
        let cells = plan_cells(&["a".into(), "b".into()], 2, 3);
        assert_eq!(cells.len(), 12);
        assert_eq!(cells[0].key(), "a__r0__f0");
        assert_eq!(cells[11].key(), "b__r1__f2");
        assert!(cells.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(cells[0].rng(1).next_u64(), cells[1].rng(1).next_u64());
    }
}
