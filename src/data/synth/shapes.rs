//! Geometry for synthetic volumes: centred grids, rotated ellipsoids, lobulated bodies,
//! voxel boxes, dilation and partial-volume spheres.
//!
//! Principal items: [`centred_grid`], [`Ellipsoid`], [`LobedBody`] (an ellipsoid whose radius
//! is modulated by von Mises–Fisher bumps on the sphere of directions, for lobulated organs
//! and irregular haematomas), [`VoxelBox`], [`dilate`], [`paint_sphere`] and [`add_noise`].
//! All grids here have identity direction, so world position = origin + spacing ⊙ index.

use crate::data::image::{Grid, Mask};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// A grid with identity direction whose centre lies on the world origin.
pub fn centred_grid(dims: [usize; 3], spacing: [f64; 3]) -> Grid {
    let mut grid = Grid::new(dims, spacing);
    grid.origin = std::array::from_fn(|a| -((dims[a] - 1) as f64) / 2.0 * spacing[a]);
    grid
}

/// World position (mm) of voxel `(i, j, k)` on an identity-direction grid.
pub fn voxel_position(grid: &Grid, i: usize, j: usize, k: usize) -> [f64; 3] {
    let idx = [i as f64, j as f64, k as f64];
    std::array::from_fn(|a| grid.origin[a] + grid.spacing[a] * idx[a])
}

/// An empty (all-zero) mask on `grid`.
pub fn empty_mask(grid: &Grid) -> Mask {
    Mask {
        grid: grid.clone(),
        voxels: vec![0; grid.len()],
    }
}

/// A uniformly distributed unit vector.
pub fn random_unit_vector<R: Rng + ?Sized>(rng: &mut R) -> [f64; 3] {
    loop {
        let v: [f64; 3] = std::array::from_fn(|_| rng.sample::<f64, _>(StandardNormal));
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if norm > 1e-9 {
            return v.map(|x| x / norm);
        }
    }
}

/// An ellipsoid with one in-plane rotation (about the k axis).
#[derive(Debug, Clone, PartialEq)]
pub struct Ellipsoid {
    /// Centre (mm).
    pub centre: [f64; 3],
    /// Semi-axes (mm) along the rotated in-plane axes and k.
    pub radii: [f64; 3],
    /// In-plane rotation (radians).
    pub angle: f64,
}

impl Ellipsoid {
    /// Coordinates of `p` in the ellipsoid's frame, divided by the semi-axes (the unit ball is
    /// the ellipsoid).
    pub fn local(&self, p: [f64; 3]) -> [f64; 3] {
        let (dx, dy, dz) = (
            p[0] - self.centre[0],
            p[1] - self.centre[1],
            p[2] - self.centre[2],
        );
        let (s, c) = self.angle.sin_cos();
        [
            (c * dx + s * dy) / self.radii[0],
            (-s * dx + c * dy) / self.radii[1],
            dz / self.radii[2],
        ]
    }

    /// `‖local(p)‖`: below 1 inside, 1 on the surface.
    pub fn level(&self, p: [f64; 3]) -> f64 {
        let l = self.local(p);
        (l[0] * l[0] + l[1] * l[1] + l[2] * l[2]).sqrt()
    }

    /// Whether `p` lies inside (or on) the ellipsoid.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        self.level(p) <= 1.0
    }

    /// The largest semi-axis.
    pub fn extent(&self) -> f64 {
        self.radii.iter().fold(0.0f64, |m, &r| m.max(r))
    }

    /// Distance from the centre to the surface along the in-plane world direction `phi`.
    pub fn reach(&self, phi: f64) -> f64 {
        let rel = phi - self.angle;
        let (wu, wv) = (rel.cos(), rel.sin());
        1.0 / ((wu / self.radii[0]).powi(2) + (wv / self.radii[1]).powi(2)).sqrt()
    }

    /// The in-plane angle (radians, in `(-π, π]`) of `p` seen from the centre.
    pub fn azimuth(&self, p: [f64; 3]) -> f64 {
        (p[1] - self.centre[1]).atan2(p[0] - self.centre[0])
    }
}

