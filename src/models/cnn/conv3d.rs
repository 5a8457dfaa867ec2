//! 3-D convolution for the CPU, trainable (forward and backward) and fused for inference.
//!
//! Principal items: [`conv3d`] (with gradients for input and weight), [`FusedConv3d`] (bias,
//! residual and ReLU in the epilogue, no gradients) and [`Conv3dShape`]. candle 0.11 has no 3-D
//! convolution, so this is the 3-D analogue of [`super::trainconv`]: each volume is lowered to
//! an im2col matrix `[c_in·kd·kh·kw, od·oh·ow]`, one GEMM gives `[c_out, od·oh·ow]`, and the
//! gradients are the adjoints of that linear map, `∂W = ∂Y·colsᵀ` and `∂x = col2im(Wᵀ·∂Y)`.
//! The work is cut into units whose im2col matrix fits a cache-sized budget: several small
//! volumes side by side, or slabs of output slices of one large volume (the cut depends on
//! shapes only). `∂W` accumulates over units in a fixed order, `∂x` is scattered one (volume,
//! channel) plane per task, and gemm splits only its m and n axes across threads, so results do
//! not depend on the thread count.
//! Reference: Chellapilla et al. 2006 (im2col lowering); PyTorch's `Conv3d` for the semantics
//! (NCDHW layout, weight `[c_out, c_in, kd, kh, kw]`, zero padding on both sides).

use super::fastconv::{Epilogue, contiguous_f32};
use super::im2col::Scratch;
use super::matmul::{gemm_into, gemm_rows_into, matmul};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Stride and zero padding of a 3-D convolution, per axis (depth, height, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv3dShape {
    /// Stride along d, h, w.
    pub stride: [usize; 3],
    /// Zero padding on each side along d, h, w.
    pub padding: [usize; 3],
}

impl Conv3dShape {
    /// The same stride and padding along every axis.
    pub fn cubic(stride: usize, padding: usize) -> Conv3dShape {
        Conv3dShape {
            stride: [stride.max(1); 3],
            padding: [padding; 3],
        }
    }
}

/// Upper bound on the floats of one work unit's im2col matrix (4 MiB), so that the lowered
/// matrix stays in the last-level cache between being written and being read by the GEMM.
const TILE_FLOATS: usize = 1 << 20;

/// The full geometry of one 3-D convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry3 {
    c_in: usize,
    c_out: usize,
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    /// [`TILE_FLOATS`], smaller in tests to exercise the tiling.
    tile_floats: usize,
}

/// A piece of work: `count` whole volumes from `first`, or output slices `slices` of volume
/// `first` alone (`count == 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unit {
    first: usize,
    count: usize,
    slices: std::ops::Range<usize>,
}

impl Geometry3 {
    fn new(weight: &[usize], shape: Conv3dShape, tile_floats: usize) -> Result<Geometry3> {
        let &[c_out, c_in, kd, kh, kw] = weight else {
            candle_core::bail!("conv3d: weight must be [c_out, c_in, kd, kh, kw], got {weight:?}")
        };
        Ok(Geometry3 {
            c_in,
            c_out,
            kernel: [kd, kh, kw],
            stride: shape.stride.map(|s| s.max(1)),
            padding: shape.padding,
            tile_floats: tile_floats.max(1),
        })
    }

    /// Output extent along each axis, or an error naming the input when it is smaller than
    /// the kernel.
    fn out_size(&self, dims: [usize; 3]) -> Result<[usize; 3]> {
        let mut out = [0; 3];
        for a in 0..3 {
            match (dims[a] + 2 * self.padding[a]).checked_sub(self.kernel[a]) {
                Some(d) => out[a] = d / self.stride[a] + 1,
                None => candle_core::bail!(
                    "conv3d: input {dims:?} smaller than the kernel {:?}",
                    self.kernel
                ),
            }
        }
        Ok(out)
    }

    /// Rows of the im2col matrix: `c_in·kd·kh·kw`.
    fn depth(&self) -> usize {
        self.c_in * self.kernel.iter().product::<usize>()
    }

    /// The work units of a batch, in a fixed order that depends on shapes only: groups of whole
    /// volumes when one volume's im2col matrix fits the tile budget, otherwise slabs of output
    /// slices of one volume at a time.
    fn units(&self, out: [usize; 3], batch: usize) -> Vec<Unit> {
        let [od, oh, ow] = out;
        let per_slice = self.depth() * oh * ow;
        if per_slice * od <= self.tile_floats {
            let count = (self.tile_floats / (per_slice * od).max(1)).clamp(1, batch.max(1));
            (0..batch)
                .step_by(count)
                .map(|first| Unit {
                    first,
                    count: count.min(batch - first),
                    slices: 0..od,
                })
                .collect()
        } else {
            let slab = (self.tile_floats / per_slice.max(1)).clamp(1, od);
            (0..batch)
                .flat_map(|first| {
                    (0..od).step_by(slab).map(move |z| Unit {
                        first,
                        count: 1,
                        slices: z..(z + slab).min(od),
                    })
                })
                .collect()
        }
    }

