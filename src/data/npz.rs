//! Reading MedMNIST 3-D `.npz` files: a zip of `.npy` arrays (no pickle).
//!
//! Principal items: [`read_medmnist_split`] and [`MedMnistSplit`]. A MedMNIST file holds, for
//! each official split `s` in `train`, `val`, `test`, the arrays `s_images` (N, D, H, W) uint8
//! and `s_labels` (N, 1) uint8. The zip and `.npy` decoding is candle's (`Tensor::read_npz_by_name`),
//! a dependency radbench already has. Reference: the NumPy `.npy` format, NEP 1.

use super::DataError;
use candle_core::{DType, Tensor};
use std::path::Path;

/// The official MedMNIST splits, in file order.
pub const MEDMNIST_SPLITS: [&str; 3] = ["train", "val", "test"];

/// One split of a MedMNIST 3-D file.
#[derive(Debug, Clone, PartialEq)]
pub struct MedMnistSplit {
    /// Volume shape `[D, H, W]` (NumPy axis order, W fastest).
    pub shape: [usize; 3],
    /// Voxels of every volume, one `Vec` per sample, in NumPy C order.
    pub volumes: Vec<Vec<u8>>,
    /// Class label of each sample.
    pub labels: Vec<i64>,
}

/// Reads split `split` (`train`, `val` or `test`) of the MedMNIST 3-D file at `path`, keeping
/// only the first `limit` samples when given. A truncated or corrupt zip, a missing array or an
/// array of the wrong shape or dtype is a [`DataError::Npz`] naming the file.
pub fn read_medmnist_split(
    path: &Path,
    split: &str,
    limit: Option<usize>,
) -> Result<MedMnistSplit, DataError> {
    let bad = |reason: String| DataError::Npz {
        path: path.to_path_buf(),
        reason,
    };
    let images_name = format!("{split}_images");
    let labels_name = format!("{split}_labels");
    let arrays = Tensor::read_npz_by_name(path, &[images_name.as_str(), labels_name.as_str()])
        .map_err(|e| bad(format!("cannot read `{images_name}`/`{labels_name}`: {e}")))?;
    let [images, labels] = <[Tensor; 2]>::try_from(arrays)
        .map_err(|_| bad(format!("expected the arrays `{images_name}` and `{labels_name}`")))?;
    let dims = images.dims().to_vec();
    if images.dtype() != DType::U8 || dims.len() != 4 {
        return Err(bad(format!(
            "`{images_name}` is {:?} of shape {dims:?}; expected uint8 (N, D, H, W)",
            images.dtype()
        )));
    }
    let n_all = dims[0];
    let label_dims = labels.dims().to_vec();
    if labels.dtype() != DType::U8 || label_dims.first() != Some(&n_all) || labels.elem_count() != n_all
    {
        return Err(bad(format!(
            "`{labels_name}` is {:?} of shape {label_dims:?}; expected uint8 ({n_all}, 1)",
            labels.dtype()
        )));
    }
    let n = limit.map_or(n_all, |l| l.min(n_all));
    let shape = [dims[1], dims[2], dims[3]];
    let voxels_per = shape.iter().product::<usize>();
    let flat: Vec<u8> = images
        .flatten_all()
        .and_then(|t| t.to_vec1::<u8>())
        .map_err(|e| bad(format!("`{images_name}`: {e}")))?;
    let label_values: Vec<u8> = labels
        .flatten_all()
        .and_then(|t| t.to_vec1::<u8>())
        .map_err(|e| bad(format!("`{labels_name}`: {e}")))?;
    let volumes = flat
        .chunks_exact(voxels_per.max(1))
        .take(n)
        .map(<[u8]>::to_vec)
        .collect();
    Ok(MedMnistSplit {
        shape,
        volumes,
        labels: label_values[..n].iter().map(|&v| i64::from(v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small MedMNIST-like file: two train volumes of 2×3×4, one val and one test.
    fn write_tiny(path: &Path) {
        let volume = |n: usize, fill: u8| {
            Tensor::from_vec(vec![fill; n * 24], (n, 2, 3, 4), &candle_core::Device::Cpu)
                .unwrap()
        };
        let labels = |v: Vec<u8>| {
            let n = v.len();
            Tensor::from_vec(v, (n, 1), &candle_core::Device::Cpu).unwrap()
        };
        Tensor::write_npz(
            &[
                ("train_images", volume(2, 255)),
                ("train_labels", labels(vec![0, 1])),
                ("val_images", volume(1, 0)),
                ("val_labels", labels(vec![1])),
                ("test_images", volume(1, 255)),
                ("test_labels", labels(vec![0])),
            ],
            path,
        )
        .unwrap();
    }

    #[test]
    fn reads_shapes_labels_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.npz");
        write_tiny(&path);
        let train = read_medmnist_split(&path, "train", None).unwrap();
        assert_eq!(train.shape, [2, 3, 4]);
        assert_eq!(train.labels, vec![0, 1]);
        assert_eq!(train.volumes.len(), 2);
        assert!(train.volumes[1].iter().all(|&v| v == 255));
        let first = read_medmnist_split(&path, "train", Some(1)).unwrap();
        assert_eq!(first.labels, vec![0]);
        assert_eq!(read_medmnist_split(&path, "val", None).unwrap().labels, vec![1]);
    }

    #[test]
    fn truncated_or_missing_arrays_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.npz");
        write_tiny(&path);
        let msg = read_medmnist_split(&path, "holdout", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("tiny.npz") && msg.contains("holdout_images"), "{msg}");
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.npz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let msg = read_medmnist_split(&cut, "train", None)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with(&format!("{}: ", cut.display())), "{msg}");
    }
}
