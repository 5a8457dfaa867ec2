//! Splitting an experiment's cells across machines, and merging them back.
//!
//! A shard `i/N` runs a deterministic subset of the cells and stores them in a shared cell
//! cache; `merge` runs the experiment again with every cell read from that cache, so the merged
//! report is the single-machine report, byte for byte. Cells are assigned by longest
//! processing time first: sorted by estimated cost (descending, then by key), each goes to the
//! shard with the least estimated load so far (ties: the lowest index). The assignment depends
//! only on the plan, never on timing.

use super::plan::Cell;

/// Which part of the cells a run computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `i/N` with 0 ≤ i < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard {s:?}: expected INDEX/COUNT, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: bad index"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("shard {s:?}: bad count"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {s:?}: need 0 <= INDEX < COUNT"));
        }
        Ok(Shard { index, count })
    }
}

/// The shard of each cell (same order as `cells`), balancing the estimated `costs`.
pub fn assign_shards(cells: &[Cell], costs: &[f64], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| {
        costs[b]
            .total_cmp(&costs[a])
            .then_with(|| cells[a].cmp(&cells[b]))
    });
    let mut load = vec![0.0f64; count.max(1)];
    let mut shard_of = vec![0; cells.len()];
    for i in order {
        let target = (0..load.len())
            .min_by(|&x, &y| load[x].total_cmp(&load[y]).then(x.cmp(&y)))
            .unwrap_or(0);
        shard_of[i] = target;
        load[target] += costs[i];
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::plan::plan_cells;

    #[test]
    fn parses_index_over_count() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn every_cell_in_exactly_one_shard_and_loads_balance() {
        let cells = plan_cells(&["cheap".into(), "dear".into()], 1, 5);
        let costs: Vec<f64> = cells
            .iter()
            .map(|c| if c.model == "dear" { 10.0 } else { 1.0 })
            .collect();
        let shard_of = assign_shards(&cells, &costs, 3);
        let mut load = [0.0; 3];
        for (i, &s) in shard_of.iter().enumerate() {
            load[s] += costs[i];
        }
        let max = load.iter().cloned().fold(0.0, f64::max);
        let min = load.iter().cloned().fold(f64::MAX, f64::min);
        assert!(max - min <= 10.0, "{load:?}");
        assert_eq!(shard_of, assign_shards(&cells, &costs, 3));
    }
}