/// One bump of a [`LobedBody`]: the radius grows by `amplitude·exp(κ(n·c − 1))` around the
/// direction `c` (negative amplitudes make notches).
#[derive(Debug, Clone, PartialEq)]
pub struct Lobe {
    /// Unit direction `c` in the ellipsoid's normalised frame.
    pub direction: [f64; 3],
    /// Relative change of the radius at the centre of the bump.
    pub amplitude: f64,
    /// Concentration κ (larger is narrower).
    pub concentration: f64,
}

/// An ellipsoid whose radius varies with direction: a smooth, star-shaped, lobulated body.
#[derive(Debug, Clone, PartialEq)]
pub struct LobedBody {
    /// The underlying ellipsoid.
    pub ellipsoid: Ellipsoid,
    /// The bumps and notches.
    pub lobes: Vec<Lobe>,
}

impl LobedBody {
    /// `n` lobes with uniformly random directions, amplitudes `±amplitude·U(0.5, 1)` (sign
    /// alternating) and concentration `concentration`.
    pub fn random_lobes<R: Rng + ?Sized>(
        rng: &mut R,
        n: usize,
        amplitude: f64,
        concentration: f64,
    ) -> Vec<Lobe> {
        (0..n)
            .map(|t| {
                let direction = random_unit_vector(rng);
                let sign = if t % 2 == 0 { 1.0 } else { -1.0 };
                Lobe {
                    direction,
                    amplitude: sign * amplitude * rng.random_range(0.5..1.0),
                    concentration,
                }
            })
            .collect()
    }

    /// Relative radius along the unit direction `n` of the normalised frame (at least 0.2).
    pub fn radius_factor(&self, n: [f64; 3]) -> f64 {
        let bumps: f64 = self
            .lobes
            .iter()
            .map(|l| {
                let cos = n[0] * l.direction[0] + n[1] * l.direction[1] + n[2] * l.direction[2];
                l.amplitude * (l.concentration * (cos - 1.0)).exp()
            })
            .sum();
        (1.0 + bumps).max(0.2)
    }

    /// Below 1 inside, 1 on the surface, growing linearly with distance along each ray.
    pub fn level(&self, p: [f64; 3]) -> f64 {
        let l = self.ellipsoid.local(p);
        let rho = (l[0] * l[0] + l[1] * l[1] + l[2] * l[2]).sqrt();
        if rho < 1e-12 {
            return 0.0;
        }
        rho / self.radius_factor(l.map(|x| x / rho))
    }

    /// Whether `p` lies inside (or on) the body.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        self.level(p) <= 1.0
    }

    /// Distance (mm) from the centre to the surface along the world unit vector `direction`
    /// (the level grows linearly along each ray, so it is the inverse of the level one mm
    /// out).
    pub fn surface_distance(&self, direction: [f64; 3]) -> f64 {
        let c = self.ellipsoid.centre;
        let level = self.level(std::array::from_fn(|a| c[a] + direction[a]));
        if level > 0.0 {
            1.0 / level
        } else {
            f64::INFINITY
        }
    }

    /// An upper bound of the distance from the centre to the surface.
    pub fn extent(&self) -> f64 {
        let growth: f64 = self.lobes.iter().map(|l| l.amplitude.max(0.0)).sum();
        self.ellipsoid.extent() * (1.0 + growth)
    }
}

/// A box of voxels `lo[a]..hi[a]` per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoxelBox {
    /// First voxel per axis.
    pub lo: [usize; 3],
    /// One past the last voxel per axis.
    pub hi: [usize; 3],
}

impl VoxelBox {
    /// The voxels within `half[a]` mm of `centre` along each axis, clipped to the grid.
    pub fn around(grid: &Grid, centre: [f64; 3], half: [f64; 3]) -> VoxelBox {
        let mut lo = [0; 3];
        let mut hi = [0; 3];
        for a in 0..3 {
            let first = ((centre[a] - half[a] - grid.origin[a]) / grid.spacing[a]).floor();
            let last = ((centre[a] + half[a] - grid.origin[a]) / grid.spacing[a]).ceil();
            lo[a] = first.clamp(0.0, grid.dims[a] as f64) as usize;
            hi[a] = (last + 1.0).clamp(0.0, grid.dims[a] as f64) as usize;
        }
        VoxelBox { lo, hi }
    }

