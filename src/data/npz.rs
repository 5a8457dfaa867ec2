//! Reading MedMNIST 3-D `.npz` files: a zip of `.npy` arrays (no pickle).
//!
//! Principal items: [`read_medmnist_split`], [`MedMnistSplit`] and [`read_npz`]. A MedMNIST
//! file holds, for each official split `s` in `train`, `val`, `test`, the arrays `s_images`
//! (N, D, H, W) uint8 and `s_labels` (N, 1) uint8, deflate-compressed (`np.savez_compressed`).
//!
//! The container is read here rather than through a zip crate: the one already in radbench's
//! dependency tree (via candle) is built without deflate, and enabling it would rebuild candle.
//! Only what NumPy writes is accepted: the central directory (no ZIP64, no encryption),
//! entries stored or deflated (flate2), each checked against its CRC-32, and `.npy` version 1–3
//! headers of C-order arrays. References: PKWARE APPNOTE.TXT 6.3 (sections 4.3.7, 4.3.12,
//! 4.3.16); the NumPy `.npy` format, NEP 1.

use super::DataError;
use std::collections::BTreeMap;
use std::io::Read;
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

/// One array of a `.npz` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// NumPy dtype descriptor, e.g. `|u1`.
    pub descr: String,
    /// Shape, C order.
    pub shape: Vec<usize>,
    /// The raw element bytes.
    pub data: Vec<u8>,
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
    let mut arrays = read_npz(path, &[&images_name, &labels_name])?;
    let (Some(labels), Some(images)) = (arrays.remove(&labels_name), arrays.remove(&images_name))
    else {
        return Err(bad(format!(
            "expected the arrays `{images_name}` and `{labels_name}`"
        )));
    };
    let is_u8 = |a: &NpyArray| matches!(a.descr.as_str(), "|u1" | "<u1" | "u1" | "|b1");
    if !is_u8(&images) || images.shape.len() != 4 {
        return Err(bad(format!(
            "`{images_name}` is {} of shape {:?}; expected uint8 (N, D, H, W)",
            images.descr, images.shape
        )));
    }
    let n_all = images.shape[0];
    if !is_u8(&labels) || labels.shape.first() != Some(&n_all) || labels.data.len() != n_all {
        return Err(bad(format!(
            "`{labels_name}` is {} of shape {:?}; expected uint8 ({n_all}, 1)",
            labels.descr, labels.shape
        )));
    }
    let n = limit.map_or(n_all, |l| l.min(n_all));
    let shape = [images.shape[1], images.shape[2], images.shape[3]];
    let voxels_per = shape.iter().product::<usize>().max(1);
    Ok(MedMnistSplit {
        shape,
        volumes: images
            .data
            .chunks_exact(voxels_per)
            .take(n)
            .map(<[u8]>::to_vec)
            .collect(),
        labels: labels.data[..n].iter().map(|&v| i64::from(v)).collect(),
    })
}

/// Reads the arrays `names` (without `.npy`) of the `.npz` file at `path`.
pub fn read_npz(path: &Path, names: &[&str]) -> Result<BTreeMap<String, NpyArray>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bad = |reason: String| DataError::Npz {
        path: path.to_path_buf(),
        reason,
    };
    let entries = zip_entries(&bytes).map_err(bad)?;
    let mut out = BTreeMap::new();
    for name in names {
        let file = format!("{name}.npy");
        let entry = entries
            .iter()
            .find(|e| e.name == file)
            .ok_or_else(|| bad(format!("no array `{name}` (no member {file})")))?;
        let raw = entry_bytes(&bytes, entry).map_err(|r| bad(format!("{file}: {r}")))?;
        let array = parse_npy(&raw).map_err(|r| bad(format!("{file}: {r}")))?;
        out.insert((*name).to_string(), array);
    }
    Ok(out)
}

