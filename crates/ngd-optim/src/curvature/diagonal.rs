//! The entry-wise (diagonal) Fisher block of one layer (MATH.md §8b): F[i, j] = E[h̃_i² x_j²]
//! with x the output-side root of the Fisher, summed over its rows per sample, and the step
//! ΔW̃ = ∇_{W̃}L ⊘ (F + ρ).

use super::{AverageWeight, running_average, total};
use super::{BlockKind, BlockStatistics, CurvatureBlock, FactorSync, LayerSignals};
use crate::{OptimError, Result};
use burn::tensor::{FloatDType, Tensor};

/// The diagonal Fisher block of one layer.
#[derive(Debug, Clone)]
pub struct DiagonalBlock {
    dtype: FloatDType,
    /// F, d_in × d_out, running average in f64.
    fisher: Option<Tensor<2>>,
    /// F in `dtype` at the last refresh.
    cached: Option<Tensor<2>>,
    /// The average's weight Σβ^{t−s}.
    weight: AverageWeight,
}

impl DiagonalBlock {
    /// An empty block whose step runs in `dtype` (the average is f64).
    pub fn new(dtype: FloatDType) -> Self {
        Self {
            dtype,
            fisher: None,
            cached: None,
            weight: AverageWeight::default(),
        }
    }
}

impl CurvatureBlock for DiagonalBlock {
    fn kind(&self) -> BlockKind {
        BlockKind::Diagonal
    }

    /// F̂ = (h̃ ⊙ h̃)ᵀ Σ_rows(X ⊙ X) / k, the K = C·k rows of an exact root summed per sample;
    /// with R > 1 rows per sample (a convolution) F̂ = Σ_n G_n ⊙ G_n / k from the per-sample
    /// gradients G_n = Σ_r h̃_{n,r} x_{n,r}ᵀ (MATH.md §8c).
    fn update_statistics(&mut self, batch: BlockStatistics<'_>, decay: f64) {
        let k = batch.samples();
        let r = batch.locations();
        let [rows, d_out] = batch.root.dims();
        let f = if r > 1 {
            let d_in = batch.input.dims()[1];
            let h = batch.input.clone().reshape([k, r, d_in]).swap_dims(1, 2);
            let x = batch.root.clone().reshape([k, r, d_out]);
            h.matmul(x)
                .square()
                .sum_dim(0)
                .reshape([d_in, d_out])
                .div_scalar(k as f64)
        } else {
            let x2 = batch.root.clone().square();
            let x2 = if rows == k {
                x2
            } else {
                x2.reshape([rows / k, k, d_out])
                    .sum_dim(0)
                    .reshape([k, d_out])
            };
            batch
                .input
                .clone()
                .square()
                .transpose()
                .matmul(x2)
                .div_scalar(k as f64)
        };
        let f = f.cast(FloatDType::F64);
        let mix = self.weight.advance(decay, self.fisher.is_some());
        self.fisher = Some(running_average(self.fisher.take(), f, mix));
    }

    fn sync(&mut self, layer: usize, sync: &mut dyn FactorSync) {
        if let Some(f) = self.fisher.take() {
            self.fisher = Some(sync.all_reduce_mean(layer, "f", f));
        }
    }

    fn refresh(&mut self, _damping: f64, layer: usize) -> Result<()> {
        let f = self
            .fisher
            .clone()
            .ok_or(OptimError::NoStatistics { layer: layer + 1 })?;
        self.cached = Some(f.cast(self.dtype));
        Ok(())
    }

    /// ∇_{W̃}L ⊘ (F + ρ) at the call's ρ.
    fn precondition(&self, batch: &LayerSignals, damping: f64) -> Tensor<2> {
        let f = self
            .cached
            .clone()
            .expect("DiagonalBlock::precondition before refresh");
        batch.gradient(self.dtype) / f.add_scalar(damping)
    }

    /// ⟨F, V ⊙ V⟩ with the running F in f64 (0 before statistics).
    fn curvature_quadratic(&self, v: &Tensor<2>) -> f64 {
        match &self.fisher {
            Some(f) => total(f.clone() * v.clone().cast(FloatDType::F64).square()),
            None => 0.0,
        }
    }

    /// The running F and the F of the last refresh (they differ between refreshes).
    fn state(&self) -> Vec<(&'static str, Tensor<2>)> {
        let mut out = Vec::new();
        if let (Some(f), Some(cached)) = (&self.fisher, &self.cached) {
            out.push(("f", f.clone()));
            out.push(("f_refreshed", cached.clone()));
            out.extend(self.weight.to_tensor(&f.device()).map(|w| ("weight", w)));
        }
        out
    }

    fn load_state(&mut self, take: &mut dyn FnMut(&str) -> Result<Tensor<2>>) -> Result<()> {
        self.fisher = Some(take("f")?.cast(FloatDType::F64));
        self.cached = Some(take("f_refreshed")?.cast(self.dtype));
        self.weight = AverageWeight::from_tensor(take("weight").ok());
        Ok(())
    }

    fn dims(&self) -> Option<(usize, usize)> {
        let [d_in, d_out] = self.fisher.as_ref()?.dims();
        Some((d_in, d_out))
    }
}
