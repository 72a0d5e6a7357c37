//! Shared helpers for the criterion benches (workload builders).
