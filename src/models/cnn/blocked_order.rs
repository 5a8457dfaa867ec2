//! The order in which [`super::PackedConv`]'s register tiles take output pixels, and the taps a
//! tile can skip.
//!
//! Near a map's edges part of a kernel's window lies in the zero border, and those taps add
//! `0 · w`. On the small maps of a ResNet's last stages that is much of the work: 5 of 9 taps
//! for each pixel of a 2×2 map, 31 % of a 4×4 map's. A tile skips the kernel slices, rows and
//! columns that lie outside the map for every one of its pixels ([`TapWindow`]).
//!
//! For tiles to share their windows, pixels are numbered band by band ([`PixelOrder`]): along
//! each axis, the outputs whose window starts in the border, those whose window fits, and those
//! whose window ends in the border. Each region (a band per axis) is numbered across all images
//! of the batch before the next, so at batch 16 the top-left corners of a 2×2 map fill two
//! whole tiles. A 1×1 convolution without padding has one region: the plain order. Batches
//! smaller than half a tile keep the plain order and every tap (`kernel::banded`).
//!
//! **No bit changes.** A skipped tap's product is `0 · w = ±0` exactly, and a fused
//! multiply-add of a zero product returns its accumulator `a` unchanged for every `a` but `−0`.
//! The accumulator starts at `+0`, and becomes `−0` only if every product added so far was zero
//! and one was a negative product too small to represent. So each output keeps the sums of its
//! real taps in their order, whichever tile computes it, except that such an all-underflow sum
//! may keep `−0` where it had `+0`, which the bias then absorbs unless it is zero too. (Folded
//! weights are finite; an infinite weight would have given `0 · ∞ = NaN` on a border tap.)

/// The band boundaries `[0, a, b, out]` of an axis of `out` outputs over `input` values, kernel
/// `k`, stride `s`, padding `p`: outputs `a..b` read only interior values, outputs before `a`
/// start in the border and outputs from `b` end in it.
pub(super) fn bands(out: usize, input: usize, k: usize, s: usize, p: usize) -> [usize; 4] {
    // Output `o` reads inputs `o·s − p .. o·s − p + k`.
    let a = p.div_ceil(s).min(out);
    let fits_to = (input + p).checked_sub(k).map_or(0, |room| room / s + 1);
    [0, a, fits_to.clamp(a, out), out]
}

/// Pixels of a job in tile order: region by region (bands along depth, rows and columns, see
/// [`bands`]), within a region image by image, then slice, row and column.
#[derive(Debug, Clone, Copy)]
pub(super) struct PixelOrder {
    /// Images.
    pub(super) n: usize,
    /// Band boundaries along depth (`[0, 0, 1, 1]` for a 2-D map), rows and columns.
    pub(super) z: [usize; 4],
    pub(super) y: [usize; 4],
    pub(super) x: [usize; 4],
}

/// Where a tile's walk through a [`PixelOrder`] is: a region (`g`, 0..27, depth band major),
/// its bounds, and a pixel inside it. The bounds follow from `g`; they are kept so that
/// [`PixelOrder::step`], run for every pixel of every tile, compares against registers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cursor {
    g: usize,
    z0: usize,
    z1: usize,
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
    /// Image, slice, row and column of the current pixel.
    pub(super) i: usize,
    pub(super) z: usize,
    pub(super) y: usize,
    pub(super) x: usize,
}

impl PixelOrder {
    /// The plain order of `n` images of `(d, h, w)` outputs: one region.
    pub(super) fn plain(n: usize, (d, h, w): (usize, usize, usize)) -> PixelOrder {
        PixelOrder {
            n,
            z: [0, 0, d, d],
            y: [0, 0, h, h],
            x: [0, 0, w, w],
        }
    }

    /// The banded order of `n` images of `outs` outputs from inputs of `ins` values, kernel
    /// depth `kd` (1 for a 2-D map, which has one output slice) and size `k`, stride `s`,
    /// padding `p`.
    pub(super) fn banded(
        n: usize,
        outs: (usize, usize, usize),
        ins: (usize, usize, usize),
        (kd, k, s, p): (usize, usize, usize, usize),
    ) -> PixelOrder {
        PixelOrder {
            n,
            z: if kd == 1 {
                [0, 0, outs.0, outs.0]
            } else {
                bands(outs.0, ins.0, kd, s, p)
            },
            y: bands(outs.1, ins.1, k, s, p),
            x: bands(outs.2, ins.2, k, s, p),
        }
    }

