//! Code the fuzz targets share with the seed writer
//! (`cargo run --example write_seeds`): the structured input of
//! `engine_bytes` and the seed inputs of the regression classes.
//!
//! ```
//! let seeds = crdt_fuzz::seeds::engine_bytes();
//! assert!(seeds.iter().any(|(class, _)| class == "saturated-dot"));
//! ```

pub mod engine_bytes;
pub mod seeds;
