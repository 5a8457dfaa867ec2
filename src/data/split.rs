//! Splitting a cohort into folds: stratified by label, grouped by patient.
//!
//! All cases of a patient fall in the same fold, so no patient is ever in both the training
//! and the test part of a cell. Patients are stratified by their label (a patient with any
//! positive case counts as positive), shuffled with a seeded stream, then each is placed in
//! the fold that holds the fewest cases of its class so far (ties: the lowest fold), which
//! keeps class counts per fold within one patient's cases of each other.

use super::DataError;
use crate::seed::SeededRng;
use rand::RngExt;
use std::collections::BTreeMap;

/// A k-fold assignment: the fold of each case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    fold_of_case: Vec<usize>,
    k: usize,
}

impl Folds {
    /// Number of folds.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The fold of each case, in case order.
    pub fn fold_of_case(&self) -> &[usize] {
        &self.fold_of_case
    }

    /// Case indices in fold `fold` (the test part of that cell), ascending.
    pub fn test_indices(&self, fold: usize) -> Vec<usize> {
        (0..self.fold_of_case.len())
            .filter(|&i| self.fold_of_case[i] == fold)
            .collect()
    }

    /// Case indices outside fold `fold` (the training part of that cell), ascending.
    pub fn train_indices(&self, fold: usize) -> Vec<usize> {
        (0..self.fold_of_case.len())
            .filter(|&i| self.fold_of_case[i] != fold)
            .collect()
    }
}

/// Shuffles in place with the Fisher–Yates algorithm, drawing from `rng`.
pub fn shuffle<T>(items: &mut [T], rng: &mut SeededRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Stratified k-fold grouped by patient. `patients[i]` and `labels[i]` belong to case i.
pub fn stratified_group_kfold(
    patients: &[&str],
    labels: &[bool],
    k: usize,
    rng: &mut SeededRng,
) -> Result<Folds, DataError> {
    if patients.len() != labels.len() {
        return Err(DataError::Split(format!(
            "{} patients for {} labels",
            patients.len(),
            labels.len()
        )));
    }
    if k < 2 {
        return Err(DataError::Split(format!(
            "{k} folds; at least 2 are needed"
        )));
    }
    // BTreeMap: patient order must not depend on hashing.
    let mut cases_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in patients.iter().enumerate() {
        cases_of.entry(p).or_default().push(i);
    }
    let mut by_class: [Vec<&str>; 2] = [Vec::new(), Vec::new()];
    for (p, cases) in &cases_of {
        let positive = cases.iter().any(|&i| labels[i]);
        by_class[positive as usize].push(p);
    }
    for (class, members) in by_class.iter().enumerate() {
        if members.len() < k {
            let name = if class == 1 { "positive" } else { "negative" };
            return Err(DataError::Split(format!(
                "{} {name} patient(s) for {k} folds: every fold needs at least one of each class",
                members.len()
            )));
        }
    }
    let mut fold_of_case = vec![usize::MAX; labels.len()];
    for members in by_class.iter_mut() {
        shuffle(members, rng);
        let mut load = vec![0usize; k];
        for p in members.iter() {
            let fold = (0..k).min_by_key(|&f| (load[f], f)).unwrap_or(0);
            for &i in &cases_of[p] {
                fold_of_case[i] = fold;
            }
            load[fold] += cases_of[p].len();
        }
    }
    Ok(Folds { fold_of_case, k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn cohort() -> (Vec<String>, Vec<bool>) {
        // 50 patients, some with two cases; 30% positive.
        let mut patients = Vec::new();
        let mut labels = Vec::new();
        for p in 0..50 {
            let n = if p % 5 == 0 { 2 } else { 1 };
            for _ in 0..n {
                patients.push(format!("p{p}"));
                labels.push(p % 10 < 3);
            }
        }
        (patients, labels)
    }

    #[test]
    fn patients_never_straddle_folds_and_classes_are_balanced() {
        let (patients, labels) = cohort();
        let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
        let folds = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        for (i, p) in refs.iter().enumerate() {
            for (j, q) in refs.iter().enumerate() {
                if p == q {
                    assert_eq!(folds.fold_of_case()[i], folds.fold_of_case()[j]);
                }
            }
        }
        for f in 0..5 {
            let test = folds.test_indices(f);
            let pos = test.iter().filter(|&&i| labels[i]).count();
            assert!((3..=5).contains(&pos), "fold {f}: {pos} positives");
            assert_eq!(test.len() + folds.train_indices(f).len(), labels.len());
        }
    }

    #[test]
    fn same_seed_same_folds_other_seed_other_folds() {
        let (patients, labels) = cohort();
        let refs: Vec<&str> = patients.iter().map(String::as_str).collect();
        let a = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        let b = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(3, &["split"])).unwrap();
        let c = stratified_group_kfold(&refs, &labels, 5, &mut rng_for(4, &["split"])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn too_few_of_a_class_is_an_error() {
        let patients = ["a", "b", "c", "d"];
        let labels = [true, false, false, false];
        let e = stratified_group_kfold(&patients, &labels, 2, &mut rng_for(1, &[])).unwrap_err();
        assert!(e.to_string().contains("1 positive"), "{e}");
    }
}
