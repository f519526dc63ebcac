//! The identity block: the plain gradient ∇_{W̃}L = h̃ᵀY/N, for a layer that a method leaves
//! unpreconditioned. It keeps no statistics.

use super::{BlockKind, BlockStatistics, CurvatureBlock, FactorSync, LayerSignals};
use crate::Result;
use burn::tensor::{FloatDType, Tensor};

/// The identity block of one layer (no curvature).
#[derive(Debug, Clone)]
pub struct IdentityBlock {
    dtype: FloatDType,
}

impl IdentityBlock {
    /// A block whose gradient is formed in `dtype`.
    pub fn new(dtype: FloatDType) -> Self {
        Self { dtype }
    }
}

impl CurvatureBlock for IdentityBlock {
    fn kind(&self) -> BlockKind {
        BlockKind::Identity
    }

    fn update_statistics(&mut self, _batch: BlockStatistics<'_>, _decay: f64) {}

    fn sync(&mut self, _layer: usize, _sync: &mut dyn FactorSync) {}

    fn refresh(&mut self, _damping: f64, _layer: usize) -> Result<()> {
        Ok(())
    }

    /// h̃ᵀY/N.
    fn precondition(&self, batch: &LayerSignals, _damping: f64) -> Tensor<2> {
        batch.gradient(self.dtype)
    }

    /// ‖V‖² (the plain gradient's curvature is I).
    fn curvature_quadratic(&self, v: &Tensor<2>) -> f64 {
        super::total(v.clone().cast(FloatDType::F64).square())
    }

    fn state(&self) -> Vec<(&'static str, Tensor<2>)> {
        Vec::new()
    }

    fn load_state(&mut self, _take: &mut dyn FnMut(&str) -> Result<Tensor<2>>) -> Result<()> {
        Ok(())
    }

    fn dims(&self) -> Option<(usize, usize)> {
        None
    }
}