    /// Output positions `first..last` along the width whose input column `o·s + kx − p` lies
    /// inside `0..w`.
    fn valid_columns(&self, kx: usize, w: usize, ow: usize) -> (usize, usize) {
        let (s, p) = (self.stride[2], self.padding[2] as isize);
        let first = ((p - kx as isize).max(0) as usize).div_ceil(s);
        let right = w as isize + p - kx as isize;
        let last = if right <= 0 {
            0
        } else {
            (right as usize).div_ceil(s).min(ow)
        };
        (first, last.max(first))
    }

    /// Kernel tap (channel, kz, ky, kx) of im2col row `r`.
    fn tap(&self, r: usize) -> (usize, usize, usize, usize) {
        let [kd, kh, kw] = self.kernel;
        (
            r / (kd * kh * kw),
            (r / (kh * kw)) % kd,
            (r / kw) % kh,
            r % kw,
        )
    }

    /// Row `r` of one volume's im2col matrix restricted to output slices `slices`
    /// (`slices.len()·oh·ow` values; zero outside the volume).
    fn im2col_row(
        &self,
        x: &[f32],
        r: usize,
        (dims, out): ([usize; 3], [usize; 3]),
        slices: std::ops::Range<usize>,
        dst: &mut [f32],
    ) {
        let [d, h, w] = dims;
        let [_, oh, ow] = out;
        let (ci, kz, ky, kx) = self.tap(r);
        let vol = &x[ci * d * h * w..(ci + 1) * d * h * w];
        let (first, last) = self.valid_columns(kx, w, ow);
        if first == last {
            dst.fill(0.0);
            return;
        }
        // Every value of `dst` is written once (dst may hold stale values from a reused
        // buffer): zeros where the tap reads padding, the input elsewhere.
        let sx = self.stride[2];
        let x0 = first * sx + kx - self.padding[2];
        let z0 = slices.start;
        for oz in slices {
            let iz = self.source(0, oz, kz, d);
            for oy in 0..oh {
                let at = ((oz - z0) * oh + oy) * ow;
                let row = &mut dst[at..at + ow];
                let Some((iz, iy)) = iz.zip(self.source(1, oy, ky, h)) else {
                    row.fill(0.0);
                    continue;
                };
                let src = &vol[(iz * h + iy) * w..(iz * h + iy + 1) * w];
                row[..first].fill(0.0);
                row[last..].fill(0.0);
                if sx == 1 {
                    row[first..last].copy_from_slice(&src[x0..x0 + last - first]);
                } else {
                    for (j, o) in row[first..last].iter_mut().enumerate() {
                        *o = src[x0 + j * sx];
                    }
                }
            }
        }
    }

    /// Input index along `axis` read by output `o` at kernel tap `k`, if inside `0..n`.
    fn source(&self, axis: usize, o: usize, k: usize, n: usize) -> Option<usize> {
        (o * self.stride[axis] + k)
            .checked_sub(self.padding[axis])
            .filter(|&i| i < n)
    }

    /// The adjoint of [`Geometry3::im2col_row`] for the rows of input channel `ci` of one
    /// volume: adds each entry of `col` (rows `row_stride` apart, output slices `slices`) back
    /// onto the position of channel plane `plane` it came from, in a fixed order.
    fn col2im_add_channel(
        &self,
        col: &[f32],
        row_stride: usize,
        (dims, out): ([usize; 3], [usize; 3]),
        slices: std::ops::Range<usize>,
        ci: usize,
        plane: &mut [f32],
    ) {
        let [d, h, w] = dims;
        let [_, oh, ow] = out;
        let sx = self.stride[2];
        let taps: usize = self.kernel.iter().product();
        let len = slices.len() * oh * ow;
        for r in ci * taps..(ci + 1) * taps {
            let (_, kz, ky, kx) = self.tap(r);
            let (first, last) = self.valid_columns(kx, w, ow);
            if first == last {
                continue;
            }
            let x0 = first * sx + kx - self.padding[2];
            let src = &col[r * row_stride..r * row_stride + len];
            for oz in slices.clone() {
                let Some(iz) = self.source(0, oz, kz, d) else {
                    continue;
                };
                for oy in 0..oh {
                    let Some(iy) = self.source(1, oy, ky, h) else {
                        continue;
                    };
                    let dst = &mut plane[(iz * h + iy) * w..(iz * h + iy + 1) * w];
                    let at = ((oz - slices.start) * oh + oy) * ow;
                    for (j, v) in src[at + first..at + last].iter().enumerate() {
                        dst[x0 + j * sx] += v;
                    }
                }
            }
        }
    }

