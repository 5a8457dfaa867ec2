//! A small deterministic classification tree (CART with Gini impurity), the building block of
//! the random forest in [`super::forest`].
//!
//! Principal types: [`TreeParams`] (depth, leaf size, features tried per split) and
//! [`DecisionTree`] (the fitted tree; each leaf stores its class frequencies). Reference:
//! Breiman, Friedman, Olshen & Stone, *Classification and Regression Trees* (1984); split search
//! as scikit-learn's `BestSplitter`: `mtry` features are drawn at random per node, and more are
//! drawn when none of them separates the node, so a node is left unsplit only when no feature
//! can split it. Every tie (equal impurity decrease) goes to the feature drawn first and then to
//! the lowest threshold, so a tree is a pure function of its data, its rows and its rng.

use crate::seed::SeededRng;
use ndarray::{ArrayView1, ArrayView2};
use rand::RngExt;

/// How a tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeParams {
    /// Maximum depth (root = depth 0); `None` grows until leaves are pure or too small.
    pub max_depth: Option<usize>,
    /// Minimum number of (bootstrap) rows in each leaf; at least 1.
    pub min_samples_leaf: usize,
    /// Features tried per split; clamped to `1..=p`.
    pub mtry: usize,
}

/// One node of a fitted tree.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A leaf: class frequencies of its training rows (they sum to 1).
    Leaf { proba: Vec<f64> },
    /// Rows with `x[feature] <= threshold` go to `left`, the others to `right`.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// A fitted classification tree.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTree {
    nodes: Vec<Node>,
    n_classes: usize,
}

/// The best split found at a node.
struct BestSplit {
    feature: usize,
    threshold: f64,
    /// Weighted Gini of the two children (lower is better).
    child_impurity: f64,
}

impl DecisionTree {
    /// Grows a tree on `rows` of `x` (rows may repeat: a bootstrap sample), with class indices
    /// `labels` (indexed like the rows of `x`) in `0..n_classes`. The caller guarantees that
    /// `x` is finite and `rows` is non-empty.
    pub fn fit<'a>(
        x: ArrayView2<'a, f64>,
        labels: &'a [usize],
        n_classes: usize,
        rows: Vec<usize>,
        params: &TreeParams,
        rng: &mut SeededRng,
    ) -> DecisionTree {
        let mut tree = DecisionTree {
            nodes: Vec::new(),
            n_classes,
        };
        let grower = Grower {
            x,
            labels,
            n_classes,
            params: TreeParams {
                mtry: params.mtry.clamp(1, x.ncols().max(1)),
                min_samples_leaf: params.min_samples_leaf.max(1),
                max_depth: params.max_depth,
            },
        };
        // Depth-first with an explicit stack (no recursion depth limit); children are pushed
        // right then left so that the left subtree is grown (and draws from rng) first.
        let root = tree.push_placeholder();
        let mut stack = vec![(root, rows, 0usize)];
        while let Some((slot, node_rows, depth)) = stack.pop() {
            let counts = grower.class_counts(&node_rows);
            let split = if grower.may_split(&counts, node_rows.len(), depth) {
                grower.best_split(&node_rows, &counts, rng)
            } else {
                None
            };
            match split {
                Some(best) => {
                    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) = node_rows
                        .iter()
                        .partition(|&&r| x[[r, best.feature]] <= best.threshold);
                    let left = tree.push_placeholder();
                    let right = tree.push_placeholder();
                    tree.nodes[slot] = Node::Split {
                        feature: best.feature,
                        threshold: best.threshold,
                        left,
                        right,
                    };
                    stack.push((right, right_rows, depth + 1));
                    stack.push((left, left_rows, depth + 1));
                }
                None => {
                    let total = node_rows.len().max(1) as f64;
                    tree.nodes[slot] = Node::Leaf {
                        proba: counts.iter().map(|&c| c as f64 / total).collect(),
                    };
                }
            }
        }
        tree
    }

    fn push_placeholder(&mut self) -> usize {
        self.nodes.push(Node::Leaf { proba: Vec::new() });
        self.nodes.len() - 1
    }

    /// Adds the class frequencies of the leaf that `row` falls in to `out` (length n_classes).
    pub fn add_proba(&self, row: ArrayView1<'_, f64>, out: &mut [f64]) {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                Node::Leaf { proba } => {
                    for (o, p) in out.iter_mut().zip(proba) {
                        *o += p;
                    }
                    return;
                }
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    at = if row[*feature] <= *threshold {
                        *left
                    } else {
                        *right
                    };
                }
            }
        }
    }

    /// Number of classes the leaves report.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }
}

