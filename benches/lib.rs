//! The benchmark package of spanwise: `overhead.rs` (criterion, spanwise beside its peers) and
//! `profile.rs` (a fixed workload for callgrind). Nothing here is a library; see `README.md`.
