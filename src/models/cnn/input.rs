//! Network inputs from a case's images and lesion mask.
//!
//! Principal types: [`PatchSpec`] (what to cut), [`Layout`] (2-D slices, 2.5-D slabs or 3-D
//! crops), [`Normalise`] (intensity window or z-score), [`Sample`] (one input with its case id)
//! and [`extract`]. Several co-registered images (MRI sequences, CEUS time frames) become
//! channels; they must share the mask's grid. Slices run along k (axial for LPS volumes); a 2-D
//! patch has rows along j and columns along i. Every patch of a case is centred on the centre
//! of the mask's 3-D bounding box and zero-padded where it leaves the volume (after
//! normalisation, so padding reads as "background"). The k largest-area slices follow the
//! common radiomics-CNN practice (e.g. the largest cross-section ± neighbours).

use super::CnnError;
use crate::data::image::{Image, Mask};
use candle_core::{Device, Tensor};

/// How slices or volumes become a network input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Layout {
    /// One `[channels, h, w]` patch per slice, for the `k` slices with the largest lesion area
    /// (`k = 0`: every slice that holds lesion), in slice order.
    Slices2d {
        /// Number of slices (0 = all lesion slices).
        k: usize,
    },
    /// As [`Layout::Slices2d`], with the `neighbours` slices on each side stacked as extra
    /// channels: `[images·(2·neighbours+1), h, w]` (edge slices are repeated at the border).
    Slab25d {
        /// Number of centre slices (0 = all lesion slices).
        k: usize,
        /// Slices on each side.
        neighbours: usize,
    },
    /// One `[channels, depth, h, w]` crop per case centred on the lesion.
    Crop3d {
        /// Slices in the crop.
        depth: usize,
    },
    /// One `[images·3, h, w]` patch per case: the axial (rows j, columns i), coronal (rows k,
    /// columns i) and sagittal (rows k, columns j) planes through the lesion's centre as
    /// channels (the "2.5D" input of MedMNIST v2's 3-D benchmarks).
    Orthogonal25d,
}

/// Intensity normalisation, per channel, before cropping.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Normalise {
    /// Raw values.
    None,
    /// Clip to `[lo, hi]` and map linearly to `[0, 1]` (CT windows such as brain 0–80 HU).
    Window {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// Zero mean and unit variance over the whole volume.
    ZScore,
    /// Zero mean and unit variance over the lesion voxels.
    ZScoreInMask,
}

/// What to cut from each case.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchSpec {
    /// Slices, slabs or volumes.
    pub layout: Layout,
    /// In-plane size `[rows (j), columns (i)]`.
    pub size: [usize; 2],
    /// Intensity normalisation.
    pub normalise: Normalise,
    /// Append the lesion mask (1 inside, 0 outside) as a last channel, cut like the images,
    /// so that the network knows which bright structure is the lesion (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mask_channel: bool,
}

/// One network input: `shape` is `[channels, h, w]` or `[channels, depth, h, w]`, `data` is
/// row-major in that shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The case (patient) the input comes from; patches of a case share it.
    pub case: String,
    /// Centre slice index (k), for 2-D and 2.5-D inputs.
    pub slice: Option<usize>,
    /// Shape without the batch axis.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

impl Sample {
    /// A 3-D crop seen as 2-D with the slices as channels: `[c, d, h, w]` → `[c·d, h, w]`.
    pub fn depth_as_channels(&self) -> Sample {
        let mut out = self.clone();
        if self.shape.len() == 4 {
            out.shape = vec![self.shape[0] * self.shape[1], self.shape[2], self.shape[3]];
        }
        out
    }
}

/// Stacks samples of one shape into a `[n, ...shape]` f32 tensor.
pub fn batch_tensor(samples: &[&Sample]) -> Result<Tensor, CnnError> {
    let Some(first) = samples.first() else {
        return Err(CnnError::Shape {
            message: "no samples to batch".into(),
        });
    };
    let mut data = Vec::with_capacity(first.data.len() * samples.len());
    for s in samples {
        if s.shape != first.shape {
            return Err(CnnError::Shape {
                message: format!(
                    "case {:?} has input shape {:?}, case {:?} has {:?}",
                    s.case, s.shape, first.case, first.shape
                ),
            });
        }
        data.extend_from_slice(&s.data);
    }
    let mut shape = vec![samples.len()];
    shape.extend_from_slice(&first.shape);
    Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
}