/// A member of the zip's central directory.
struct ZipEntry {
    name: String,
    method: u16,
    crc: u32,
    compressed: usize,
    size: usize,
    local_offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The central directory, located through the end-of-central-directory record.
fn zip_entries(b: &[u8]) -> Result<Vec<ZipEntry>, String> {
    const EOCD: u32 = 0x0605_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    let truncated = || "not a complete zip file (truncated or corrupt)".to_string();
    let last = b.len().checked_sub(22).ok_or_else(truncated)?;
    let first = last.saturating_sub(65_535);
    let eocd = (first..=last)
        .rev()
        .find(|&i| u32_at(b, i) == Some(EOCD))
        .ok_or_else(truncated)?;
    let count = usize::from(u16_at(b, eocd + 10).ok_or_else(truncated)?);
    let offset = u32_at(b, eocd + 16).ok_or_else(truncated)?;
    if offset == u32::MAX || count == usize::from(u16::MAX) {
        return Err("ZIP64 archives are not supported".into());
    }
    let mut at = offset as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(b, at) != Some(CENTRAL) {
            return Err(truncated());
        }
        let field = |o: usize| u32_at(b, at + o).ok_or_else(truncated);
        let short = |o: usize| u16_at(b, at + o).map(usize::from).ok_or_else(truncated);
        if short(8)? & 1 != 0 {
            return Err("encrypted zip members are not supported".into());
        }
        let (name_len, extra_len, comment_len) = (short(28)?, short(30)?, short(32)?);
        let name = b.get(at + 46..at + 46 + name_len).ok_or_else(truncated)?;
        entries.push(ZipEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: short(10)? as u16,
            crc: field(16)?,
            compressed: field(20)? as usize,
            size: field(24)? as usize,
            local_offset: field(42)? as usize,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(entries)
}

/// The uncompressed bytes of `entry`, checked against its size and CRC-32.
fn entry_bytes(b: &[u8], entry: &ZipEntry) -> Result<Vec<u8>, String> {
    let truncated = || "member data truncated".to_string();
    let local = entry.local_offset;
    if u32_at(b, local) != Some(0x0403_4b50) {
        return Err("bad local header (corrupt zip)".into());
    }
    let name_len = usize::from(u16_at(b, local + 26).ok_or_else(truncated)?);
    let extra_len = usize::from(u16_at(b, local + 28).ok_or_else(truncated)?);
    let start = local + 30 + name_len + extra_len;
    let data = b
        .get(start..start + entry.compressed)
        .ok_or_else(truncated)?;
    let mut out = Vec::with_capacity(entry.size);
    match entry.method {
        0 => out.extend_from_slice(data),
        8 => {
            flate2::read::DeflateDecoder::new(data)
                .take(entry.size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("corrupt deflate stream: {e}"))?;
        }
        m => {
            return Err(format!(
                "compression method {m} is not supported (stored or deflate)"
            ));
        }
    }
    if out.len() != entry.size {
        return Err(format!(
            "expected {} bytes, decompressed {} (corrupt)",
            entry.size,
            out.len()
        ));
    }
    let mut crc = flate2::Crc::new();
    crc.update(&out);
    if crc.sum() != entry.crc {
        return Err(format!(
            "CRC-32 {:08x} differs from the recorded {:08x} (corrupt)",
            crc.sum(),
            entry.crc
        ));
    }
    Ok(out)
}

/// Parses a `.npy` file: magic, version, header dict, then the C-order data.
fn parse_npy(b: &[u8]) -> Result<NpyArray, String> {
    if b.get(..6) != Some(b"\x93NUMPY".as_slice()) {
        return Err("not a .npy array (bad magic)".into());
    }
    let (header_len, header_start) = match b.get(6) {
        Some(1) => (usize::from(u16_at(b, 8).ok_or("truncated header")?), 10),
        Some(2 | 3) => (u32_at(b, 8).ok_or("truncated header")? as usize, 12),
        other => return Err(format!(".npy version {other:?} is not supported")),
    };
    let header = b
        .get(header_start..header_start + header_len)
        .ok_or("truncated header")?;
    let header = String::from_utf8_lossy(header);
    let value_of = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = value_of("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or("no descr in the header")?
        .to_string();
    if value_of("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_text = value_of("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or("no shape in the header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad shape ({shape_text})")))
        .collect::<Result<_, _>>()?;
    let item = match descr.trim_start_matches(['<', '>', '|', '=']) {
        "u1" | "i1" | "b1" => 1,
        other => return Err(format!("dtype {other} is not supported (uint8 expected)")),
    };
    let n = shape.iter().product::<usize>() * item;
    let data = b.get(header_start + header_len..).ok_or("truncated data")?;
    if data.len() != n {
        return Err(format!("expected {n} bytes of data, found {}", data.len()));
    }
    Ok(NpyArray {
        descr,
        shape,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    /// A small MedMNIST-like file: two train volumes of 2×3×4, one val and one test.
    fn write_tiny(path: &Path) {
        let volume = |n: usize, fill: u8| {
            let values: Vec<u8> = (0..n * 24)
                .map(|v| if v % 5 == 0 { 0 } else { fill })
                .collect();
            Tensor::from_vec(values, (n, 2, 3, 4), &candle_core::Device::Cpu).unwrap()
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
        // Sample 1 starts at flat index 24: 24 % 5 = 4, so its second voxel (25) is the 0.
        assert_eq!(train.volumes[1][..6], [255, 0, 255, 255, 255, 255]);
        let first = read_medmnist_split(&path, "train", Some(1)).unwrap();
        assert_eq!(first.labels, vec![0]);
        assert_eq!(
            read_medmnist_split(&path, "val", None).unwrap().labels,
            vec![1]
        );
    }

    #[test]
    fn truncated_or_missing_arrays_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.npz");
        write_tiny(&path);
        let msg = read_medmnist_split(&path, "holdout", None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("tiny.npz") && msg.contains("holdout_images"),
            "{msg}"
        );
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.npz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let msg = read_medmnist_split(&cut, "train", None)
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with(&format!("{}: ", cut.display())), "{msg}");
    }

    #[test]
    fn a_flipped_byte_fails_the_crc_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.npz");
        write_tiny(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        // The last voxel byte of the first member (train_images, stored uncompressed).
        let magic = bytes
            .windows(6)
            .position(|w| w == b"\x93NUMPY".as_slice())
            .unwrap();
        let header_len = usize::from(u16::from_le_bytes([bytes[magic + 8], bytes[magic + 9]]));
        let last_voxel = magic + 10 + header_len + 2 * 24 - 1;
        bytes[last_voxel] ^= 0x55;
        let flipped = dir.path().join("flipped.npz");
        std::fs::write(&flipped, &bytes).unwrap();
        let msg = read_medmnist_split(&flipped, "train", None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("CRC-32") && msg.contains("flipped.npz"),
            "{msg}"
        );
    }
}
