//! Marching cubes (3-D) and marching squares (2-D) on a binary mask, as pyradiomics'
//! `cshape.c` runs them: every surface vertex at an edge midpoint, volume by the divergence
//! theorem, area as the sum of triangle areas, diameters from the vertices.
//!
//! Principal items: [`mesh_coefficients`] ([`MeshCoefficients`]) and [`mesh_coefficients_2d`]
//! ([`MeshCoefficients2d`]).
//!
//! Reference: W. E. Lorensen & H. E. Cline, "Marching cubes", SIGGRAPH 1987; the triangle table
//! is the public-domain one of P. Bourke, "Polygonising a scalar field" (1994, table by C. G.
//! Bloyd), of which pyradiomics keeps the first 128 cases (a case above 127 is its complement
//! with the orientation, hence the volume's sign, reversed). Coordinates are in numpy order
//! (k, j, i) times the spacing, so sums run in the same order as pyradiomics'.

/// Corner offsets (k, j, i) of the cube's 8 corners.
const CORNERS: [[usize; 3]; 8] = [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [1, 0, 0],
    [1, 0, 1],
    [1, 1, 1],
    [1, 1, 0],
];

/// Midpoint (k, j, i) of each of the cube's 12 edges.
const EDGE_MIDPOINTS: [[f64; 3]; 12] = [
    [0.0, 0.0, 0.5],
    [0.0, 0.5, 1.0],
    [0.0, 1.0, 0.5],
    [0.0, 0.5, 0.0],
    [1.0, 0.0, 0.5],
    [1.0, 0.5, 1.0],
    [1.0, 1.0, 0.5],
    [1.0, 0.5, 0.0],
    [0.5, 0.0, 0.0],
    [0.5, 0.0, 1.0],
    [0.5, 1.0, 1.0],
    [0.5, 1.0, 0.0],
];