/// Cuts the inputs of one case from its co-registered `images` (one per channel) and `mask`.
pub fn extract(
    case: &str,
    images: &[&Image],
    mask: &Mask,
    spec: &PatchSpec,
) -> Result<Vec<Sample>, CnnError> {
    if images.is_empty() {
        return Err(CnnError::settings(
            "input",
            format!("case {case:?}: no image channel"),
        ));
    }
    if spec.size[0] == 0 || spec.size[1] == 0 {
        return Err(CnnError::settings(
            "input.size",
            "patch size must be positive",
        ));
    }
    for (c, image) in images.iter().enumerate() {
        if let Some(detail) = mask.grid.mismatch(&image.grid, 1e-4) {
            return Err(CnnError::GridMismatch {
                case: case.into(),
                what: format!("image channel {c}"),
                detail,
            });
        }
        if image.voxels.len() != image.grid.len() {
            return Err(CnnError::Shape {
                message: format!(
                    "case {case:?}: channel {c} has {} voxels for a grid of {}",
                    image.voxels.len(),
                    image.grid.len()
                ),
            });
        }
    }
    if mask.voxels.len() != mask.grid.len() {
        return Err(CnnError::Shape {
            message: format!(
                "case {case:?}: mask has {} voxels for a grid of {}",
                mask.voxels.len(),
                mask.grid.len()
            ),
        });
    }
    let [nx, ny, nz] = mask.grid.dims;
    let [h, w] = spec.size;
    let too_big = |axis, crop, extent| CnnError::CropLargerThanVolume {
        case: case.into(),
        axis,
        crop,
        extent,
    };
    if w > nx {
        return Err(too_big("i", w, nx));
    }
    if h > ny {
        return Err(too_big("j", h, ny));
    }
    let bbox = bounding_box(mask).ok_or_else(|| CnnError::EmptyMask { case: case.into() })?;
    let centre = [0, 1, 2].map(|a| (bbox[a].0 + bbox[a].1) / 2);
    let mut channels: Vec<Vec<f32>> = images
        .iter()
        .map(|im| normalised(im, mask, spec.normalise))
        .collect();
    if spec.mask_channel {
        channels.push(mask.voxels.iter().map(|&v| f32::from(v != 0)).collect());
    }
    let origin_i = centre[0] as isize - (w / 2) as isize;
    let origin_j = centre[1] as isize - (h / 2) as isize;
    let dims = mask.grid.dims;
    let cut = |vol: &[f32], k: usize, out: &mut Vec<f32>| {
        for y in 0..h {
            let j = origin_j + y as isize;
            for x in 0..w {
                let i = origin_i + x as isize;
                let inside = i >= 0 && j >= 0 && (i as usize) < nx && (j as usize) < ny;
                out.push(if inside {
                    vol[i as usize + dims[0] * (j as usize + dims[1] * k)]
                } else {
                    0.0
                });
            }
        }
    };
    let sample = |slice: Option<usize>, shape: Vec<usize>, data: Vec<f32>| Sample {
        case: case.to_string(),
        slice,
        shape,
        data,
    };
    match spec.layout {
        Layout::Slices2d { k } | Layout::Slab25d { k, .. } => {
            let neighbours = match spec.layout {
                Layout::Slab25d { neighbours, .. } => neighbours,
                _ => 0,
            };
            let per_image = 2 * neighbours + 1;
            Ok(largest_slices(mask, k)
                .into_iter()
                .map(|s| {
                    let mut data = Vec::with_capacity(channels.len() * per_image * h * w);
                    for vol in &channels {
                        for o in 0..per_image {
                            let k = (s + o).saturating_sub(neighbours).min(nz - 1);
                            cut(vol, k, &mut data);
                        }
                    }
                    sample(Some(s), vec![channels.len() * per_image, h, w], data)
                })
                .collect())
        }
        Layout::Orthogonal25d => {
            let mut data = Vec::with_capacity(channels.len() * 3 * h * w);
            for vol in &channels {
                orthogonal_planes(vol, dims, centre, [h, w], &mut data);
            }
            Ok(vec![sample(None, vec![channels.len() * 3, h, w], data)])
        }
        Layout::Crop3d { depth } => {
            if depth == 0 {
                return Err(CnnError::settings(
                    "input.depth",
                    "crop depth must be positive",
                ));
            }
            if depth > nz {
                return Err(too_big("k", depth, nz));
            }
            let origin_k = centre[2] as isize - (depth / 2) as isize;
            let mut data = Vec::with_capacity(channels.len() * depth * h * w);
            for vol in &channels {
                for d in 0..depth {
                    let k = origin_k + d as isize;
                    if k < 0 || k as usize >= nz {
                        data.extend(std::iter::repeat_n(0.0, h * w));
                    } else {
                        cut(vol, k as usize, &mut data);
                    }
                }
            }
            Ok(vec![sample(None, vec![channels.len(), depth, h, w], data)])
        }
    }
}

