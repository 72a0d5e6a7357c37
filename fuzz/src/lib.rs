//! Code the fuzz targets share with the seed writer
//! (`cargo run --example write_seeds`): the structured inputs of
//! `engine_bytes` / `engine_text` (with their run), `merge_laws` and
//! `sync_engine` (with the run of `sync_engine`) and the seed inputs of
//! the regression classes.
//!
//! ```
//! let seeds = crdt_fuzz::seeds::engine_bytes();
//! assert!(seeds.iter().any(|(class, _)| class == "saturated-dot"));
//! ```

pub mod engine_bytes;
pub mod engine_run;
pub mod merge_laws;
pub mod seeds;
pub mod sync_engine;

/// Writes the variant tag of enum variant `index` of `variants` as the
/// derive of `arbitrary` 1.x reads it: it takes variant
/// `(u32 * variants) >> 32`, and the least `u32` that maps to `index` is the
/// ceiling of `index * 2^32 / variants`.
pub(crate) fn write_variant(out: &mut Vec<u8>, index: u64, variants: u64) {
    let tag = (index << 32).div_ceil(variants);
    out.extend_from_slice(&u32::try_from(tag).expect("below 2^32").to_le_bytes());
}
