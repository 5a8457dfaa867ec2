//! Unit tests of the NRRD reader.
use super::*;
use std::io::Write;

fn header(extra: &str, encoding: &str) -> String {
    format!(
        "NRRD0004\n# comment\ntype: short\ndimension: 3\nspace: left-posterior-superior\n\
         sizes: 2 2 1\nspace directions: (0.5,0,0) (0,-0.5,0) (0,0,2)\nkinds: domain domain domain\n\
         endian: little\nencoding: {encoding}\nspace origin: (1,2,3)\n{extra}\n"
    )
}

fn samples() -> Vec<u8> {
    [-3i16, 7, 300, -32768]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

#[test]
fn raw_little_endian_with_negative_direction() {
    let mut bytes = header("", "raw").into_bytes();
    bytes.extend(samples());
    let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
    assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
    assert_eq!(v.sample_type, "int16");
    assert_eq!(v.grid.dims, [2, 2, 1]);
    assert_eq!(v.grid.spacing, [0.5, 0.5, 2.0]);
    assert_eq!(v.grid.origin, [1.0, 2.0, 3.0]);
    assert_eq!(v.grid.direction[1][1], -1.0);
}

#[test]
fn gzip_equals_raw() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&samples()).unwrap();
    let mut bytes = header("", "gzip").into_bytes();
    bytes.extend(encoder.finish().unwrap());
    let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
    assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let member = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let data = samples();
    let mut bytes = header("", "gzip").into_bytes();
    bytes.extend(member(&data[..3]));
    bytes.extend(member(&data[3..]));
    let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
    assert_eq!(v.voxels, vec![-3.0, 7.0, 300.0, -32768.0]);
}

#[test]
fn ras_space_is_turned_into_lps() {
    let text = header("", "ascii").replace("left-posterior-superior", "right-anterior-superior");
    let bytes = format!("{text}1 2 3 4\n").into_bytes();
    let v = parse_nrrd(&bytes, Path::new("t.nrrd")).unwrap();
    assert_eq!(v.grid.origin, [-1.0, -2.0, 3.0]);
    assert_eq!(v.grid.direction[0][0], -1.0);
    assert_eq!(v.grid.direction[1][1], 1.0);
    assert_eq!(v.voxels, vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn truncated_and_overlong_data_are_errors() {
    let mut bytes = header("", "raw").into_bytes();
    bytes.extend(&samples()[..7]);
    let e = parse_nrrd(&bytes, Path::new("cut.nrrd"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.nrrd") && e.contains("7 bytes"), "{e}");
    let mut bytes = header("", "raw").into_bytes();
    bytes.extend(samples());
    bytes.push(0);
    assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
    let mut bytes = header("", "gzip").into_bytes();
    bytes.extend(b"\x1f\x8b\x08\x00garbage");
    assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
}

#[test]
fn unsupported_and_malformed_headers_are_errors() {
    let bytes = header("", "bzip2").into_bytes();
    let e = parse_nrrd(&bytes, Path::new("t.nrrd"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("encoding \"bzip2\""), "{e}");
    let bytes = header("data file: other.raw", "raw").into_bytes();
    assert!(parse_nrrd(&bytes, Path::new("t.nrrd")).is_err());
    assert!(parse_nrrd(b"P5 not nrrd", Path::new("t.nrrd")).is_err());
    assert!(parse_nrrd(b"NRRD0004\ntype: short\n", Path::new("t.nrrd")).is_err());
    let bad_sizes = header("", "raw").replace("sizes: 2 2 1", "sizes: 2 x 1");
    assert!(parse_nrrd(bad_sizes.as_bytes(), Path::new("t.nrrd")).is_err());
    let huge = header("", "raw").replace("sizes: 2 2 1", "sizes: 99999999999 99999999999 9");
    assert!(parse_nrrd(huge.as_bytes(), Path::new("t.nrrd")).is_err());
}

#[test]
fn mask_values_must_be_labels() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.nrrd");
    let mut bytes = header("", "raw").into_bytes();
    bytes.extend(samples());
    std::fs::write(&file, bytes).unwrap();
    let e = read_mask(&file).unwrap_err().to_string();
    assert!(e.contains("mask value -3"), "{e}");
    let mut bytes = header("", "raw").into_bytes();
    bytes.extend([0i16, 1, 2, 255].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(&file, bytes).unwrap();
    assert_eq!(read_mask(&file).unwrap().voxels, vec![0, 1, 2, 255]);
}