/// Appends the axial, coronal and sagittal `[h, w]` planes of `vol` (grid `dims`, i fastest)
/// through voxel `centre`, each centred on it and zero-padded outside the volume.
fn orthogonal_planes(
    vol: &[f32],
    dims: [usize; 3],
    centre: [usize; 3],
    [h, w]: [usize; 2],
    out: &mut Vec<f32>,
) {
    let at = |p: [isize; 3]| -> f32 {
        let inside = (0..3).all(|a| p[a] >= 0 && (p[a] as usize) < dims[a]);
        if inside {
            vol[p[0] as usize + dims[0] * (p[1] as usize + dims[1] * p[2] as usize)]
        } else {
            0.0
        }
    };
    let c = centre.map(|v| v as isize);
    // (row axis, column axis, fixed axis) of each plane.
    for (row_axis, col_axis) in [(1, 0), (2, 0), (2, 1)] {
        for y in 0..h {
            for x in 0..w {
                let mut p = c;
                p[row_axis] = c[row_axis] - (h / 2) as isize + y as isize;
                p[col_axis] = c[col_axis] - (w / 2) as isize + x as isize;
                out.push(at(p));
            }
        }
    }
}

/// Inclusive `(min, max)` voxel index of the lesion along i, j, k; `None` for an empty mask.
pub fn bounding_box(mask: &Mask) -> Option<[(usize, usize); 3]> {
    let [nx, ny, _] = mask.grid.dims;
    let mut bbox: Option<[(usize, usize); 3]> = None;
    for (idx, _) in mask.voxels.iter().enumerate().filter(|(_, v)| **v != 0) {
        let ijk = [idx % nx, (idx / nx) % ny, idx / (nx * ny)];
        let b = bbox.get_or_insert([(ijk[0], ijk[0]), (ijk[1], ijk[1]), (ijk[2], ijk[2])]);
        for a in 0..3 {
            b[a].0 = b[a].0.min(ijk[a]);
            b[a].1 = b[a].1.max(ijk[a]);
        }
    }
    bbox
}

/// Indices of the `k` slices with the largest lesion area (ties: lower index first), in slice
/// order; `k = 0` gives every slice with lesion.
pub fn largest_slices(mask: &Mask, k: usize) -> Vec<usize> {
    let [nx, ny, nz] = mask.grid.dims;
    let plane = nx * ny;
    let mut areas: Vec<(usize, usize)> = (0..nz)
        .map(|s| {
            let area = mask.voxels[s * plane..(s + 1) * plane]
                .iter()
                .filter(|v| **v != 0)
                .count();
            (s, area)
        })
        .filter(|(_, a)| *a > 0)
        .collect();
    areas.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if k > 0 {
        areas.truncate(k);
    }
    let mut slices: Vec<usize> = areas.into_iter().map(|(s, _)| s).collect();
    slices.sort_unstable();
    slices
}

