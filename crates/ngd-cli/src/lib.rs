//! Library side of the `ngd` command: backend selection (the only place a backend is named).

pub mod backend;
pub mod hints;
mod libtorch_version;
mod tch_check;
