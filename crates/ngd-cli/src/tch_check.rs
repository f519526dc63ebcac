//! What LibTorch can see, asked before a LibTorch device is created.

/// Number of CUDA devices LibTorch sees (0 without a GPU or a CUDA-enabled libtorch).
pub fn cuda_device_count() -> Option<usize> {
    usize::try_from(tch::Cuda::device_count()).ok()
}