/// Triangles (as edge triples) of each cube case 0..128 (bit c set = corner c inside).
const TRIANGLES: [&[[usize; 3]]; 128] = [
    &[],
    &[[0, 8, 3]],
    &[[1, 9, 0]],
    &[[1, 8, 3], [1, 9, 8]],
    &[[1, 2, 10]],
    &[[0, 8, 3], [1, 2, 10]],
    &[[9, 2, 10], [0, 2, 9]],
    &[[2, 8, 3], [2, 10, 8], [10, 9, 8]],
    &[[11, 2, 3]],
    &[[11, 2, 0], [0, 8, 11]],
    &[[1, 9, 0], [11, 2, 3]],
    &[[11, 2, 1], [1, 9, 11], [9, 8, 11]],
    &[[3, 10, 1], [11, 10, 3]],
    &[[10, 1, 0], [0, 8, 10], [8, 11, 10]],
    &[[9, 0, 3], [3, 11, 9], [11, 10, 9]],
    &[[9, 8, 10], [11, 10, 8]],
    &[[4, 7, 8]],
    &[[0, 4, 3], [4, 7, 3]],
    &[[1, 9, 0], [4, 7, 8]],
    &[[1, 9, 4], [1, 4, 7], [1, 7, 3]],
    &[[1, 2, 10], [4, 7, 8]],
    &[[3, 4, 7], [3, 0, 4], [1, 2, 10]],
    &[[9, 2, 10], [9, 0, 2], [4, 7, 8]],
    &[[2, 10, 9], [2, 9, 7], [2, 7, 3], [4, 7, 9]],
    &[[4, 7, 8], [11, 2, 3]],
    &[[11, 4, 7], [11, 2, 4], [2, 0, 4]],
    &[[1, 9, 0], [4, 7, 8], [11, 2, 3]],
    &[[4, 7, 11], [9, 4, 11], [11, 2, 9], [1, 9, 2]],
    &[[3, 10, 1], [11, 10, 3], [4, 7, 8]],
    &[[11, 10, 1], [1, 4, 11], [1, 0, 4], [4, 7, 11]],
    &[[4, 7, 8], [9, 0, 3], [3, 11, 9], [11, 10, 9]],
    &[[4, 7, 11], [4, 11, 9], [9, 11, 10]],
    &[[9, 5, 4]],
    &[[9, 5, 4], [0, 8, 3]],
    &[[0, 5, 4], [0, 1, 5]],
    &[[8, 5, 4], [8, 3, 5], [3, 1, 5]],
    &[[1, 2, 10], [9, 5, 4]],
    &[[0, 8, 3], [1, 2, 10], [9, 5, 4]],
    &[[2, 10, 5], [5, 4, 2], [2, 4, 0]],
    &[[2, 10, 5], [3, 2, 5], [3, 5, 4], [8, 3, 4]],
    &[[9, 5, 4], [11, 2, 3]],
    &[[11, 2, 0], [0, 8, 11], [9, 5, 4]],
    &[[0, 5, 4], [0, 1, 5], [11, 2, 3]],
    &[[2, 1, 5], [2, 5, 8], [11, 2, 8], [5, 4, 8]],
    &[[3, 10, 1], [11, 10, 3], [9, 5, 4]],
    &[[5, 4, 9], [10, 1, 0], [0, 8, 10], [8, 11, 10]],
    &[[5, 4, 0], [5, 0, 11], [10, 5, 11], [11, 0, 3]],
    &[[5, 4, 8], [10, 5, 8], [11, 10, 8]],
    &[[7, 8, 9], [5, 7, 9]],
    &[[3, 0, 9], [5, 3, 9], [3, 5, 7]],
    &[[7, 8, 0], [0, 1, 7], [7, 1, 5]],
    &[[1, 5, 7], [1, 7, 3]],
    &[[7, 8, 9], [5, 7, 9], [1, 2, 10]],
    &[[1, 2, 10], [3, 0, 9], [3, 9, 5], [3, 5, 7]],
    &[[0, 2, 8], [8, 2, 5], [8, 5, 7], [2, 10, 5]],
    &[[2, 10, 5], [2, 5, 3], [3, 5, 7]],
    &[[5, 7, 9], [7, 8, 9], [11, 2, 3]],
    &[[5, 7, 9], [9, 7, 2], [2, 0, 9], [11, 2, 7]],
    &[[11, 2, 3], [0, 1, 8], [1, 7, 8], [1, 5, 7]],
    &[[2, 1, 11], [1, 7, 11], [1, 5, 7]],
    &[[7, 8, 9], [5, 7, 9], [3, 10, 1], [11, 10, 3]],
    &[[5, 7, 0], [5, 0, 9], [7, 11, 0], [10, 1, 0], [11, 10, 0]],
    &[[11, 10, 0], [0, 3, 11], [10, 5, 0], [0, 7, 8], [5, 7, 0]],
    &[[11, 10, 5], [5, 7, 11]],
    &[[6, 5, 10]],
    &[[0, 8, 3], [6, 5, 10]],
    &[[1, 9, 0], [6, 5, 10]],
    &[[1, 8, 3], [1, 9, 8], [6, 5, 10]],
    &[[1, 6, 5], [1, 2, 6]],
    &[[1, 6, 5], [1, 2, 6], [0, 8, 3]],
    &[[9, 6, 5], [9, 0, 6], [0, 2, 6]],
    &[[5, 9, 8], [5, 8, 2], [5, 2, 6], [8, 3, 2]],
    &[[11, 2, 3], [6, 5, 10]],
    &[[11, 2, 0], [0, 8, 11], [6, 5, 10]],
    &[[1, 9, 0], [11, 2, 3], [6, 5, 10]],
    &[[11, 2, 1], [1, 9, 11], [9, 8, 11], [6, 5, 10]],
    &[[6, 3, 11], [6, 5, 3], [5, 1, 3]],
    &[[0, 8, 11], [0, 11, 5], [0, 5, 1], [5, 11, 6]],
    &[[6, 3, 11], [0, 3, 6], [0, 6, 5], [0, 5, 9]],
    &[[6, 5, 9], [6, 9, 11], [11, 9, 8]],
    &[[4, 7, 8], [6, 5, 10]],
    &[[0, 4, 3], [4, 7, 3], [6, 5, 10]],
    &[[1, 9, 0], [4, 7, 8], [6, 5, 10]],
    &[[1, 9, 4], [1, 4, 7], [1, 7, 3], [6, 5, 10]],
    &[[4, 7, 8], [1, 6, 5], [1, 2, 6]],
    &[[0, 4, 3], [4, 7, 3], [1, 6, 5], [1, 2, 6]],
    &[[4, 7, 8], [9, 6, 5], [9, 0, 6], [0, 2, 6]],
    &[[7, 3, 9], [4, 7, 9], [3, 2, 9], [5, 9, 6], [2, 6, 9]],
    &[[11, 2, 3], [4, 7, 8], [6, 5, 10]],
    &[[11, 4, 7], [11, 2, 4], [2, 0, 4], [6, 5, 10]],
    &[[1, 9, 0], [11, 2, 3], [4, 7, 8], [6, 5, 10]],
    &[[4, 7, 11], [9, 4, 11], [11, 2, 9], [1, 9, 2], [6, 5, 10]],
    &[[4, 7, 8], [6, 3, 11], [6, 5, 3], [5, 1, 3]],
    &[[5, 1, 11], [5, 11, 6], [1, 0, 11], [4, 7, 11], [0, 4, 11]],
    &[[4, 7, 8], [6, 3, 11], [0, 3, 6], [0, 6, 5], [0, 5, 9]],
    &[[6, 5, 9], [6, 9, 11], [4, 7, 9], [7, 11, 9]],
    &[[10, 4, 9], [6, 4, 10]],
    &[[10, 4, 9], [6, 4, 10], [0, 8, 3]],
    &[[0, 1, 10], [10, 6, 0], [6, 4, 0]],
    &[[1, 8, 3], [1, 6, 8], [8, 6, 4], [6, 1, 10]],
    &[[1, 4, 9], [1, 2, 4], [2, 6, 4]],
    &[[1, 4, 9], [1, 2, 4], [2, 6, 4], [0, 8, 3]],
    &[[0, 2, 4], [4, 2, 6]],
    &[[8, 3, 2], [8, 2, 4], [4, 2, 6]],
    &[[11, 2, 3], [10, 4, 9], [6, 4, 10]],
    &[[11, 2, 0], [0, 8, 11], [10, 4, 9], [6, 4, 10]],
    &[[11, 2, 3], [0, 1, 10], [10, 6, 0], [6, 4, 0]],
    &[[6, 4, 1], [6, 1, 10], [1, 4, 8], [11, 2, 1], [1, 8, 11]],
    &[[9, 6, 4], [3, 6, 9], [1, 3, 9], [11, 6, 3]],
    &[[1, 8, 11], [0, 8, 1], [11, 6, 1], [1, 4, 9], [6, 4, 1]],
    &[[6, 3, 11], [0, 3, 6], [6, 4, 0]],
    &[[8, 6, 4], [6, 8, 11]],
    &[[6, 7, 10], [7, 8, 10], [8, 9, 10]],
    &[[6, 7, 10], [0, 10, 7], [0, 9, 10], [0, 7, 3]],
    &[[6, 7, 10], [1, 10, 7], [1, 7, 8], [0, 1, 8]],
    &[[6, 7, 10], [1, 10, 7], [1, 7, 3]],
    &[[1, 2, 6], [1, 6, 8], [1, 8, 9], [6, 7, 8]],
    &[[2, 6, 9], [1, 2, 9], [6, 7, 9], [3, 0, 9], [7, 3, 9]],
    &[[0, 7, 8], [7, 0, 6], [6, 0, 2]],
    &[[2, 7, 3], [2, 6, 7]],
    &[[11, 2, 3], [6, 7, 10], [7, 8, 10], [8, 9, 10]],
    &[[2, 0, 7], [11, 2, 7], [0, 9, 7], [6, 7, 10], [9, 10, 7]],
    &[[6, 7, 10], [1, 10, 7], [1, 7, 8], [0, 1, 8], [11, 2, 3]],
    &[[11, 2, 1], [1, 7, 11], [10, 6, 1], [1, 6, 7]],
    &[[8, 9, 6], [6, 7, 8], [1, 6, 9], [11, 6, 3], [1, 3, 6]],
    &[[0, 9, 1], [6, 7, 11]],
    &[[0, 7, 8], [7, 0, 6], [0, 3, 11], [11, 6, 0]],
    &[[6, 7, 11]],
];

