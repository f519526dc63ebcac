//! The command-line hint for a library error: the libraries' errors are typed and never name
//! a flag; this is where an error becomes advice about `ngd`'s options.

use ngd_optim::{LinalgError, MethodError, OptimError, SigmaError};
use ngd_train::TrainError;

/// The option(s) that fix `err`, if any of its causes is a known library error.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<OptimError>() {
            return optim_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<LinalgError>() {
            return linalg_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<TrainError>() {
            return match e {
                TrainError::Diverged { .. } => Some("try a smaller --lr or a larger --damping"),
                TrainError::Optim(e) => optim_hint(e),
                TrainError::Method(e) => method_hint(e),
                _ => None,
            };
        }
        cause.downcast_ref::<MethodError>().and_then(method_hint)
    })
}

fn optim_hint(e: &OptimError) -> Option<&'static str> {
    match e {
        OptimError::NeedsDamping => Some("pass --damping ρ > 0, e.g. --damping 1e-3"),
        OptimError::NoDefaultLr { .. } => Some("give --lr explicitly (and --damping ρ > 0)"),
        OptimError::SingularInputFactor { .. } => Some("use --forster or --damping ρ > 0"),
        OptimError::Forster(_) => Some("drop --forster and use --damping ρ > 0 instead"),
        OptimError::Linalg(e) => linalg_hint(e),
        OptimError::Sigma(SigmaError::Singular { .. }) => {
            Some("use --damping ρ > 0, another --depth, or another --sigma")
        }
        OptimError::Sigma(_) => Some(SIGMA_HINT),
        _ => None,
    }
}

fn linalg_hint(e: &LinalgError) -> Option<&'static str> {
    match e {
        LinalgError::Singular { .. } => Some("add damping: --damping ρ > 0, e.g. 1e-6"),
        _ => None,
    }
}

fn method_hint(e: &MethodError) -> Option<&'static str> {
    match e {
        MethodError::Sigma(_) => Some(SIGMA_HINT),
        MethodError::Loss(_) => Some("use --loss mse with this method"),
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
        let err = anyhow::anyhow!("something else");
        assert!(hint(&err).is_none());
    }
}
