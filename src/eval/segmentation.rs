//! Segmentation agreement: Dice, Jaccard, volume, and the 95th-percentile Hausdorff distance.
//!
//! Principal items: [`Mask`] (a 3-D boolean grid with voxel spacing), [`dice`], [`jaccard`],
//! [`Mask::volume_ml`], [`hausdorff95`]. HD95 follows MedPy's `hd95`: surface voxels are mask
//! voxels with a 6-neighbour outside the mask (the grid border counts as outside), distances
//! are exact Euclidean distances in millimetres from each surface voxel of one mask to the
//! nearest surface voxel of the other (Felzenszwalb & Huttenlocher 2012 distance transform),
//! and HD95 is the 95th percentile (linear) of both directed sets pooled.

use super::EvalError;
use super::bootstrap::quantile_type7;

/// A 3-D binary mask in C order (`index = (i·shape[1] + j)·shape[2] + k`) with the voxel
/// spacing in millimetres along each of the three axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mask<'a> {
    /// Voxels, true inside.
    pub voxels: &'a [bool],
    /// Grid size per axis.
    pub shape: [usize; 3],
    /// Voxel spacing per axis (mm).
    pub spacing: [f64; 3],
}

impl<'a> Mask<'a> {
    /// Checks that the voxel count matches the shape and the spacing is positive.
    pub fn new(
        voxels: &'a [bool],
        shape: [usize; 3],
        spacing: [f64; 3],
    ) -> Result<Self, EvalError> {
        let n: usize = shape.iter().product();
        if voxels.len() != n {
            return Err(EvalError::LengthMismatch {
                what: "mask voxels vs shape",
                left: voxels.len(),
                right: n,
            });
        }
        if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(EvalError::InvalidSpacing { spacing });
        }
        Ok(Self {
            voxels,
            shape,
            spacing,
        })
    }

    /// Number of voxels inside.
    pub fn count(&self) -> usize {
        self.voxels.iter().filter(|&&v| v).count()
    }

    /// Volume in millilitres: voxels × voxel volume (mm³) / 1000.
    pub fn volume_ml(&self) -> f64 {
        self.count() as f64 * self.spacing.iter().product::<f64>() / 1000.0
    }

    /// Surface voxels: inside, with a face neighbour outside the mask or outside the grid.
    fn surface(&self) -> Vec<bool> {
        let [a, b, c] = self.shape;
        let at = |i: usize, j: usize, k: usize| self.voxels[(i * b + j) * c + k];
        let mut surface = vec![false; self.voxels.len()];
        for i in 0..a {
            for j in 0..b {
                for k in 0..c {
                    if !at(i, j, k) {
                        continue;
                    }
                    let border =
                        i == 0 || j == 0 || k == 0 || i + 1 == a || j + 1 == b || k + 1 == c;
                    surface[(i * b + j) * c + k] = border
                        || !at(i - 1, j, k)
                        || !at(i + 1, j, k)
                        || !at(i, j - 1, k)
                        || !at(i, j + 1, k)
                        || !at(i, j, k - 1)
                        || !at(i, j, k + 1);
                }
            }
        }
        surface
    }
}

fn check_same_grid(a: &Mask, b: &Mask) -> Result<(), EvalError> {
    if a.shape != b.shape || a.spacing != b.spacing {
        return Err(EvalError::GridMismatch {
            left: a.shape,
            right: b.shape,
        });
    }
    Ok(())
}

fn overlap(a: &Mask, b: &Mask) -> Result<(usize, usize, usize), EvalError> {
    check_same_grid(a, b)?;
    let both = a
        .voxels
        .iter()
        .zip(b.voxels)
        .filter(|(x, y)| **x && **y)
        .count();
    Ok((both, a.count(), b.count()))
}

/// Dice coefficient 2|A∩B| / (|A| + |B|); NaN when both masks are empty.
pub fn dice(a: &Mask, b: &Mask) -> Result<f64, EvalError> {
    let (both, na, nb) = overlap(a, b)?;
    Ok(2.0 * both as f64 / (na + nb) as f64)
}

/// Jaccard index |A∩B| / |A∪B|; NaN when both masks are empty.
pub fn jaccard(a: &Mask, b: &Mask) -> Result<f64, EvalError> {
    let (both, na, nb) = overlap(a, b)?;
    Ok(both as f64 / (na + nb - both) as f64)
}

/// Squared distance transform along one line: `f` holds 0 at targets and ∞ elsewhere (or the
/// previous pass's values); positions are `index·step` (Felzenszwalb & Huttenlocher).
fn transform_line(
    f: &mut [f64],
    step: f64,
    v: &mut Vec<usize>,
    z: &mut Vec<f64>,
    out: &mut Vec<f64>,
) {
    let n = f.len();
    v.clear();
    z.clear();
    out.clear();
    let x = |q: usize| q as f64 * step;
    for q in 0..n {
        if f[q].is_infinite() {
            continue;
        }
        while let Some(&p) = v.last() {
            let s = ((f[q] + x(q) * x(q)) - (f[p] + x(p) * x(p))) / (2.0 * (x(q) - x(p)));
            if z.last().is_some_and(|&zl| s <= zl) {
                v.pop();
                z.pop();
            } else {
                v.push(q);
                z.push(s);
                break;
            }
        }
        if v.is_empty() {
            v.push(q);
            z.push(f64::NEG_INFINITY);
        }
    }
    if v.is_empty() {
        return;
    }
    let mut j = 0;
    for q in 0..n {
        while j + 1 < v.len() && z[j + 1] < x(q) {
            j += 1;
        }
        let d = x(q) - x(v[j]);
        out.push(d * d + f[v[j]]);
    }
    f.copy_from_slice(out);
}

