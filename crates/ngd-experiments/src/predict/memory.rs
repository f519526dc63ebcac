//! The up-front memory check of a prediction run.

use super::KernelKind;
use crate::{Error, Result};
use ngd_kernels::KernelSet;
use ngd_model::MlpConfig;
use ngd_train::test_theory::split_factor_bytes;

/// Refuses a run whose kernels (L matrices per family in `set`, train N×N and test N'×N) and,
/// with empirical kernels, Jacobian factors of all samples would exceed
/// [`ngd_optim::MEMORY_LIMIT_GIB`], before anything large is allocated.
pub(super) fn check_memory(
    kind: KernelKind,
    cfg: &MlpConfig,
    set: KernelSet,
    n: usize,
    n_test: usize,
) -> Result<()> {
    let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
    let families = [set.theta, set.a, set.b].into_iter().filter(|&f| f).count() as u64;
    // Empirical kernels also hold A_l and one class's B_l while they are accumulated, and
    // the factors of one output at a time.
    let (matrices, factors) = match kind {
        KernelKind::Analytic => (families, 0),
        KernelKind::Empirical => (families + 2, split_factor_bytes(n + n_test, &cfg.widths, 1)),
    };
    let kernels = 8 * cfg.depth() as u64 * matrices * (n * n + n_test * n) as u64;
    let total = gib(kernels + factors);
    if total <= ngd_optim::MEMORY_LIMIT_GIB {
        return Ok(());
    }
    let factors = match kind {
        KernelKind::Analytic => String::new(),
        KernelKind::Empirical => format!(
            " + {:.1} GiB for the Jacobian factors of all samples, one output at a time \
             (widths {:?})",
            gib(factors),
            cfg.widths
        ),
    };
    Err(Error::Memory {
        total,
        kernels: gib(kernels),
        matrices: cfg.depth() as u64 * matrices,
        n,
        n_test,
        factors,
        limit: ngd_optim::MEMORY_LIMIT_GIB,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 000 samples of analytic kernels are refused with the sizes in the message.
    #[test]
    fn large_runs_are_refused_up_front() {
        let cfg = MlpConfig::new(784, 4096, 3, 1);
        assert!(check_memory(KernelKind::Analytic, &cfg, KernelSet::THETA, 1000, 100).is_ok());
        let err = check_memory(KernelKind::Analytic, &cfg, KernelSet::THETA, 40_000, 100)
            .err()
            .unwrap();
        assert!(!err.is_empirical_memory());
        assert!(err.to_string().contains("N = 40000"), "{err}");
        let err = check_memory(KernelKind::Empirical, &cfg, KernelSet::THETA, 40_000, 100)
            .err()
            .unwrap();
        assert!(err.is_empirical_memory(), "{err}");
    }
}