    /// The whole grid.
    pub fn all(grid: &Grid) -> VoxelBox {
        VoxelBox {
            lo: [0; 3],
            hi: grid.dims,
        }
    }

    /// Voxels per axis.
    pub fn dims(&self) -> [usize; 3] {
        std::array::from_fn(|a| self.hi[a].saturating_sub(self.lo[a]))
    }

    /// Calls `f(i, j, k)` for every voxel, k slowest.
    pub fn for_each(&self, mut f: impl FnMut(usize, usize, usize)) {
        for k in self.lo[2]..self.hi[2] {
            for j in self.lo[1]..self.hi[1] {
                for i in self.lo[0]..self.hi[0] {
                    f(i, j, k);
                }
            }
        }
    }
}

/// Box dilation of a 0/1 volume by `radius` voxels per axis (separable maximum filter).
pub fn dilate(voxels: &[u8], dims: [usize; 3], radius: [usize; 3]) -> Vec<u8> {
    let mut current = voxels.to_vec();
    let strides = [1, dims[0], dims[0] * dims[1]];
    for axis in 0..3 {
        if radius[axis] == 0 {
            continue;
        }
        let mut next = vec![0u8; current.len()];
        for (n, out) in next.iter_mut().enumerate() {
            let c = (n / strides[axis]) % dims[axis];
            let base = n - c * strides[axis];
            let lo = c.saturating_sub(radius[axis]);
            let hi = (c + radius[axis]).min(dims[axis] - 1);
            *out = (lo..=hi)
                .map(|t| current[base + t * strides[axis]])
                .max()
                .unwrap_or(0);
        }
        current = next;
    }
    current
}

/// Adds `contrast` times the fraction of each voxel covered by the sphere (`centre`,
/// `radius`, mm), estimated on 3 × 3 × 3 sub-voxel points, to every voxel where `allowed`
/// is true. Small spheres thus always leave a partial-volume trace. Returns the number of
/// voxels touched.
pub fn paint_sphere(
    voxels: &mut [f64],
    grid: &Grid,
    centre: [f64; 3],
    radius: f64,
    contrast: f64,
    allowed: impl Fn(usize) -> bool,
) -> usize {
    let half = grid.spacing.map(|s| radius + s);
    let offsets = [-1.0 / 3.0, 0.0, 1.0 / 3.0];
    let mut touched = 0;
    VoxelBox::around(grid, centre, half).for_each(|i, j, k| {
        let n = grid.index(i, j, k);
        if !allowed(n) {
            return;
        }
        let p = voxel_position(grid, i, j, k);
        let mut inside = 0u32;
        for oz in offsets {
            for oy in offsets {
                for ox in offsets {
                    let q = [
                        p[0] + ox * grid.spacing[0] - centre[0],
                        p[1] + oy * grid.spacing[1] - centre[1],
                        p[2] + oz * grid.spacing[2] - centre[2],
                    ];
                    if q[0] * q[0] + q[1] * q[1] + q[2] * q[2] <= radius * radius {
                        inside += 1;
                    }
                }
            }
        }
        if inside > 0 {
            voxels[n] += contrast * f64::from(inside) / 27.0;
            touched += 1;
        }
    });
    touched
}

/// A smooth Gaussian bump: `amplitude·exp(−‖p − centre‖²/(2σ²))`.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Peak value.
    pub amplitude: f64,
    /// Centre (mm).
    pub centre: [f64; 3],
    /// Width σ (mm).
    pub sigma: f64,
}

impl Blob {
    /// `n` blobs with amplitude `N(0, amplitude_sd)`, centres uniform in the grid and σ
    /// uniform in `sigma`.
    pub fn random<R: Rng + ?Sized>(
        rng: &mut R,
        grid: &Grid,
        n: usize,
        amplitude_sd: f64,
        sigma: std::ops::Range<f64>,
    ) -> Vec<Blob> {
        let half: [f64; 3] = std::array::from_fn(|a| -grid.origin[a]);
        (0..n)
            .map(|_| {
                let amplitude = amplitude_sd * rng.sample::<f64, _>(StandardNormal);
                let centre = std::array::from_fn(|a| {
                    if half[a] > 0.0 {
                        rng.random_range(-half[a]..half[a])
                    } else {
                        0.0
                    }
                });
                Blob {
                    amplitude,
                    centre,
                    sigma: rng.random_range(sigma.clone()),
                }
            })
            .collect()
    }