/// Surface area, volume and diameters of a region's marching-cubes mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshCoefficients {
    /// Mesh surface area in mm².
    pub surface_area: f64,
    /// Mesh volume in mm³.
    pub volume: f64,
    /// Largest vertex distance within a k-plane ("slice"), a j-plane ("column"), an i-plane
    /// ("row") and overall, in mm.
    pub diameters: [f64; 4],
}

/// Runs marching cubes over `inside` (i fastest on `dims` = [ni, nj, nk], which must already
/// have a layer of outside voxels all round), with `spacing` in (i, j, k).
pub fn mesh_coefficients(inside: &[bool], dims: [usize; 3], spacing: [f64; 3]) -> MeshCoefficients {
    let [ni, nj, nk] = dims;
    let s = [spacing[2], spacing[1], spacing[0]]; // (k, j, i)
    let at = |k: usize, j: usize, i: usize| inside[i + ni * (j + nj * k)];
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    let (mut area, mut volume) = (0.0f64, 0.0f64);
    // Vertices stored per cube: on edges 6, 7, 11 when corners 6, 4, 3 are inside (after the
    // complement below corner 7 is always outside), so each edge is stored once.
    const STORED: [(usize, usize); 3] = [(6, 6), (4, 7), (3, 11)];
    for k in 0..nk.saturating_sub(1) {
        for j in 0..nj.saturating_sub(1) {
            for i in 0..ni.saturating_sub(1) {
                let mut case = 0usize;
                for (bit, c) in CORNERS.iter().enumerate() {
                    if at(k + c[0], j + c[1], i + c[2]) {
                        case |= 1 << bit;
                    }
                }
                let sign = if case & 0x80 != 0 {
                    case ^= 0xff;
                    -1.0
                } else {
                    1.0
                };
                let base = [k as f64, j as f64, i as f64];
                for (corner, edge) in STORED {
                    if case & (1 << corner) != 0 {
                        let m = EDGE_MIDPOINTS[edge];
                        vertices.push([0, 1, 2].map(|d| (base[d] + m[d]) * s[d]));
                    }
                }
                for triangle in TRIANGLES[case] {
                    let [a, b, c] = triangle.map(|edge| {
                        let m = EDGE_MIDPOINTS[edge];
                        [0, 1, 2].map(|d| (base[d] + m[d]) * s[d])
                    });
                    let ab = cross(a, b);
                    volume += sign * (ab[0] * c[0] + ab[1] * c[1] + ab[2] * c[2]);
                    let ac = [0, 1, 2].map(|d| a[d] - c[d]);
                    let bc = [0, 1, 2].map(|d| b[d] - c[d]);
                    let n = cross(ac, bc);
                    area += 0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                }
            }
        }
    }
    MeshCoefficients {
        surface_area: area,
        volume: volume / 6.0,
        diameters: diameters(&vertices),
    }
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - b[1] * a[2],
        a[2] * b[0] - b[2] * a[0],
        a[0] * b[1] - b[0] * a[1],
    ]
}