    /// The im2col matrix of one unit, its volumes side by side: `[depth, count·S]` with `S`
    /// the unit's output voxels per volume.
    fn cols(&self, x: &[f32], unit: &Unit, geo: ([usize; 3], [usize; 3])) -> Scratch {
        let in_len = self.c_in * geo.0.iter().product::<usize>();
        let span = unit.slices.len() * geo.1[1] * geo.1[2];
        let wide = unit.count * span;
        // A reused buffer: `im2col_row` writes every value, so it needs no zeroing first.
        let mut cols = Scratch::take(self.depth() * wide);
        cols.par_chunks_mut(wide.max(1))
            .enumerate()
            .for_each(|(r, row)| {
                for (i, seg) in row.chunks_mut(span.max(1)).enumerate() {
                    let v = unit.first + i;
                    let vol = &x[v * in_len..(v + 1) * in_len];
                    self.im2col_row(vol, r, geo, unit.slices.clone(), seg);
                }
            });
        cols
    }

    /// Convolution of NCDHW `input` (batch `b`, spatial `dims`) with `weight`
    /// `[c_out, depth]`, then `epilogue`; returns the output and its shape.
    fn forward(
        &self,
        input: &[f32],
        b: usize,
        dims: [usize; 3],
        weight: &[f32],
        epilogue: Epilogue<'_>,
    ) -> Result<(Vec<f32>, Shape)> {
        let out = self.out_size(dims)?;
        let voxels: usize = out.iter().product();
        let (in_len, out_len) = (
            self.c_in * dims.iter().product::<usize>(),
            self.c_out * voxels,
        );
        if input.len() != b * in_len || weight.len() != self.c_out * self.depth() {
            candle_core::bail!(
                "conv3d: {} input values and {} weights for geometry {self:?}",
                input.len(),
                weight.len()
            )
        }
        let mut output = vec![0f32; b * out_len];
        if let Some(r) = epilogue.residual
            && r.len() != output.len()
        {
            candle_core::bail!(
                "conv3d: residual has {} values, output {}",
                r.len(),
                output.len()
            )
        }
        let par = parallelism();
        let plane = out[1] * out[2];
        for unit in self.units(out, b) {
            let span = unit.slices.len() * plane;
            let wide = unit.count * span;
            let cols = self.cols(input, &unit, (dims, out));
            let offset = unit.slices.start * plane;
            // The epilogue on one channel's slab: `src` holds the product, or `row` itself does.
            let finish = |co: usize, row: &mut [f32], src: Option<&[f32]>, at: usize| {
                let bias = epilogue.bias.map_or(0.0, |b| b[co]);
                let res = epilogue.residual.map(|r| &r[at..at + span]);
                for (j, v) in row.iter_mut().enumerate() {
                    let mut y = src.map_or(*v, |s| s[j]) + bias;
                    if let Some(r) = res {
                        y += r[j];
                    }
                    // `max` keeps NaN out of ReLU's output as candle's relu does.
                    *v = if epilogue.relu { y.max(0.0) } else { y };
                }
            };
            if unit.count == 1 {
                // One volume: the product's rows are the output channels' slabs, `voxels`
                // apart, so gemm writes them in place and the epilogue runs there.
                let image = &mut output[unit.first * out_len..(unit.first + 1) * out_len];
                gemm_rows_into(
                    (self.c_out, wide, self.depth()),
                    (&mut image[offset..], voxels),
                    false,
                    (weight, 1, self.depth()),
                    (&cols, 1, wide),
                    par,
                )?;
                image
                    .par_chunks_mut(voxels)
                    .enumerate()
                    .for_each(|(co, row)| {
                        let at = unit.first * out_len + co * voxels + offset;
                        finish(co, &mut row[offset..offset + span], None, at);
                    });
                continue;
            }
            // gemm overwrites the product (no accumulation), so a reused buffer will do.
            let mut product = Scratch::take(self.c_out * wide);
            matmul(
                (self.c_out, wide, self.depth()),
                &mut product,
                (weight, 1, self.depth()),
                (&cols, 1, wide),
                par,
            )?;
            let dst = &mut output[unit.first * out_len..(unit.first + unit.count) * out_len];
            dst.par_chunks_mut(out_len)
                .enumerate()
                .for_each(|(i, image)| {
                    let n = unit.first + i;
                    for (co, row) in image.chunks_mut(voxels).enumerate() {
                        let src = &product[co * wide + i * span..co * wide + (i + 1) * span];
                        let at = n * out_len + co * voxels + offset;
                        finish(co, &mut row[offset..offset + span], Some(src), at);
                    }
                });
        }
        let [od, oh, ow] = out;
        Ok((output, Shape::from((b, self.c_out, od, oh, ow))))
    }
}

