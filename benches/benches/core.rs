//! Benchmarks of the causality kernel (filled in with the core issue).
fn main() {}
