//! The im2col lowering of a 2-D convolution and the per-thread work buffers its GEMMs use.
//!
//! Principal types: [`Lowering`] (one convolution at one input size, each kernel tap's valid
//! output range worked out once) and [`Scratch`] (a buffer borrowed from the calling thread's
//! spares). Both only move data: the lowered matrix is bit for bit im2col's definition (tested
//! below), so the convolutions in [`super::fastconv`] and [`super::trainconv`] compute the same
//! GEMMs as before they existed.

use super::fastconv::Geometry;

impl Geometry {
    /// The im2col lowering of `h×w` inputs to `oh×ow` outputs, with each kernel tap's valid
    /// output range worked out once.
    pub(crate) fn lowering(&self, (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Lowering {
        let k = self.kernel;
        let taps = (0..k * k)
            .map(|t| {
                let (ky, kx) = (t / k, t % k);
                Tap {
                    ky,
                    kx,
                    cols: self.valid_columns(kx, w, ow),
                    rows: self.valid_columns(ky, h, oh),
                }
            })
            .collect();
        Lowering {
            stride: self.stride,
            padding: self.padding,
            input: (h, w),
            output: (oh, ow),
            taps,
        }
    }
}

/// One kernel tap (`ky`, `kx`) and the output rows and columns whose input lies inside the
/// image.
#[derive(Debug, Clone, Copy)]
struct Tap {
    ky: usize,
    kx: usize,
    cols: (usize, usize),
    rows: (usize, usize),
}

/// The im2col lowering of one convolution at one input size (see [`Geometry::lowering`]).
///
/// [`Lowering::row`] runs once per row of every convolution, so its per-call cost matters: on
/// the 4×4 and 2×2 maps of a narrow ResNet, divisions and one copy per output row were most of
/// the inference time. The taps' ranges are computed once per convolution call; a stride-1
/// convolution with `ow == w` copies the whole shifted plane at once and zeroes the few
/// wrapped border columns; other geometries go row by row.
#[derive(Debug, Clone)]
pub(crate) struct Lowering {
    stride: usize,
    padding: usize,
    input: (usize, usize),
    output: (usize, usize),
    taps: Vec<Tap>,
}

impl Lowering {
    /// Row `r` = (channel, ky, kx) of one image's im2col matrix: `oh·ow` values into `dst`.
    pub(crate) fn row(&self, x: &[f32], r: usize, dst: &mut [f32]) {
        let ((h, w), (oh, ow)) = (self.input, self.output);
        let (ci, tap) = (r / self.taps.len(), self.taps[r % self.taps.len()]);
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        let dst = &mut dst[..oh * ow];
        let ((first, last), (rows_from, rows_to)) = (tap.cols, tap.rows);
        if first == last || rows_from == rows_to {
            dst.fill(0.0);
            return;
        }
        if self.stride == 1 && ow == w {
            self.shifted_plane(plane, tap, dst);
            return;
        }
        let (s, p) = (self.stride, self.padding);
        dst[..rows_from * ow].fill(0.0);
        dst[rows_to * ow..].fill(0.0);
        let x0 = first * s + tap.kx - p;
        for oy in rows_from..rows_to {
            let src = &plane[(oy * s + tap.ky - p) * w..][..w];
            let out = &mut dst[oy * ow..(oy + 1) * ow];
            out[..first].fill(0.0);
            out[last..].fill(0.0);
            if s == 1 {
                for (o, v) in out[first..last].iter_mut().zip(&src[x0..]) {
                    *o = *v;
                }
            } else if s == 2 {
                // A constant stride lets the compiler vectorise the gather (even lanes).
                for (o, v) in out[first..last].iter_mut().zip(src[x0..].iter().step_by(2)) {
                    *o = *v;
                }
            } else {
                for (j, o) in out[first..last].iter_mut().enumerate() {
                    *o = src[x0 + j * s];
                }
            }
        }
    }

    /// Stride 1 with `ow == w`: output pixel `i` of the valid rows reads plane index
    /// `i + (ky − p)·w + (kx − p)`, one contiguous copy; columns outside the tap's valid range
    /// picked up a neighbouring row's value (or nothing) and are zeroed afterwards.
    fn shifted_plane(&self, plane: &[f32], tap: Tap, dst: &mut [f32]) {
        let (w, p) = (self.output.1, self.padding);
        let ((first, last), (rows_from, rows_to)) = (tap.cols, tap.rows);
        dst[..rows_from * w].fill(0.0);
        dst[rows_to * w..].fill(0.0);
        let out = &mut dst[rows_from * w..rows_to * w];
        let n = out.len();
        let src_from = (rows_from * w + tap.ky * w + tap.kx) as isize - (p * w + p) as isize;
        // Only border columns of the first and last valid rows can fall outside the plane.
        let lead = (-src_from).max(0) as usize;
        let trail = (src_from + n as isize - plane.len() as isize).max(0) as usize;
        let start = (src_from + lead as isize) as usize;
        out[lead..n - trail].copy_from_slice(&plane[start..start + n - lead - trail]);
        out[..lead].fill(0.0);
        out[n - trail..].fill(0.0);
        if first > 0 || last < w {
            for row in out.chunks_exact_mut(w) {
                row[..first].fill(0.0);
                row[last..].fill(0.0);
            }
        }
    }
}

thread_local! {
    /// Spare im2col / product buffers of this thread (see [`Scratch`]).
    static SPARE: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A work buffer borrowed from the calling thread's spares and given back on drop, so that
/// the im2col and product matrices of every convolution call are not allocated and zeroed
/// afresh (zeroing alone was a tenth of a batch's inference time). Its contents are stale
/// values from an earlier call: every user overwrites all `len` values before reading any.
/// Taking moves the vector out of the thread-local list, so a rayon task that re-enters a
/// convolution on the same thread (work stealing while waiting) gets a buffer of its own.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// A buffer of `len` values (only newly grown space is zeroed).
    pub(crate) fn take(len: usize) -> Scratch {
        let mut buf = SPARE
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_default();
        buf.resize(len, 0.0);
        Scratch(buf)
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        // A few spares per thread cover one convolution's needs; beyond that, free.
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < 4 {
                spare.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col by its definition: entry (c, ky, kx; oy, ox) is the input at
    /// (c, oy·s + ky − p, ox·s + kx − p), zero outside the image.
    fn naive_im2col(g: &Geometry, x: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
        let (oh, ow) = g.out_size(h, w).unwrap();
        let (k, s, p) = (g.kernel as isize, g.stride as isize, g.padding as isize);
        let mut col = Vec::new();
        for c in 0..g.c_in as isize {
            for ky in 0..k {
                for kx in 0..k {
                    for oy in 0..oh as isize {
                        for ox in 0..ow as isize {
                            let (iy, ix) = (oy * s + ky - p, ox * s + kx - p);
                            let inside =
                                (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                            col.push(if inside {
                                x[((c * h as isize + iy) * w as isize + ix) as usize]
                            } else {
                                0.0
                            });
                        }
                    }
                }
            }
        }
        col
    }

    #[test]
    fn lowering_equals_im2col_by_definition() {
        // Strides 1–3, padding up to beyond the map, non-square and 1-pixel maps.
        for (kernel, stride, padding) in [
            (1, 1, 0),
            (1, 2, 0),
            (3, 1, 1),
            (3, 2, 1),
            (3, 1, 2),
            (5, 1, 2),
            (5, 3, 1),
            (7, 2, 3),
            (3, 1, 0),
        ] {
            for (h, w) in [(1, 1), (2, 2), (4, 4), (5, 3), (3, 7), (9, 8), (16, 16)] {
                let g = Geometry {
                    c_in: 2,
                    c_out: 1,
                    kernel,
                    stride,
                    padding,
                };
                let Ok((oh, ow)) = g.out_size(h, w) else {
                    continue;
                };
                let x: Vec<f32> = (0..2 * h * w).map(|i| i as f32 + 1.0).collect();
                // Stale values in the buffer must all be overwritten.
                let mut col = vec![f32::NAN; g.depth() * oh * ow];
                g.im2col(&x, (h, w), (oh, ow), &mut col, oh * ow);
                let want = naive_im2col(&g, &x, (h, w));
                assert_eq!(
                    col.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "kernel {kernel} stride {stride} padding {padding} on {h}×{w}"
                );
            }
        }
    }
}
