//! How a blocked inference pass uses rayon's threads: a batch is split into one share of whole
//! images per thread ([`batch_pass`]), a pass is handed to the pool once ([`in_pool`]), a
//! convolution splits across threads only above a size ([`serial_below_macs`]), and into work
//! items of tiles and output blocks as [`item_split`] says.

use candle_core::{Result, Tensor};
use rayon::prelude::*;

/// Convolutions with fewer multiply-adds than this run on the calling thread: handing a loop
/// to rayon's pool from outside it (and waking the caller after) cost more than the work.
const SERIAL_BELOW_MACS: usize = 1 << 21;

/// The same threshold for a pass run by [`in_pool`], where a split is a join inside the pool
/// (width-16 ResNet-18, batch 1: 256 k and 500 k measured alike).
const IN_POOL_SERIAL_BELOW_MACS: usize = 1 << 18;

thread_local! {
    /// Whether this thread runs a pass handed to rayon's pool by [`in_pool`].
    static IN_POOL_PASS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The multiply-adds below which a convolution runs on the calling thread, now.
pub(crate) fn serial_below_macs() -> usize {
    if IN_POOL_PASS.with(std::cell::Cell::get) {
        IN_POOL_SERIAL_BELOW_MACS
    } else {
        SERIAL_BELOW_MACS
    }
}

/// Runs a whole inference pass `f` on one of rayon's threads when called from outside the
/// pool (and the pool has more than one thread), else here.
///
/// A parallel loop started outside the pool hands itself to the pool and puts the caller to
/// sleep until it ends; that cost more than a small layer's work, so such layers ran on one
/// thread (a width-16 ResNet-18 at batch 1: all twenty convolutions). Handed over once per
/// pass, every layer's split is a cheap join inside the pool, and layers from
/// [`IN_POOL_SERIAL_BELOW_MACS`] multiply-adds split. Which thread computes a tile changes no
/// bit (see `blocked`).
pub(crate) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pass = || {
        let outer = IN_POOL_PASS.with(|p| p.replace(true));
        /// Restores the flag on every exit path.
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_POOL_PASS.with(|p| p.set(self.0));
            }
        }
        let _restore = Restore(outer);
        f()
    };
    if rayon::current_thread_index().is_none() && rayon::current_num_threads() > 1 {
        rayon::scope(|_| pass())
    } else {
        pass()
    }
}

/// Batches of at least this many images per thread are split by [`batch_pass`].
const SPLIT_MIN_IMAGES_PER_THREAD: usize = 1;

/// Where [`batch_pass`] runs a batch too small to split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsplit {
    /// Handed to rayon's pool once ([`in_pool`]).
    InPool,
    /// On the calling thread, as the net's own code splits it (the Inception-style net joins
    /// its branches; handing it over as well measured mixed at batch 1).
    Here,
}

/// Runs the pass `f` over the batch `xs` (`[batch, …]`, the output's first dimension too).
///
/// A batch of at least [`SPLIT_MIN_IMAGES_PER_THREAD`] images per thread is split into one
/// equal share per thread, and each share goes through the whole net on its thread: layers
/// then need no hand-off or wait between threads, which a per-layer split pays at every layer
/// (about 50 times for a ResNet-50). Left-over images, and smaller batches, run as `unsplit`
/// says, with every layer split. A share's layers still split when another thread is idle (it
/// steals their items), so a share that runs late is helped at the end. An image's outputs do
/// not depend on its batch (see `blocked`), so neither do they on the split.
pub(crate) fn batch_pass(
    xs: &Tensor,
    unsplit: Unsplit,
    f: impl Fn(&Tensor) -> Result<Tensor> + Sync,
) -> Result<Tensor> {
    let whole = |xs: &Tensor| match unsplit {
        Unsplit::InPool => in_pool(|| f(xs)),
        Unsplit::Here => f(xs),
    };
    let n = xs.dim(0)?;
    let threads = rayon::current_num_threads();
    let share = n / threads;
    if threads < 2 || share < SPLIT_MIN_IMAGES_PER_THREAD {
        return whole(xs);
    }
    let mut parts = (0..threads)
        .into_par_iter()
        .with_max_len(1)
        .map(|t| in_pool(|| f(&xs.narrow(0, t * share, share)?)))
        .collect::<Result<Vec<_>>>()?;
    let rest = n - threads * share;
    if rest > 0 {
        parts.push(whole(&xs.narrow(0, threads * share, rest)?)?);
    }
    Tensor::cat(&parts, 0)
}

