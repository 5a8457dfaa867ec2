//! radbench's image readers compiled on their own: the NIfTI and NRRD parsers and the types
//! they need, from the very source files of the main crate (`src/data/...`), laid out as the
//! paths in those files expect (`crate::data::image`, `super::DataError`). Depending on the
//! whole radbench crate would build polars and candle with coverage instrumentation for two
//! parsers that use neither.

#[path = "../../src/data/error.rs"]
mod error;
#[path = "../../src/data/image.rs"]
pub mod image;
#[path = "../../src/data/nifti/mod.rs"]
pub mod nifti;
#[path = "../../src/data/nrrd/mod.rs"]
pub mod nrrd;

pub use error::DataError;

/// The module paths the reader sources use (`crate::data::...`).
pub mod data {
    pub use crate::{DataError, image, nrrd};
}
