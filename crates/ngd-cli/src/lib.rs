//! Library side of the `ngd` command: backend selection (the only place a backend is named).

pub mod backend;
#[cfg(feature = "tch")]
mod tch_check;
