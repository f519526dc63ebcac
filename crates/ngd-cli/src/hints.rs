//! The command-line hint for a library error: the libraries' errors are typed and never name
//! a flag; this is where an error becomes advice about `ngd`'s options.

use ngd_experiments::Error as ExperimentError;
use ngd_optim::{LinalgError, MethodError, OptimError, SigmaError};
use ngd_train::TrainError;

/// The option(s) that fix `err`, if any of its causes is a known library error.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<ExperimentError>() {
            return experiment_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<OptimError>() {
            return optim_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<LinalgError>() {
            return linalg_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<TrainError>() {
            return train_hint(e);
        }
        cause.downcast_ref::<MethodError>().and_then(method_hint)
    })
}

fn experiment_hint(e: &ExperimentError) -> Option<&'static str> {
    match e {
        ExperimentError::Optim(e) => optim_hint(e),
        ExperimentError::Method(e) => method_hint(e),
        ExperimentError::Forster(_) => Some("drop --forster and use --damping ρ > 0 instead"),
        ExperimentError::Run {
            source: TrainError::Diverged { .. },
            ..
        } => Some(
            "lower its lr or raise its damping, or set \"allow_divergence\": true in the config",
        ),
        ExperimentError::Run { source, .. } => train_hint(source),
        ExperimentError::AnalyticNeedsRelu(_) => {
            Some("use --activation relu or --kernel empirical")
        }
        ExperimentError::UnknownPredictor(_) | ExperimentError::DuplicatePredictor(_) => Some(
            "--methods takes exact, block-diagonal, block-tri-diagonal, kfac, kfac-printed, each once",
        ),
        ExperimentError::KfacMultiOutput { .. } => {
            Some("drop kfac from --methods, or give two --classes")
        }
        ExperimentError::NotTwoClasses(_) => Some("give two --classes"),
        ExperimentError::Memory { .. } if e.is_empirical_memory() => {
            Some("use fewer samples (--n-train, --n-test), --kernel analytic or a smaller --width")
        }
        ExperimentError::Memory { .. } => Some("use fewer samples (--n-train, --n-test)"),
        _ => None,
    }
}

fn train_hint(e: &TrainError) -> Option<&'static str> {
    match e {
        TrainError::Diverged { .. } => Some("try a smaller --lr or a larger --damping"),
        TrainError::NonFiniteLoss { .. } => Some("try a smaller --lr"),
        TrainError::Checkpoint { .. } => {
            Some("check the path; --resume and ngd eval read what --save wrote")
        }
        TrainError::Optim(e) => optim_hint(e),
        TrainError::Method(e) => method_hint(e),
        _ => None,
    }
}

fn optim_hint(e: &OptimError) -> Option<&'static str> {
    match e {
        OptimError::NeedsDamping => Some("pass --damping ρ > 0, e.g. --damping 1e-3"),
        OptimError::NoDefaultLr { .. } => Some("give --lr explicitly (and --damping ρ > 0)"),
        OptimError::SingularInputFactor { .. } => {
            Some("use --forster, a larger --damping, or --damping 0 (pseudo-inverse)")
        }
        OptimError::Diverged { .. } => Some("try a smaller --lr or a larger --damping"),
        OptimError::StateMismatch(_) => Some(
            "resume with the --method, network and K-FAC options the checkpoint was saved with",
        ),
        OptimError::UnsupportedLayer { .. } => Some(
            "use --method kfac or diagonal with --fisher sampled (per-layer blocks), or sgd, adam, \
             adamw or muon",
        ),
        OptimError::Linalg(e) => linalg_hint(e),
        OptimError::Method(e) => method_hint(e),
        OptimError::Sigma(SigmaError::Singular { .. }) => {
            Some("use --damping ρ > 0, another --depth, or another --sigma")
        }
        OptimError::Sigma(_) => Some(SIGMA_HINT),
        _ => None,
    }
}

fn linalg_hint(e: &LinalgError) -> Option<&'static str> {
    match e {
        LinalgError::Singular { .. } => Some(
            "raise --damping above the value in use (shown by --help and in the run's config), \
             e.g. tenfold; from --damping 0, try 1e-6",
        ),
        _ => None,
    }
}

fn method_hint(e: &MethodError) -> Option<&'static str> {
    match e {
        MethodError::Sigma(_) => Some(SIGMA_HINT),
        MethodError::Loss(_) => Some(
            "use --loss mse with this method; for the diagonal Fisher with cross-entropy add \
             --batch-size, --fisher sampled and --lr",
        ),
        _ => None,
    }
}

const SIGMA_HINT: &str =
    "--sigma takes Σ as rows separated by ';', e.g. --sigma \"1,0.5,0;0.5,1,0.5;0,0.5,1\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_get_flag_hints_through_context() {
        let err = anyhow::Error::new(OptimError::NeedsDamping).context("training");
        assert!(hint(&err).unwrap().contains("--damping"));
        let err = anyhow::Error::new(TrainError::Optim(OptimError::NoDefaultLr { method: "x" }));
        assert!(hint(&err).unwrap().contains("--lr"));
        let err = anyhow::Error::new(ExperimentError::Optim(OptimError::NeedsDamping));
        assert!(hint(&err).unwrap().contains("--damping"));
        let err = anyhow::anyhow!("something else");
        assert!(hint(&err).is_none());
    }

    /// A validation error, a divergence and an I/O failure are different variants, and the
    /// hints tell them apart by type, not by message.
    #[test]
    fn divergence_and_checkpoint_failures_are_their_own_variants() {
        let diverged = anyhow::Error::new(TrainError::NonFiniteLoss { loss: f64::NAN });
        assert_eq!(diverged.to_string(), "the batch loss is NaN");
        assert!(hint(&diverged).unwrap().contains("--lr"));
        let io = TrainError::Checkpoint {
            path: "run.mpk".into(),
            message: "No such file or directory".into(),
        };
        assert_eq!(
            io.to_string(),
            "checkpoint run.mpk: No such file or directory"
        );
        assert!(hint(&anyhow::Error::new(io)).unwrap().contains("--save"));
        let invalid = anyhow::Error::new(TrainError::Invalid("batch size 0".into()));
        assert!(hint(&invalid).is_none());
    }

    /// The typed errors that moved crates keep their hints: a stalled Forster transform (now
    /// `ngd_core::ForsterError`) and a method's loss refusal inside an optimizer error.
    #[test]
    fn moved_errors_keep_their_hints() {
        let stalled = ngd_core::ForsterError::Stalled {
            deviation: 0.04,
            rank: 471,
            span_tol: 1e-5,
        };
        let err = anyhow::Error::new(ExperimentError::Forster(stalled));
        assert!(hint(&err).unwrap().contains("drop --forster"));
        let loss = OptimError::Method(MethodError::Loss("no cross-entropy".into()));
        assert!(
            hint(&anyhow::Error::new(loss))
                .unwrap()
                .contains("--loss mse")
        );
    }

    /// A singular K-FAC factor at ρ = 1e-3 (issue: "add damping ρ > 0" although ρ > 0 was in
    /// use): the message names the damping the factor had, and the hint asks for more.
    #[test]
    fn a_singular_factor_asks_for_more_damping_than_in_use() {
        let m = faer::Mat::<f64>::zeros(3, 3);
        let err = ngd_optim::curvature::damped_inverse(&m, -1e-3, "A", 0).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("damped by ρ_A = -1.000e-3"), "{text}");
        assert!(!text.contains("add damping"), "{text}");
        let hint = hint(&anyhow::Error::new(err)).unwrap();
        assert!(
            hint.contains("raise --damping above the value in use"),
            "{hint}"
        );
    }
}
