//! Per-layer curvature blocks: the exact block of each layer (block-diagonal NGD), its Kronecker
//! factorisation (K-FAC), one block per unit (unit-wise NGD) and the entry-wise diagonal and
//! quasi-diagonal Fishers. Each layer's step depends on that layer's factors only.

mod block_diagonal;
mod diagonal;
pub(crate) mod kfac;
mod output_root;
mod quasi_diagonal;
mod unit_wise;

pub use block_diagonal::BlockDiagonal;
pub use diagonal::Diagonal;
pub use kfac::{Kfac, OutputRoot};
pub use quasi_diagonal::QuasiDiagonal;
pub use unit_wise::UnitWise;