    /// The bump's value at `p`.
    pub fn value(&self, p: [f64; 3]) -> f64 {
        let d2: f64 = (0..3).map(|a| (p[a] - self.centre[a]).powi(2)).sum();
        self.amplitude * (-d2 / (2.0 * self.sigma * self.sigma)).exp()
    }
}

/// Sum of `blobs` at `p`.
pub fn blobs_at(blobs: &[Blob], p: [f64; 3]) -> f64 {
    blobs.iter().map(|b| b.value(p)).sum()
}

/// Adds `offset` and white Gaussian noise of SD `noise_sd` to every voxel, then rounds and
/// clamps to `[lo, hi]` (the stored images are integer-valued).
pub fn add_noise<R: Rng + ?Sized>(
    voxels: &mut [f64],
    rng: &mut R,
    noise_sd: f64,
    offset: f64,
    lo: f64,
    hi: f64,
) {
    for v in voxels.iter_mut() {
        let noise: f64 = rng.sample(StandardNormal);
        *v = (*v + offset + noise_sd * noise).round().clamp(lo, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    #[test]
    fn centred_grid_is_symmetric() {
        let g = centred_grid([4, 5, 2], [1.0, 2.0, 3.0]);
        assert_eq!(voxel_position(&g, 0, 0, 0), [-1.5, -4.0, -1.5]);
        assert_eq!(voxel_position(&g, 3, 4, 1), [1.5, 4.0, 1.5]);
    }

    #[test]
    fn lobed_body_without_lobes_is_its_ellipsoid() {
        let e = Ellipsoid {
            centre: [1.0, 2.0, 0.0],
            radii: [5.0, 3.0, 4.0],
            angle: 0.4,
        };
        let body = LobedBody {
            ellipsoid: e.clone(),
            lobes: vec![],
        };
        for p in [
            [1.0, 2.0, 0.0],
            [5.0, 4.0, 1.0],
            [1.0, 2.0, 3.9],
            [1.0, 2.0, 4.1],
        ] {
            assert_eq!(body.contains(p), e.contains(p));
            assert!((body.level(p) - e.level(p)).abs() < 1e-12);
        }
        assert!((e.reach(0.4) - 5.0).abs() < 1e-12);
        let mut rng = rng_for(1, &["lobes"]);
        let lobes = LobedBody::random_lobes(&mut rng, 6, 0.2, 5.0);
        let lobed = LobedBody {
            ellipsoid: e,
            lobes,
        };
        assert!(lobed.extent() > 5.0 && lobed.extent() <= 5.0 * 1.6 + 1e-9);
    }

    #[test]
    fn dilation_and_boxes() {
        let dims = [5, 5, 3];
        let mut v = vec![0u8; 75];
        v[2 + 5 * (2 + 5)] = 1;
        let d = dilate(&v, dims, [1, 1, 0]);
        assert_eq!(d.iter().filter(|&&x| x == 1).count(), 9);
        let g = centred_grid([10, 10, 10], [1.0; 3]);
        let b = VoxelBox::around(&g, [0.0; 3], [1.0; 3]);
        assert_eq!(b.dims(), [4, 4, 4]);
        let far = VoxelBox::around(&g, [100.0, 0.0, 0.0], [1.0; 3]);
        assert_eq!(far.dims()[0], 0);
    }

    #[test]
    fn partial_volume_sphere_conserves_its_volume() {
        let g = centred_grid([20, 20, 20], [1.0; 3]);
        let mut v = vec![0.0; g.len()];
        let touched = paint_sphere(&mut v, &g, [0.3, -0.2, 0.1], 3.0, 1.0, |_| true);
        let volume: f64 = v.iter().sum();
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 27.0;
        assert!((volume - exact).abs() / exact < 0.08, "{volume} vs {exact}");
        assert!(touched > 100);
        // A sphere much smaller than a voxel still marks the voxel it sits in.
        let mut w = vec![0.0; g.len()];
        assert!(paint_sphere(&mut w, &g, [0.5, 0.5, 0.5], 0.4, 1.0, |_| true) >= 1);
    }
}