/// The work of one convolution, for [`item_split`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemSplit {
    /// Register tiles of output pixels.
    pub(crate) tiles: usize,
    /// Groups of output blocks (one register tile's worth each).
    pub(crate) groups: usize,
    /// The most tiles a range may hold (its input must stay in the second-level cache).
    pub(crate) max_per_range: usize,
    /// Items wanted, where there are that many (tile, group) pairs.
    pub(crate) items: usize,
    /// Input bytes all tiles read.
    pub(crate) input_bytes: usize,
    /// Weight bytes all groups read.
    pub(crate) weight_bytes: usize,
}

/// `(ranges, spans)`: a convolution's work items are every (tile range, group span) pair,
/// ranges and spans as even as whole tiles and groups allow.
///
/// Every range reads all the weights once (each group's panel, then reused from cache over the
/// range's tiles), and every span reads all the input once (each range's, then reused over the
/// span's groups). Of the splits into at least `items` items (or one per tile and group where
/// there are fewer) with ranges no larger than `max_per_range`, this takes the one that reads
/// the fewest bytes. Splitting by tiles first (the rule before) read a ResNet-50's last-stage
/// weights once per tile range, ten times for a 7×7 map at batch 1: 4 MB per layer ten times,
/// where its input is 100–400 kB.
pub(crate) fn item_split(w: ItemSplit) -> (usize, usize) {
    let (tiles, groups) = (w.tiles.max(1), w.groups.max(1));
    let items = w.items.clamp(1, tiles * groups);
    let fewest = tiles.div_ceil(w.max_per_range.max(1));
    (fewest..=fewest.max(items.min(tiles)))
        .map(|ranges| (ranges, items.div_ceil(ranges).min(groups)))
        .filter(|&(ranges, spans)| ranges * spans >= items)
        // `min_by_key` keeps the first of equals: ties go to fewer ranges.
        .min_by_key(|&(ranges, spans)| ranges * w.weight_bytes + spans * w.input_bytes)
        // Never taken: the most ranges tried always give enough items.
        .unwrap_or((fewest, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::layers::ClassifierNet;
    use crate::models::cnn::resnet::{ResNet, ResNetConfig, ResNetDepth};
    use crate::models::cnn::store::seeded_varmap;
    use candle_core::{Device, Tensor};

    /// A rayon pool of `threads` threads.
    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// A batch-norm-folded ResNet-18 of base width `width`, weights seeded by `seed`.
    fn folded_resnet(seed: u64, in_channels: usize, classes: usize, width: usize) -> ResNet {
        let (_map, vb) = seeded_varmap(seed);
        let mut cfg = ResNetConfig::torchvision(ResNetDepth::R18, in_channels, classes);
        cfg.base_width = width;
        let mut net = ResNet::new(&cfg, None, vb).unwrap();
        net.fold_batch_norm().unwrap();
        net
    }

    /// The bits of a tensor's values.
    fn bits(t: Tensor) -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    #[test]
    fn a_pass_gives_the_same_bits_handed_to_the_pool_or_not() {
        let net = folded_resnet(7, 1, 2, 16);
        let values: Vec<f32> = (0..3 * 48 * 40)
            .map(|k| ((k * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let xs = Tensor::from_vec(values, (3, 1, 48, 40), &Device::Cpu).unwrap();
        // One thread: every split runs in turn on that thread.
        let one = pool(1);
        let three = pool(3);
        for xs in [xs.clone(), xs.narrow(0, 1, 1).unwrap()] {
            let alone = one.install(|| bits(net.features_t(&xs, false).unwrap()));
            // On a pool of three: the batch of 3 is split into one image per thread
            // (`batch_pass`); the single image is not, and since the pass is already on the
            // pool, `in_pool` only lowers the threshold: layers from 256 k multiply-adds split
            // three ways.
            let split = three.install(|| bits(net.features_t(&xs, false).unwrap()));
            // From this thread, outside any pool: the pass is handed to the global pool.
            let handed = bits(net.features_t(&xs, false).unwrap());
            assert_eq!(split, alone);
            assert_eq!(handed, alone);
        }
        assert!(
            !IN_POOL_PASS.with(std::cell::Cell::get),
            "the flag is restored"
        );
    }

    #[test]
    fn a_batch_split_into_shares_gives_each_image_its_own_bits() {
        let net = folded_resnet(11, 2, 3, 8);
        let n = 7;
        let values: Vec<f32> = (0..n * 2 * 24 * 20)
            .map(|k| ((k * 53 % 97) as f32 / 40.0) - 1.2)
            .collect();
        let xs = Tensor::from_vec(values, (n, 2, 24, 20), &Device::Cpu).unwrap();
        // Each image alone, on one thread (no split of any kind).
        let alone: Vec<u32> = pool(1).install(|| {
            (0..n)
                .flat_map(|i| bits(net.features_t(&xs.narrow(0, i, 1).unwrap(), false).unwrap()))
                .collect()
        });
        // Two threads: shares of 3 and one image left over; three: shares of 2 and one left
        // over; eight: too few images to split.
        for threads in [2, 3, 8] {
            let got = pool(threads).install(|| bits(net.features_t(&xs, false).unwrap()));
            assert_eq!(got, alone, "{threads} threads");
        }
    }

    fn split(
        tiles: usize,
        groups: usize,
        max_per_range: usize,
        input: usize,
        weights: usize,
    ) -> (usize, usize) {
        item_split(ItemSplit {
            tiles,
            groups,
            max_per_range,
            items: 16,
            input_bytes: input,
            weight_bytes: weights,
        })
    }

    /// [`split`] of a batch-1 1×1 convolution from `c_in` to `c_out` channels on an `hw` map,
    /// in 4-block × 5-pixel tiles, as `dispatch` sizes it (256 kB of input per range).
    fn split_1x1(c_in: usize, c_out: usize, hw: usize) -> (usize, usize) {
        let tiles = (hw * hw).div_ceil(5);
        let groups = c_out / 32;
        let tile_bytes = 5 * c_in * 4;
        let group_weight_bytes = c_in * 32 * 4;
        split(
            tiles,
            groups,
            (256 << 10) / tile_bytes,
            tiles * tile_bytes,
            groups * group_weight_bytes,
        )
    }

    #[test]
    fn weight_heavy_layers_split_by_output_blocks_and_input_heavy_ones_by_tiles() {
        // ResNet-50's 2048→512 1×1 at 7×7: 10 tiles, 16 groups, 4 MB of weights, 400 kB of
        // input, ranges of at most 6 tiles. Two ranges (the fewest), eight spans.
        assert_eq!(split_1x1(2048, 512, 7), (2, 8));
        // Its 64→256 1×1 at 56×56: 628 tiles, 8 groups, 64 kB of weights, 785 kB of input:
        // sixteen ranges, one span.
        assert_eq!(split_1x1(64, 256, 56), (16, 1));
    }

    #[test]
    fn an_item_split_covers_the_work_in_enough_items_within_the_range_bound() {
        for tiles in [1, 2, 5, 10, 17, 40, 628] {
            for groups in [1, 2, 3, 16, 64] {
                for max_per_range in [1, 3, 6, 1000] {
                    for (input, weights) in [(1, 1 << 20), (1 << 20, 1), (1000, 1000)] {
                        let (ranges, spans) = split(tiles, groups, max_per_range, input, weights);
                        let case = (tiles, groups, max_per_range, input, weights);
                        assert!((1..=tiles).contains(&ranges), "{case:?}: {ranges}");
                        assert!((1..=groups).contains(&spans), "{case:?}: {spans}");
                        // Even ranges: the largest has ⌈tiles / ranges⌉ tiles.
                        assert!(
                            tiles.div_ceil(ranges) <= max_per_range,
                            "{case:?}: {ranges}"
                        );
                        // As many items as asked for, or one per (tile, group).
                        let items = ranges * spans;
                        assert!(items >= 16.min(tiles * groups), "{case:?}: {items}");
                    }
                }
            }
        }
    }
}