/// What every node of one tree's growth reads.
struct Grower<'a> {
    x: ArrayView2<'a, f64>,
    labels: &'a [usize],
    n_classes: usize,
    params: TreeParams,
}

impl Grower<'_> {
    fn class_counts(&self, rows: &[usize]) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_classes];
        for &r in rows {
            counts[self.labels[r]] += 1;
        }
        counts
    }

    /// Whether a node may be split at all: impure, below the depth limit, big enough for two
    /// leaves.
    fn may_split(&self, counts: &[usize], n: usize, depth: usize) -> bool {
        let impure = counts.iter().filter(|&&c| c > 0).count() > 1;
        let shallow = self.params.max_depth.is_none_or(|d| depth < d);
        impure && shallow && n >= 2 * self.params.min_samples_leaf
    }

    /// Tries features in a random order: at least `mtry` of them, and more while none has
    /// given a valid split (scikit-learn's rule), keeping the lowest child impurity.
    fn best_split(
        &self,
        rows: &[usize],
        counts: &[usize],
        rng: &mut SeededRng,
    ) -> Option<BestSplit> {
        let p = self.x.ncols();
        let mut order: Vec<usize> = (0..p).collect();
        let mut best: Option<BestSplit> = None;
        let mut sorted: Vec<(f64, usize)> = Vec::with_capacity(rows.len());
        for tried in 0..p {
            if tried >= self.params.mtry && best.is_some() {
                break;
            }
            // Partial Fisher–Yates: the next feature is uniform among those not yet tried.
            let pick = rng.random_range(tried..p);
            order.swap(tried, pick);
            let feature = order[tried];
            sorted.clear();
            sorted.extend(rows.iter().map(|&r| (self.x[[r, feature]], self.labels[r])));
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if let Some((threshold, child_impurity)) = self.best_threshold(&sorted, counts)
                && best
                    .as_ref()
                    .is_none_or(|b| child_impurity < b.child_impurity)
            {
                best = Some(BestSplit {
                    feature,
                    threshold,
                    child_impurity,
                });
            }
        }
        best
    }

    /// The threshold on one sorted feature with the lowest weighted child Gini, among those
    /// that leave `min_samples_leaf` rows on each side and fall between distinct values.
    fn best_threshold(&self, sorted: &[(f64, usize)], counts: &[usize]) -> Option<(f64, f64)> {
        let n = sorted.len();
        let leaf = self.params.min_samples_leaf;
        let mut left = vec![0usize; self.n_classes];
        let mut best: Option<(f64, f64)> = None;
        for i in 0..n.saturating_sub(1) {
            left[sorted[i].1] += 1;
            let n_left = i + 1;
            if n_left < leaf || n - n_left < leaf || sorted[i].0 == sorted[i + 1].0 {
                continue;
            }
            let impurity = weighted_gini(&left, counts, n_left, n);
            if best.is_none_or(|(_, b)| impurity < b) {
                let (a, b) = (sorted[i].0, sorted[i + 1].0);
                // The midpoint can round up to `b` for adjacent doubles; `a` then still
                // separates the two sides under `x <= threshold`.
                let mid = a + (b - a) / 2.0;
                let threshold = if mid < b { mid } else { a };
                best = Some((threshold, impurity));
            }
        }
        best
    }
}