/// Largest vertex distances within equal-k, equal-j and equal-i planes and overall. The maxima
/// are over exactly the pairs pyradiomics compares, with the same arithmetic, so they are equal
/// to the last bit; the work is cut by grouping the planes and, overall, by skipping pairs that
/// cannot beat the best so far (|a − b| ≤ |a − c| + |b − c| for the centroid c).
fn diameters(vertices: &[[f64; 3]]) -> [f64; 4] {
    let squared = |a: &[f64; 3], b: &[f64; 3]| {
        let d = [0, 1, 2].map(|x| (a[x] - b[x]) * (a[x] - b[x]));
        d[0] + d[1] + d[2]
    };
    let mut best = [0.0f64; 4];
    for (axis, slot) in best.iter_mut().take(3).enumerate() {
        let mut sorted: Vec<&[f64; 3]> = vertices.iter().collect();
        sorted.sort_by(|a, b| a[axis].total_cmp(&b[axis]));
        for plane in sorted.chunk_by(|a, b| a[axis] == b[axis]) {
            *slot = slot.max(max_pair_distance(plane, &squared));
        }
    }
    let all: Vec<&[f64; 3]> = vertices.iter().collect();
    best[3] = max_pair_distance(&all, &squared);
    best.map(f64::sqrt)
}

