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
    /// The seed of a seed-sweep run (`None`: the experiment's own `seed`).
    pub sweep_seed: Option<u64>,
}

impl Cell {
    /// A file-name-safe key, unique within an experiment version.
    pub fn key(&self) -> String {
        match self.sweep_seed {
            None => format!("{}__r{}__f{}", self.model, self.repeat, self.fold),
            Some(s) => format!("{}__s{s}__r{}__f{}", self.model, self.repeat, self.fold),
        }
    }

    /// The seed this cell's streams derive from: its sweep seed, else the experiment's.
    pub fn seed(&self, experiment_seed: u64) -> u64 {
        self.sweep_seed.unwrap_or(experiment_seed)
    }

    /// The cell's random stream: derived from the experiment seed, model id, repeat and fold
    /// only, so it does not depend on which thread runs the cell or in what order.
    pub fn rng(&self, seed: u64) -> SeededRng {
        crate::seed::rng_for(
            self.seed(seed),
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

/// Every cell, ordered by model (experiment order), repeat, fold; `folds[r]` is the number of
/// folds (parts) of repeat r.
pub fn plan_cells(model_ids: &[String], folds: &[usize]) -> Vec<Cell> {
    plan_seed_cells(model_ids, folds, None)
}

/// [`plan_cells`] for the run of one seed of a seed sweep (`None`: the experiment's seed).
pub fn plan_seed_cells(
    model_ids: &[String],
    folds: &[usize],
    sweep_seed: Option<u64>,
) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(model_ids.len() * folds.iter().sum::<usize>());
    for (model_index, model) in model_ids.iter().enumerate() {
        for (repeat, &k) in folds.iter().enumerate() {
            for fold in 0..k {
                cells.push(Cell {
                    model_index,
                    model: model.clone(),
                    repeat,
                    fold,
                    sweep_seed,
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
        let cells = plan_cells(&["a".into(), "b".into()], &[3, 3]);
        assert_eq!(cells.len(), 12);
        assert_eq!(cells[0].key(), "a__r0__f0");
        assert_eq!(cells[11].key(), "b__r1__f2");
        assert!(cells.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(cells[0].rng(1).next_u64(), cells[1].rng(1).next_u64());
    }

    #[test]
    fn sweep_cells_have_their_own_keys_and_streams() {
        let main = plan_cells(&["a".into()], &[2]);
        let sweep = plan_seed_cells(&["a".into()], &[2], Some(9));
        assert_eq!(sweep[1].key(), "a__s9__r0__f1");
        assert_eq!(main[1].key(), "a__r0__f1");
        assert_eq!(sweep[0].rng(1).next_u64(), main[0].rng(9).next_u64());
        assert_ne!(sweep[0].rng(1).next_u64(), main[0].rng(1).next_u64());
    }
}
