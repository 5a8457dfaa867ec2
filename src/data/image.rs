//! In-memory images and masks on a voxel grid.
//!
//! Geometry follows the ITK/SimpleITK convention that pyradiomics sees: `origin` and `direction`
//! are in LPS world coordinates, `direction` columns are the unit axes of i, j, k, and the
//! world position of voxel (i, j, k) is `origin + direction · (spacing ⊙ [i, j, k])`.
//! Voxels are stored with i fastest: `index = i + nx·(j + ny·k)`.

/// Voxel grid geometry: shape, spacing (mm), origin (mm, LPS) and direction cosines.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Number of voxels along i, j, k.
    pub dims: [usize; 3],
    /// Voxel size in mm along i, j, k.
    pub spacing: [f64; 3],
    /// World position (mm, LPS) of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// Direction cosines: `direction[r][c]` is row r of the matrix whose column c is axis c.
    pub direction: [[f64; 3]; 3],
}

impl Grid {
    /// A grid with identity direction and zero origin.
    pub fn new(dims: [usize; 3], spacing: [f64; 3]) -> Grid {
        Grid {
            dims,
            spacing,
            origin: [0.0; 3],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// True when the grid has no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Linear index of voxel (i, j, k).
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// Volume of one voxel in mm³.
    pub fn voxel_volume_mm3(&self) -> f64 {
        self.spacing[0] * self.spacing[1] * self.spacing[2]
    }

    /// Describes the first difference from `other` beyond `tol` (shape exact; spacing, origin
    /// and direction within `tol`), or `None` when both grids match.
    pub fn mismatch(&self, other: &Grid, tol: f64) -> Option<String> {
        if self.dims != other.dims {
            return Some(format!("shape {:?} vs {:?}", self.dims, other.dims));
        }
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol);
        if !close(&self.spacing, &other.spacing) {
            return Some(format!("spacing {:?} vs {:?}", self.spacing, other.spacing));
        }
        if !close(&self.origin, &other.origin) {
            return Some(format!("origin {:?} vs {:?}", self.origin, other.origin));
        }
        if !close(
            self.direction.as_flattened(),
            other.direction.as_flattened(),
        ) {
            return Some(format!(
                "direction {:?} vs {:?}",
                self.direction, other.direction
            ));
        }
        None
    }
}

/// A scalar image: one value per voxel.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Geometry.
    pub grid: Grid,
    /// Voxel values, i fastest.
    pub voxels: Vec<f64>,
}

/// A label mask on a grid: 0 is background, any other value a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// Geometry.
    pub grid: Grid,
    /// Label per voxel, i fastest.
    pub voxels: Vec<u8>,
}

impl Mask {
    /// Number of voxels carrying `label`.
    pub fn count(&self, label: u8) -> usize {
        self.voxels.iter().filter(|&&v| v == label).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_i_fastest() {
        let g = Grid::new([4, 3, 2], [1.0; 3]);
        assert_eq!(g.index(1, 0, 0), 1);
        assert_eq!(g.index(0, 1, 0), 4);
        assert_eq!(g.index(0, 0, 1), 12);
        assert_eq!(g.len(), 24);
    }

    #[test]
    fn mismatch_names_the_difference() {
        let a = Grid::new([4, 3, 2], [1.0; 3]);
        let mut b = a.clone();
        assert!(a.mismatch(&b, 1e-4).is_none());
        b.origin[2] = 0.5;
        assert!(a.mismatch(&b, 1e-4).unwrap().starts_with("origin"));
        let c = Grid::new([4, 3, 3], [1.0; 3]);
        assert!(a.mismatch(&c, 1e-4).unwrap().starts_with("shape"));
    }
}