/// Size-weighted Gini impurity of the two children, given the left counts and the node's.
fn weighted_gini(left: &[usize], total: &[usize], n_left: usize, n: usize) -> f64 {
    let n_right = n - n_left;
    let (mut sum_left, mut sum_right) = (0.0, 0.0);
    for (&l, &t) in left.iter().zip(total) {
        let r = t - l;
        sum_left += (l * l) as f64;
        sum_right += (r * r) as f64;
    }
    // n_left·(1 − Σ(l/n_left)²) + n_right·(1 − Σ(r/n_right)²), divided by n.
    let gini_left = n_left as f64 - sum_left / n_left as f64;
    let gini_right = n_right as f64 - sum_right / n_right as f64;
    (gini_left + gini_right) / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;
    use ndarray::{Array2, array};

    fn params(mtry: usize) -> TreeParams {
        TreeParams {
            max_depth: None,
            min_samples_leaf: 1,
            mtry,
        }
    }

    fn proba(tree: &DecisionTree, row: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; tree.n_classes()];
        tree.add_proba(ArrayView1::from(row), &mut out);
        out
    }

    #[test]
    fn separates_a_threshold_at_the_midpoint() {
        let x = array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]];
        let y = [0, 0, 1, 1];
        let tree = DecisionTree::fit(
            x.view(),
            &y,
            2,
            vec![0, 1, 2, 3],
            &params(1),
            &mut rng_for(1, &[]),
        );
        // Column 1 is constant, so even with mtry = 1 the search goes on to column 0.
        assert_eq!(tree.n_leaves(), 2);
        assert_eq!(proba(&tree, &[2.5, 0.0]), vec![1.0, 0.0]);
        assert_eq!(proba(&tree, &[2.5001, 0.0]), vec![0.0, 1.0]);
    }

    #[test]
    fn xor_needs_depth_two_and_leaf_size_limits_growth() {
        let x = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let y = [0, 1, 1, 0];
        let rows = vec![0, 1, 2, 3, 0, 1, 2, 3];
        let full = DecisionTree::fit(
            x.view(),
            &y,
            2,
            rows.clone(),
            &params(2),
            &mut rng_for(1, &[]),
        );
        for (i, row) in x.rows().into_iter().enumerate() {
            let p = proba(&full, row.as_slice().unwrap());
            assert_eq!(p[y[i]], 1.0, "row {i}");
        }
        let stump = TreeParams {
            max_depth: Some(1),
            ..params(2)
        };
        let shallow =
            DecisionTree::fit(x.view(), &y, 2, rows.clone(), &stump, &mut rng_for(1, &[]));
        assert_eq!(shallow.n_leaves(), 2);
        let big_leaves = TreeParams {
            min_samples_leaf: 5,
            ..params(2)
        };
        let root_only = DecisionTree::fit(x.view(), &y, 2, rows, &big_leaves, &mut rng_for(1, &[]));
        assert_eq!(root_only.n_leaves(), 1);
        assert_eq!(proba(&root_only, &[0.0, 0.0]), vec![0.5, 0.5]);
    }

    #[test]
    fn repeated_rows_weigh_the_leaf_frequencies() {
        let x = array![[0.0], [0.0], [1.0]];
        let y = [0, 1, 1];
        // Rows 0 and 1 are inseparable; row 1 drawn twice.
        let tree = DecisionTree::fit(
            x.view(),
            &y,
            3,
            vec![0, 1, 1, 2],
            &params(1),
            &mut rng_for(1, &[]),
        );
        assert_eq!(proba(&tree, &[0.0]), vec![1.0 / 3.0, 2.0 / 3.0, 0.0]);
        assert_eq!(proba(&tree, &[1.0]), vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn same_rng_same_tree() {
        let n = 30;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * 7 + j * 13) % 11) as f64);
        let y: Vec<usize> = (0..n).map(|i| (i * 5 % 3 == 0) as usize).collect();
        let rows: Vec<usize> = (0..n).collect();
        let a = DecisionTree::fit(
            x.view(),
            &y,
            2,
            rows.clone(),
            &params(1),
            &mut rng_for(3, &[]),
        );
        let b = DecisionTree::fit(x.view(), &y, 2, rows, &params(1), &mut rng_for(3, &[]));
        assert_eq!(a, b);
    }
}