    /// The region `g`'s bounds `(z0, z1, y0, y1, x0, x1)`.
    fn region(&self, g: usize) -> (usize, usize, usize, usize, usize, usize) {
        let (bz, by, bx) = (g / 9, g / 3 % 3, g % 3);
        (
            self.z[bz],
            self.z[bz + 1],
            self.y[by],
            self.y[by + 1],
            self.x[bx],
            self.x[bx + 1],
        )
    }

    /// A cursor at the first pixel of region `g`, or past the end when `g` is 27.
    fn start(&self, g: usize) -> Cursor {
        let (z0, z1, y0, y1, x0, x1) = if g < 27 {
            self.region(g)
        } else {
            (0, 0, 0, 0, 0, 0)
        };
        Cursor {
            g,
            z0,
            z1,
            y0,
            y1,
            x0,
            x1,
            i: 0,
            z: z0,
            y: y0,
            x: x0,
        }
    }

    /// The cursor at pixel `p` of the order (past the end when `p` is not below the count).
    /// Runs once per call of the tile loop, many times a layer at batch 1, so empty bands are
    /// passed over without computing their regions (the plain order has one region).
    #[inline]
    pub(super) fn seek(&self, mut p: usize) -> Cursor {
        for bz in 0..3 {
            let dz = self.z[bz + 1] - self.z[bz];
            if dz == 0 {
                continue;
            }
            for by in 0..3 {
                let dy = self.y[by + 1] - self.y[by];
                if dy == 0 {
                    continue;
                }
                for bx in 0..3 {
                    let dx = self.x[bx + 1] - self.x[bx];
                    let per_image = dz * dy * dx;
                    if p < self.n * per_image {
                        let mut c = self.start((bz * 3 + by) * 3 + bx);
                        let q = p % per_image;
                        c.i = p / per_image;
                        c.z += q / (dy * dx);
                        c.y += q / dx % dy;
                        c.x += q % dx;
                        return c;
                    }
                    p -= self.n * per_image;
                }
            }
        }
        self.start(27)
    }

    /// Moves `c` to the next pixel (past the end after the last).
    #[inline(always)]
    pub(super) fn step(&self, c: &mut Cursor) {
        c.x += 1;
        if c.x < c.x1 {
            return;
        }
        c.x = c.x0;
        c.y += 1;
        if c.y < c.y1 {
            return;
        }
        c.y = c.y0;
        c.z += 1;
        if c.z < c.z1 {
            return;
        }
        c.z = c.z0;
        c.i += 1;
        if c.i < self.n {
            return;
        }
        // By value: a cursor passed by reference to a call that is not inlined would have to
        // live in memory, and every step would load and store it.
        *c = self.next_region(c.g);
    }

    /// The first pixel of the first non-empty region after `g` (past the end after the last).
    #[cold]
    #[inline(never)]
    fn next_region(&self, g: usize) -> Cursor {
        let mut g = g + 1;
        while g < 27 {
            let (z0, z1, y0, y1, x0, x1) = self.region(g);
            if z1 > z0 && y1 > y0 && x1 > x0 {
                break;
            }
            g += 1;
        }
        self.start(g)
    }
}

/// The kernel slices, rows and columns a tile runs: for each axis the smallest range holding
/// every tap that reads inside the map, for any of the tile's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TapWindow {
    pub(super) z: (usize, usize),
    pub(super) y: (usize, usize),
    pub(super) x: (usize, usize),
}

/// The taps `lo..hi` of a `k`-tap kernel at output `o` that read inside `0..input` (stride
/// `s`, padding `p`).
#[inline(always)]
pub(super) fn taps_inside(o: usize, input: usize, k: usize, s: usize, p: usize) -> (usize, usize) {
    let start = o * s;
    (
        p.saturating_sub(start),
        k.min((input + p).saturating_sub(start)),
    )
}