/// gemm's threading for candle's current thread count.
fn parallelism() -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `(batch, [d, h, w])` of an NCDHW layout with `c` channels.
fn dims5(shape: &Shape, c: usize) -> Result<(usize, [usize; 3])> {
    let (b, ch, d, h, w) = shape.dims5()?;
    if ch != c {
        candle_core::bail!("conv3d: input has {ch} channels, the weight expects {c}")
    }
    Ok((b, [d, h, w]))
}

/// The trainable 3-D convolution op (no bias), with its tile budget in floats.
#[derive(Debug, Clone, Copy)]
struct TrainConv3d(Conv3dShape, usize);

/// Convolution of `xs` `[b, c_in, d, h, w]` by `weight` `[c_out, c_in, kd, kh, kw]` with
/// gradients for both (f32, CPU).
pub fn conv3d(xs: &Tensor, weight: &Tensor, shape: Conv3dShape) -> Result<Tensor> {
    conv3d_tiled(xs, weight, shape, TILE_FLOATS)
}

/// [`conv3d`] with an explicit tile budget (tests shrink it to exercise the tiling).
fn conv3d_tiled(xs: &Tensor, weight: &Tensor, shape: Conv3dShape, tile: usize) -> Result<Tensor> {
    xs.contiguous()?
        .apply_op2(&weight.contiguous()?, TrainConv3d(shape, tile))
}

impl CustomOp2 for TrainConv3d {
    fn name(&self) -> &'static str {
        "radbench-conv3d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let geom = Geometry3::new(l2.dims(), self.0, self.1)?;
        let (b, dims) = dims5(l1.shape(), geom.c_in)?;
        let epilogue = Epilogue {
            bias: None,
            residual: None,
            relu: false,
        };
        let x = contiguous_f32(s1, l1)?;
        let w = contiguous_f32(s2, l2)?;
        let (out, shape) = geom.forward(x, b, dims, w, epilogue)?;
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let geom = Geometry3::new(weight.dims(), self.0, self.1)?;
        let (b, dims) = dims5(xs.shape(), geom.c_in)?;
        let out = geom.out_size(dims)?;
        let x = xs.flatten_all()?.to_vec1::<f32>()?;
        let wt = weight.flatten_all()?.to_vec1::<f32>()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let (depth, voxels) = (geom.depth(), out.iter().product::<usize>());
        let plane_in: usize = dims.iter().product();
        let (in_len, out_len) = (geom.c_in * plane_in, geom.c_out * voxels);
        let plane = out[1] * out[2];
        let par = parallelism();
        let mut grad_w = vec![0f32; geom.c_out * depth];
        let mut grad_x = vec![0f32; b * in_len];
        for (u, unit) in geom.units(out, b).into_iter().enumerate() {
            let span = unit.slices.len() * plane;
            let offset = unit.slices.start * plane;
            let wide = unit.count * span;
            // ∂Y of the unit as [c_out, count·S]: column i·S + p is voxel p of volume i.
            let mut g_wide = vec![0f32; geom.c_out * wide];
            g_wide
                .par_chunks_mut(wide)
                .enumerate()
                .for_each(|(co, row)| {
                    for (i, seg) in row.chunks_mut(span).enumerate() {
                        let from = (unit.first + i) * out_len + co * voxels + offset;
                        seg.copy_from_slice(&g[from..from + span]);
                    }
                });
            let mut cols = geom.cols(&x, &unit, (dims, out));
            // ∂W[c_out, depth] += ∂Y[c_out, wide] · colsᵀ[wide, depth], unit after unit.
            gemm_into(
                (geom.c_out, depth, wide),
                &mut grad_w,
                u > 0,
                (&g_wide, 1, wide),
                (&cols, wide, 1),
                par,
            )?;
            // ∂cols[depth, wide] = Wᵀ[depth, c_out] · ∂Y[c_out, wide], then back onto the
            // volumes, one (volume, channel) plane per task.
            matmul(
                (depth, wide, geom.c_out),
                &mut cols,
                (&wt, depth, 1),
                (&g_wide, 1, wide),
                par,
            )?;
            grad_x[unit.first * in_len..(unit.first + unit.count) * in_len]
                .par_chunks_mut(plane_in)
                .enumerate()
                .for_each(|(k, dst)| {
                    let (i, ci) = (k / geom.c_in, k % geom.c_in);
                    geom.col2im_add_channel(
                        &cols[i * span..],
                        wide,
                        (dims, out),
                        unit.slices.clone(),
                        ci,
                        dst,
                    );
                });
        }
        Ok((
            Some(Tensor::from_vec(grad_x, xs.shape(), xs.device())?),
            Some(Tensor::from_vec(grad_w, weight.shape(), weight.device())?),
        ))
    }
}