/// Exact Euclidean distance (mm) from every voxel to the nearest `target` voxel.
fn distance_transform(target: &[bool], shape: [usize; 3], spacing: [f64; 3]) -> Vec<f64> {
    let mut d: Vec<f64> = target
        .iter()
        .map(|&t| if t { 0.0 } else { f64::INFINITY })
        .collect();
    let strides = [shape[1] * shape[2], shape[2], 1];
    let (mut line, mut v, mut z, mut out) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for axis in 0..3 {
        let len = shape[axis];
        let stride = strides[axis];
        for start in 0..d.len() {
            // Each line starts where this axis' coordinate is 0.
            if !(start / stride).is_multiple_of(len) {
                continue;
            }
            line.clear();
            line.extend((0..len).map(|q| d[start + q * stride]));
            transform_line(&mut line, spacing[axis], &mut v, &mut z, &mut out);
            for (q, &value) in line.iter().enumerate() {
                d[start + q * stride] = value;
            }
        }
    }
    d.iter().map(|x| x.sqrt()).collect()
}

/// 95th-percentile symmetric Hausdorff distance in mm (MedPy `hd95`). Both masks must be on
/// the same grid and non-empty.
pub fn hausdorff95(a: &Mask, b: &Mask) -> Result<f64, EvalError> {
    check_same_grid(a, b)?;
    for (which, m) in [("first", a), ("second", b)] {
        if m.count() == 0 {
            return Err(EvalError::EmptyMask { which });
        }
    }
    let (sa, sb) = (a.surface(), b.surface());
    let to_b = distance_transform(&sb, a.shape, a.spacing);
    let to_a = distance_transform(&sa, a.shape, a.spacing);
    let mut distances: Vec<f64> = sa
        .iter()
        .zip(&to_b)
        .filter(|(s, _)| **s)
        .map(|(_, &d)| d)
        .collect();
    distances.extend(sb.iter().zip(&to_a).filter(|(s, _)| **s).map(|(_, &d)| d));
    distances.sort_unstable_by(f64::total_cmp);
    Ok(quantile_type7(&distances, 0.95))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(shape: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Vec<bool> {
        let mut v = vec![false; shape.iter().product()];
        for i in lo[0]..hi[0] {
            for j in lo[1]..hi[1] {
                for k in lo[2]..hi[2] {
                    v[(i * shape[1] + j) * shape[2] + k] = true;
                }
            }
        }
        v
    }

    #[test]
    fn overlap_metrics_and_volume() {
        let s = [4, 4, 4];
        let a = cube(s, [0, 0, 0], [2, 2, 2]);
        let b = cube(s, [1, 0, 0], [3, 2, 2]);
        let (ma, mb) = (
            Mask::new(&a, s, [1.0, 0.5, 2.0]).expect("a"),
            Mask::new(&b, s, [1.0, 0.5, 2.0]).expect("b"),
        );
        assert_eq!(dice(&ma, &mb).ok(), Some(0.5));
        assert_eq!(jaccard(&ma, &mb).ok(), Some(4.0 / 12.0));
        assert_eq!(ma.volume_ml(), 8.0 * 1.0 / 1000.0);
    }

    #[test]
    fn distance_transform_is_exact_and_anisotropic() {
        let s = [3, 4, 5];
        let mut t = vec![false; 60];
        t[0] = true; // voxel (0,0,0)
        let d = distance_transform(&t, s, [2.0, 1.0, 0.5]);
        for i in 0..3 {
            for j in 0..4 {
                for k in 0..5 {
                    let want =
                        ((2.0 * i as f64).powi(2) + (j as f64).powi(2) + (0.5 * k as f64).powi(2))
                            .sqrt();
                    assert!((d[(i * 4 + j) * 5 + k] - want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn hd95_of_shifted_cube_is_the_shift() {
        let s = [10, 10, 10];
        let a = cube(s, [2, 2, 2], [6, 6, 6]);
        let b = cube(s, [3, 2, 2], [7, 6, 6]);
        let sp = [1.5, 1.0, 1.0];
        let hd = hausdorff95(
            &Mask::new(&a, s, sp).expect("a"),
            &Mask::new(&b, s, sp).expect("b"),
        )
        .expect("hd");
        assert!((hd - 1.5).abs() < 1e-12, "{hd}");
        let empty = vec![false; 1000];
        assert!(
            hausdorff95(
                &Mask::new(&a, s, sp).expect("a"),
                &Mask::new(&empty, s, sp).expect("e")
            )
            .is_err()
        );
    }
}
