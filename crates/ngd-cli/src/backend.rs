//! The one place that names a backend: `--backend` → burn [`Device`].

use anyhow::Result;
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// `ngd --version`: the package version and the backends built into this binary.
#[cfg(not(feature = "tch"))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (backends: flex, ndarray)");
/// `ngd --version`: the package version, the backends built in, and the libtorch built against.
#[cfg(feature = "tch")]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (backends: flex, ndarray, tch-cpu, tch-cuda; libtorch ",
    env!("NGD_LIBTORCH_VERSION"),
    ")"
);

/// A compute backend selectable with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend "flex" (the default: fastest CPU backend here).
    Flex,
    /// burn-ndarray (CPU).
    Ndarray,
    /// LibTorch on the CPU (cargo feature `tch`).
    TchCpu,
    /// LibTorch on CUDA device `index` (cargo feature `tch`).
    TchCuda(usize),
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flex" => Ok(Self::Flex),
            "ndarray" => Ok(Self::Ndarray),
            "tch-cpu" => Ok(Self::TchCpu),
            "tch-cuda" => Ok(Self::TchCuda(0)),
            _ => match s.strip_prefix("tch-cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Ok(Self::TchCuda(i)),
                _ => Err(format!(
                    "unknown backend '{s}' (expected flex, ndarray, tch-cpu, tch-cuda or tch-cuda:N)"
                )),
            },
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flex => f.write_str("flex"),
            Self::Ndarray => f.write_str("ndarray"),
            Self::TchCpu => f.write_str("tch-cpu"),
            Self::TchCuda(i) => write!(f, "tch-cuda:{i}"),
        }
    }
}

impl Backend {
    /// The device for this backend, or a one-line error when it is not available.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            Self::Ndarray => Ok(Device::ndarray()),
            Self::TchCpu | Self::TchCuda(_) => tch_device(self),
        }
    }

    /// Every backend compiled into this binary and usable here (tch-cuda:0 only when
    /// LibTorch sees a GPU).
    pub fn available() -> Vec<Backend> {
        #[allow(unused_mut)] // only grows with the tch feature
        let mut v = vec![Self::Flex, Self::Ndarray];
        #[cfg(feature = "tch")]
        {
            v.push(Self::TchCpu);
            // Ask LibTorch about CUDA only when it is the libtorch this binary was built for.
            if crate::tch_check::ensure_loaded_libtorch_matches().is_ok()
                && crate::tch_check::cuda_device_count().unwrap_or(0) > 0
            {
                v.push(Self::TchCuda(0));
            }
        }
        v
    }
}

#[cfg(not(feature = "tch"))]
fn tch_device(backend: Backend) -> Result<Device> {
    anyhow::bail!(
        "backend '{backend}' needs LibTorch, but this binary was built without it: rebuild with \
         `cargo build --release --features tch` (see README, section Backends)"
    )
}

#[cfg(feature = "tch")]
fn tch_device(backend: Backend) -> Result<Device> {
    crate::tch_check::ensure_loaded_libtorch_matches()
        .map_err(|e| anyhow::anyhow!("backend '{backend}': {e}"))?;
    #[allow(deprecated)]
    match backend {
        Backend::TchCpu => Ok(Device::libtorch()),
        Backend::TchCuda(i) => {
            crate::tch_check::cuda_device_count()
                .filter(|&n| i < n)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "backend '{backend}': no CUDA device {i} is visible to LibTorch \
                         (no NVIDIA GPU, no CUDA-enabled libtorch, or CUDA_VISIBLE_DEVICES hides it)"
                    )
                })?;
            Ok(Device::libtorch_cuda(i))
        }
        _ => unreachable!(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_backend_name() {
        assert_eq!("flex".parse(), Ok(Backend::Flex));
        assert_eq!("ndarray".parse(), Ok(Backend::Ndarray));
        assert_eq!("tch-cpu".parse(), Ok(Backend::TchCpu));
        assert_eq!("tch-cuda".parse(), Ok(Backend::TchCuda(0)));
        assert_eq!("tch-cuda:2".parse(), Ok(Backend::TchCuda(2)));
        assert!("cuda".parse::<Backend>().is_err());
        assert!("tch-cuda:x".parse::<Backend>().is_err());
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn tch_without_feature_is_a_clear_error() {
        let err = Backend::TchCpu.device().unwrap_err().to_string();
        assert!(err.contains("--features tch"), "{err}");
    }
}