/// A 3-D convolution with folded batch norm for inference: convolution + bias (+ residual)
/// (+ ReLU) in one op, without gradients.
#[derive(Debug, Clone)]
pub struct FusedConv3d {
    /// `[c_out, c_in·kd·kh·kw]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    geom: Geometry3,
}

/// One application of a [`FusedConv3d`].
struct Call3<'a> {
    conv: &'a FusedConv3d,
    relu: bool,
}

impl FusedConv3d {
    /// From a `[c_out, c_in, kd, kh, kw]` weight and a `[c_out]` bias.
    pub fn new(weight: &Tensor, bias: &Tensor, shape: Conv3dShape) -> Result<FusedConv3d> {
        let geom = Geometry3::new(weight.dims(), shape, TILE_FLOATS)?;
        let bias: Vec<f32> = bias.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        if bias.len() != geom.c_out {
            candle_core::bail!(
                "conv3d: {} bias values for {} outputs",
                bias.len(),
                geom.c_out
            )
        }
        Ok(FusedConv3d {
            weight: weight
                .flatten_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1()?,
            bias,
            geom,
        })
    }

    /// The same convolution packed for channel-blocked volumes ([`super::blocked`]) whose
    /// channel block is `cib`; an error unless it is cubic (kernel, stride and padding equal
    /// along every axis, as in the 3-D ResNet).
    pub(crate) fn packed(&self, cib: usize) -> Result<super::blocked::PackedConv> {
        let g = self.geom;
        let [k, ..] = g.kernel;
        if g.kernel != [k; 3] || g.stride != [g.stride[0]; 3] || g.padding != [g.padding[0]; 3] {
            candle_core::bail!(
                "blocked conv3d: kernel {:?}, stride {:?} and padding {:?} are not cubic",
                g.kernel,
                g.stride,
                g.padding
            )
        }
        super::blocked::PackedConv::pack_volume(
            &self.weight,
            &self.bias,
            (g.c_out, g.c_in, k),
            (g.stride[0], g.padding[0]),
            cib,
        )
    }

    /// Convolution and bias of `xs` `[b, c_in, d, h, w]`, then ReLU when `relu`.
    pub fn forward(&self, xs: &Tensor, relu: bool) -> Result<Tensor> {
        xs.contiguous()?
            .apply_op1_no_bwd(&Call3 { conv: self, relu })
    }

    /// As [`FusedConv3d::forward`], adding `residual` (of the output's shape) before the ReLU.
    pub fn forward_residual(&self, xs: &Tensor, residual: &Tensor, relu: bool) -> Result<Tensor> {
        xs.contiguous()?
            .apply_op2_no_bwd(&residual.contiguous()?, &Call3 { conv: self, relu })
    }

    fn run(
        &self,
        input: &[f32],
        shape: &Shape,
        residual: Option<&[f32]>,
        relu: bool,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, dims) = dims5(shape, self.geom.c_in)?;
        let epilogue = Epilogue {
            bias: Some(&self.bias),
            residual,
            relu,
        };
        let (out, shape) = self.geom.forward(input, b, dims, &self.weight, epilogue)?;
        Ok((CpuStorage::F32(out), shape))
    }
}

impl CustomOp1 for Call3<'_> {
    fn name(&self) -> &'static str {
        "radbench-fused-conv3d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout)?;
        self.conv.run(x, layout.shape(), None, self.relu)
    }
}

impl CustomOp2 for Call3<'_> {
    fn name(&self) -> &'static str {
        "radbench-fused-conv3d-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s1, l1)?;
        let r = contiguous_f32(s2, l2)?;
        self.conv.run(x, l1.shape(), Some(r), self.relu)
    }
}

#[cfg(test)]
#[path = "conv3d_tests.rs"]
mod tests;