/// The largest squared distance between two of `points` (0 for fewer than two).
fn max_pair_distance(points: &[&[f64; 3]], squared: &impl Fn(&[f64; 3], &[f64; 3]) -> f64) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let n = points.len() as f64;
    let centre: [f64; 3] = [0, 1, 2].map(|x| points.iter().map(|p| p[x]).sum::<f64>() / n);
    let mut by_radius: Vec<(f64, &[f64; 3])> = points
        .iter()
        .map(|&p| (squared(p, &centre).sqrt(), p))
        .collect();
    by_radius.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Bounds carry a small margin so that rounding in the radii never prunes a true maximum.
    let slack = 1e-9 * (1.0 + by_radius[0].0);
    let mut best = 0.0f64;
    for (i, &(ri, a)) in by_radius.iter().enumerate() {
        let reach = ri + by_radius[0].0 + slack;
        if reach * reach < best {
            break;
        }
        for &(rj, b) in &by_radius[..i] {
            let bound = ri + rj + slack;
            if bound * bound < best {
                break;
            }
            best = best.max(squared(a, b));
        }
    }
    best
}

/// Corner offsets (row, column) of a square.
const SQUARE_CORNERS: [[usize; 2]; 4] = [[0, 0], [0, 1], [1, 1], [1, 0]];
/// Midpoint (row, column) of each square edge.
const SQUARE_EDGE_MIDPOINTS: [[f64; 2]; 4] = [[0.0, 0.5], [0.5, 1.0], [1.0, 0.5], [0.5, 0.0]];
/// Line segments (as edge pairs) of each square case.
const SEGMENTS: [&[[usize; 2]]; 16] = [
    &[],
    &[[3, 0]],
    &[[0, 1]],
    &[[3, 1]],
    &[[1, 2]],
    &[[1, 2], [3, 0]],
    &[[0, 2]],
    &[[3, 2]],
    &[[2, 3]],
    &[[2, 0]],
    &[[0, 1], [2, 3]],
    &[[2, 1]],
    &[[1, 3]],
    &[[1, 0]],
    &[[0, 3]],
    &[],
];

/// Perimeter, area and diameter of a 2-D region's marching-squares contour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshCoefficients2d {
    /// Contour length in mm.
    pub perimeter: f64,
    /// Enclosed area in mm².
    pub surface: f64,
    /// Largest vertex distance in mm.
    pub diameter: f64,
}