impl TapWindow {
    /// The window of a tile whose pixels' slices, rows and columns lie within `lo..=hi`, on an
    /// input of `(d, h, w)` values with kernel depth `kd` (1 in 2-D) and size `k`, stride `s`,
    /// padding `p`. An axis's first tap inside the map only falls, and its last only rises,
    /// as the output moves back, so the extremes decide.
    #[inline(always)]
    pub(super) fn of_extent(
        lo: (usize, usize, usize),
        hi: (usize, usize, usize),
        (d, h, w): (usize, usize, usize),
        (kd, k, s, p): (usize, usize, usize, usize),
    ) -> TapWindow {
        let axis = |lo, hi, input, k| {
            (
                taps_inside(hi, input, k, s, p).0,
                taps_inside(lo, input, k, s, p).1,
            )
        };
        TapWindow {
            // A 2-D map's one slice has its one kernel slice.
            z: if kd == 1 {
                (0, 1)
            } else {
                axis(lo.0, hi.0, d, kd)
            },
            y: axis(lo.1, hi.1, h, k),
            x: axis(lo.2, hi.2, w, k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_split_each_axis_where_the_window_leaves_the_map() {
        // 3×3, stride 1, padding 1 on 16 rows: row 0 starts in the border, row 15 ends in it.
        assert_eq!(bands(16, 16, 3, 1, 1), [0, 1, 15, 16]);
        // On 2 rows no window fits: the top row starts in the border, the bottom ends in it.
        assert_eq!(bands(2, 2, 3, 1, 1), [0, 1, 1, 2]);
        // The 7×7 stride-2 stem, padding 3, 64 → 32: rows 0 and 1 start in the border.
        assert_eq!(bands(32, 64, 7, 2, 3), [0, 2, 31, 32]);
        // 3×3 stride 2 from 4 to 2 rows: only row 0 reaches into the border.
        assert_eq!(bands(2, 4, 3, 2, 1), [0, 1, 2, 2]);
        // A 1×1 without padding: one band.
        assert_eq!(bands(5, 5, 1, 1, 0), [0, 0, 5, 5]);
    }

    #[test]
    fn the_order_visits_every_pixel_once_and_seek_agrees_with_step() {
        for (n, z, y, x) in [
            (3, [0, 0, 1, 1], bands(4, 4, 3, 1, 1), bands(5, 5, 3, 1, 1)),
            (
                2,
                bands(3, 3, 3, 1, 1),
                bands(2, 2, 3, 1, 1),
                bands(2, 4, 3, 2, 1),
            ),
            (1, [0, 0, 1, 1], bands(7, 7, 1, 1, 0), bands(7, 7, 1, 1, 0)),
        ] {
            let order = PixelOrder { n, z, y, x };
            let total = n * z[3] * y[3] * x[3];
            let mut seen = vec![false; total];
            let mut c = order.seek(0);
            for p in 0..total {
                let s = order.seek(p);
                assert_eq!((s.i, s.z, s.y, s.x), (c.i, c.z, c.y, c.x), "pixel {p}");
                let flat = ((c.i * z[3] + c.z) * y[3] + c.y) * x[3] + c.x;
                assert!(!seen[flat], "pixel {p} visited twice");
                seen[flat] = true;
                order.step(&mut c);
            }
            assert!(seen.iter().all(|&s| s));
            assert_eq!(c.g, 27);
        }
    }

    #[test]
    fn a_batch_of_corners_fills_whole_tiles_with_one_window() {
        // A 2×2 map of 8 images, 3×3 padding 1: each corner of all 8 images is one tile.
        let order = PixelOrder {
            n: 8,
            z: [0, 0, 1, 1],
            y: bands(2, 2, 3, 1, 1),
            x: bands(2, 2, 3, 1, 1),
        };
        let mut c = order.seek(0);
        for corner in 0..4 {
            let (mut lo, mut hi) = ((0, 2, 2), (0, 0, 0));
            for _ in 0..8 {
                lo = (0, lo.1.min(c.y), lo.2.min(c.x));
                hi = (0, hi.1.max(c.y), hi.2.max(c.x));
                order.step(&mut c);
            }
            let window = TapWindow::of_extent(lo, hi, (1, 2, 2), (1, 3, 1, 1));
            let (y, x) = ([(1, 3), (0, 2)][corner / 2], [(1, 3), (0, 2)][corner % 2]);
            assert_eq!(window, TapWindow { z: (0, 1), y, x }, "corner {corner}");
        }
    }

    #[test]
    fn taps_inside_keep_the_taps_that_read_the_map() {
        // 3×3 padding 1 on 4 values: output 0 reads -1..2, output 3 reads 2..5.
        assert_eq!(taps_inside(0, 4, 3, 1, 1), (1, 3));
        assert_eq!(taps_inside(1, 4, 3, 1, 1), (0, 3));
        assert_eq!(taps_inside(3, 4, 3, 1, 1), (0, 2));
        // The stem: output 0 of a 7-tap stride-2 kernel, padding 3, reads -3..4; output 31 reads 59..66.
        assert_eq!(taps_inside(0, 64, 7, 2, 3), (3, 7));
        assert_eq!(taps_inside(31, 64, 7, 2, 3), (0, 5));
    }
}