/// The image's values after normalisation, as f32 (`mask` selects the voxels of
/// [`Normalise::ZScoreInMask`]).
pub fn normalised(image: &Image, mask: &Mask, how: Normalise) -> Vec<f32> {
    let zscore = |values: &mut dyn Iterator<Item = f64>| {
        let (mut n, mut sum, mut sq) = (0usize, 0.0, 0.0);
        for v in values {
            n += 1;
            sum += v;
            sq += v * v;
        }
        let mean = if n > 0 { sum / n as f64 } else { 0.0 };
        let var = if n > 0 {
            (sq / n as f64 - mean * mean).max(0.0)
        } else {
            0.0
        };
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        (mean, sd)
    };
    let (shift, scale) = match how {
        Normalise::None => (0.0, 1.0),
        Normalise::Window { lo, hi } => {
            let width = if hi > lo { hi - lo } else { 1.0 };
            return image
                .voxels
                .iter()
                .map(|&v| ((v.clamp(lo, hi.max(lo)) - lo) / width) as f32)
                .collect();
        }
        Normalise::ZScore => zscore(&mut image.voxels.iter().copied()),
        Normalise::ZScoreInMask => zscore(
            &mut image
                .voxels
                .iter()
                .zip(&mask.voxels)
                .filter(|(_, m)| **m != 0)
                .map(|(v, _)| *v),
        ),
    };
    image
        .voxels
        .iter()
        .map(|&v| ((v - shift) / scale) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    /// A 6×5×4 volume whose value encodes its index; lesion on slices 1 (2 voxels) and 2 (4).
    fn case() -> (Image, Mask) {
        let grid = Grid::new([6, 5, 4], [1.0; 3]);
        let voxels = (0..grid.len()).map(|v| v as f64).collect();
        let mut m = vec![0u8; grid.len()];
        for (i, j, k) in [
            (2, 2, 1),
            (3, 2, 1),
            (2, 2, 2),
            (3, 2, 2),
            (2, 3, 2),
            (3, 3, 2),
        ] {
            m[grid.index(i, j, k)] = 1;
        }
        (
            Image {
                grid: grid.clone(),
                voxels,
            },
            Mask { grid, voxels: m },
        )
    }

    fn spec(layout: Layout, size: [usize; 2]) -> PatchSpec {
        PatchSpec {
            layout,
            size,
            normalise: Normalise::None,
            mask_channel: false,
        }
    }

    #[test]
    fn mask_channel_follows_the_image_channels() {
        let (im, m) = case();
        let with_mask = PatchSpec {
            mask_channel: true,
            ..spec(Layout::Slices2d { k: 1 }, [4, 4])
        };
        let plain = extract("c", &[&im], &m, &spec(Layout::Slices2d { k: 1 }, [4, 4])).unwrap();
        let s = extract("c", &[&im], &m, &with_mask).unwrap();
        assert_eq!(s[0].shape, vec![2, 4, 4]);
        assert_eq!(s[0].data[..16], plain[0].data[..]);
        // Slice 2 holds the 2×2 lesion at i, j = 2..=3; the 4×4 patch about (2, 2) starts at (0, 0).
        let lesion: Vec<usize> = (0..16).filter(|&p| s[0].data[16 + p] == 1.0).collect();
        assert_eq!(lesion, vec![10, 11, 14, 15]);
        assert!(s[0].data[16..].iter().all(|&v| v == 0.0 || v == 1.0));
        // A 3-D crop gains a second channel of the same depth.
        let crop = PatchSpec {
            mask_channel: true,
            ..spec(Layout::Crop3d { depth: 2 }, [4, 4])
        };
        assert_eq!(
            extract("c", &[&im], &m, &crop).unwrap()[0].shape,
            vec![2, 2, 4, 4]
        );
    }

    #[test]
    fn largest_slices_and_patch_content() {
        let (im, m) = case();
        assert_eq!(largest_slices(&m, 1), vec![2]);
        assert_eq!(largest_slices(&m, 0), vec![1, 2]);
        assert_eq!(largest_slices(&m, 5), vec![1, 2]);
        let s = extract("c", &[&im], &m, &spec(Layout::Slices2d { k: 1 }, [2, 2])).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].shape, vec![1, 2, 2]);
        // bbox centre (2, 2, 1); a 2×2 patch starts at (1, 1): rows j = 1, 2, columns i = 1, 2.
        let v = |i: usize, j: usize, k: usize| (i + 6 * (j + 5 * k)) as f32;
        assert_eq!(
            s[0].data,
            vec![v(1, 1, 2), v(2, 1, 2), v(1, 2, 2), v(2, 2, 2)]
        );
    }

    #[test]
    fn orthogonal_planes_cross_at_the_lesion_centre() {
        let (im, m) = case();
        let s = extract("c", &[&im], &m, &spec(Layout::Orthogonal25d, [2, 2])).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].shape, vec![3, 2, 2]);
        // bbox centre (2, 2, 1); each 2×2 plane starts one voxel before it on both its axes.
        let v = |i: usize, j: usize, k: usize| (i + 6 * (j + 5 * k)) as f32;
        let axial = [v(1, 1, 1), v(2, 1, 1), v(1, 2, 1), v(2, 2, 1)];
        let coronal = [v(1, 2, 0), v(2, 2, 0), v(1, 2, 1), v(2, 2, 1)];
        let sagittal = [v(2, 1, 0), v(2, 2, 0), v(2, 1, 1), v(2, 2, 1)];
        assert_eq!(s[0].data, [axial, coronal, sagittal].concat());
        // A plane larger than the volume along k is zero-padded, not an error.
        let big = extract("c", &[&im], &m, &spec(Layout::Orthogonal25d, [5, 6])).unwrap();
        assert_eq!(big[0].shape, vec![3, 5, 6]);
        assert!(big[0].data[30..].contains(&0.0));
    }

    #[test]
    fn padding_slabs_and_crops() {
        let (im, m) = case();
        let s = extract(
            "c",
            &[&im, &im],
            &m,
            &spec(
                Layout::Slab25d {
                    k: 2,
                    neighbours: 1,
                },
                [5, 6],
            ),
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].shape, vec![6, 5, 6]);
        // A 5×6 patch centred on (2, 2) starts at i = -1: the first column is padding.
        assert_eq!(s[0].data[0], 0.0);
        // Channel 0 of the slab around slice 1 is slice 0, channel 2 is slice 2.
        assert_eq!(s[0].data[1], 0.0);
        assert_eq!(s[0].data[2 * 30 + 1], (6 * 5 * 2) as f32);
        let c = extract("c", &[&im], &m, &spec(Layout::Crop3d { depth: 4 }, [4, 4])).unwrap();
        assert_eq!(c[0].shape, vec![1, 4, 4, 4]);
        assert_eq!(c[0].depth_as_channels().shape, vec![4, 4, 4]);
    }

    #[test]
    fn bad_inputs_are_named() {
        let (im, m) = case();
        let big = extract("c7", &[&im], &m, &spec(Layout::Slices2d { k: 1 }, [5, 7]));
        assert!(matches!(
            big,
            Err(CnnError::CropLargerThanVolume {
                axis: "i",
                crop: 7,
                ..
            })
        ));
        let deep = extract("c7", &[&im], &m, &spec(Layout::Crop3d { depth: 5 }, [2, 2]));
        assert!(matches!(
            deep,
            Err(CnnError::CropLargerThanVolume { axis: "k", .. })
        ));
        let empty = Mask {
            grid: m.grid.clone(),
            voxels: vec![0; m.grid.len()],
        };
        let e = extract(
            "c8",
            &[&im],
            &empty,
            &spec(Layout::Slices2d { k: 1 }, [2, 2]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("c8"), "{e}");
        let mut other = im.clone();
        other.grid.spacing[0] = 2.0;
        let g = extract(
            "c9",
            &[&im, &other],
            &m,
            &spec(Layout::Slices2d { k: 1 }, [2, 2]),
        )
        .unwrap_err();
        assert!(matches!(g, CnnError::GridMismatch { .. }), "{g}");
        assert!(g.to_string().contains("channel 1"), "{g}");
    }

    #[test]
    fn normalisation() {
        let (im, m) = case();
        let mut sp = spec(Layout::Slices2d { k: 1 }, [5, 6]);
        sp.normalise = Normalise::Window { lo: 60.0, hi: 70.0 };
        let s = extract("c", &[&im], &m, &sp).unwrap();
        assert!(s[0].data.iter().all(|v| (0.0..=1.0).contains(v)));
        let z = normalised(&im, &m, Normalise::ZScoreInMask);
        let lesion: Vec<f32> = z
            .iter()
            .zip(&m.voxels)
            .filter(|(_, m)| **m != 0)
            .map(|(v, _)| *v)
            .collect();
        let mean: f32 = lesion.iter().sum::<f32>() / lesion.len() as f32;
        assert!(mean.abs() < 1e-5);
    }
}