/// Runs marching squares over `inside` (`rows × columns`, columns fastest, with a layer of
/// outside pixels all round) with `spacing` = (row, column) in mm.
pub fn mesh_coefficients_2d(
    inside: &[bool],
    rows: usize,
    columns: usize,
    spacing: [f64; 2],
) -> MeshCoefficients2d {
    let at = |r: usize, c: usize| inside[r * columns + c];
    let mut vertices: Vec<[f64; 2]> = Vec::new();
    let (mut perimeter, mut surface) = (0.0f64, 0.0f64);
    for r in 0..rows.saturating_sub(1) {
        for c in 0..columns.saturating_sub(1) {
            let mut case = 0usize;
            for (bit, corner) in SQUARE_CORNERS.iter().enumerate() {
                if at(r + corner[0], c + corner[1]) {
                    case |= 1 << bit;
                }
            }
            if case == 0 || case == 0xF {
                continue;
            }
            let base = [r as f64, c as f64];
            let point = |edge: usize| {
                [0, 1].map(|d| (base[d] + SQUARE_EDGE_MIDPOINTS[edge][d]) * spacing[d])
            };
            for &[from, to] in SEGMENTS[case] {
                let (a, b) = (point(from), point(to));
                surface += a[0] * b[1] - b[0] * a[1];
                perimeter += ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1])).sqrt();
            }
            // Stored once per square: edge 3 if corner 0 is inside, edge 2 if corner 2 is, on
            // the case with corner 3 outside.
            let stored_case = if case > 7 { case ^ 0xF } else { case };
            for (corner, edge) in [(0, 3), (2, 2)] {
                if stored_case & (1 << corner) != 0 {
                    vertices.push(point(edge));
                }
            }
        }
    }
    let mut diameter = 0.0f64;
    for (index, a) in vertices.iter().enumerate() {
        for b in &vertices[..index] {
            diameter = diameter.max((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]));
        }
    }
    MeshCoefficients2d {
        perimeter,
        surface: surface / 2.0,
        diameter: diameter.sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded_box(n: [usize; 3]) -> (Vec<bool>, [usize; 3]) {
        let dims = n.map(|x| x + 2);
        let inside = (0..dims.iter().product::<usize>())
            .map(|x| {
                let (i, j, k) = (
                    x % dims[0],
                    (x / dims[0]) % dims[1],
                    x / (dims[0] * dims[1]),
                );
                (1..=n[0]).contains(&i) && (1..=n[1]).contains(&j) && (1..=n[2]).contains(&k)
            })
            .collect();
        (inside, dims)
    }

    #[test]
    fn single_voxel_is_an_octahedron() {
        // The mesh of one voxel joins the six face centres: volume 1/6 · (1·1·1)·… = 4/3 · ½³ = 1/6.
        let (inside, dims) = padded_box([1, 1, 1]);
        let m = mesh_coefficients(&inside, dims, [1.0; 3]);
        assert!((m.volume - 1.0 / 6.0).abs() < 1e-15);
        // 8 equilateral faces of side √½: 8 · (√3/4) · ½ = √3.
        assert!((m.surface_area - 3f64.sqrt()).abs() < 1e-14);
        assert!((m.diameters[3] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn box_volume_grows_with_spacing() {
        let (inside, dims) = padded_box([3, 2, 2]);
        let unit = mesh_coefficients(&inside, dims, [1.0; 3]);
        let scaled = mesh_coefficients(&inside, dims, [2.0, 1.0, 0.5]);
        assert!(unit.volume > 0.0 && unit.volume < 12.0);
        assert!((scaled.volume - unit.volume).abs() < 1e-12);
    }

    #[test]
    fn single_pixel_is_a_diamond() {
        let inside = vec![false, false, false, false, true, false, false, false, false];
        let m = mesh_coefficients_2d(&inside, 3, 3, [1.0, 1.0]);
        assert!((m.surface - 0.5).abs() < 1e-15);
        assert!((m.perimeter - 4.0 * 0.5f64.sqrt()).abs() < 1e-15);
        assert!((m.diameter - 1.0).abs() < 1e-15);
    }
}
