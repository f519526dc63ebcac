//! The sync point between statistics and inversion (kfac-jax's `sync`): where a data-parallel
//! run averages every block's running statistics across devices (docs/distributed.md).

use burn::tensor::Tensor;

/// Averages a block's running statistics across the devices of a data-parallel run.
///
/// [`crate::Ngd`] calls it once per statistics step, for every layer and statistic, after all
/// blocks have folded in their batch and before any inversion, so that every device inverts
/// the same factors.
pub trait FactorSync: Send {
    /// The mean of `statistic` (named `name`, e.g. `"a"`, of layer `layer`, 0-based) over the
    /// devices; the statistic of this device comes in, the mean goes out.
    fn all_reduce_mean(&mut self, layer: usize, name: &str, statistic: Tensor<2>) -> Tensor<2>;
}

/// One device: nothing to average.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSync;

impl FactorSync for LocalSync {
    fn all_reduce_mean(&mut self, _layer: usize, _name: &str, statistic: Tensor<2>) -> Tensor<2> {
        statistic
    }
}
