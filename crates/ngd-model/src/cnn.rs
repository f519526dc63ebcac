//! The fixed convolutional network that results compare on across tools (`--arch cnn`), built
//! from burn's own `Conv2d`, `MaxPool2d` and `Linear`:
//!
//! conv 3×3 (C→32), ReLU, conv 3×3 (32→32), ReLU, max-pool 2; conv 3×3 (32→64), ReLU,
//! conv 3×3 (64→64), ReLU, max-pool 2; flatten (64·⌊⌊H/2⌋/2⌋·⌊⌊W/2⌋/2⌋: 4096 for CIFAR-10's
//! 3×32×32, 3136 for MNIST's 1×28×28); linear → 256, ReLU; linear 256 → classes. Padding 1,
//! stride 1, biases, no batch norm.

use crate::mlp::ModelError;
use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use ngd_optim::{FactoredModel, Tap, update_conv2d, update_linear};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

/// Output channels of the four convolutions.
pub const CNN_CHANNELS: [usize; 4] = [32, 32, 64, 64];
/// Width of the hidden linear layer.
pub const CNN_HIDDEN: usize = 256;

/// The CNN's shape: input images C × H × W and the number of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CnnConfig {
    /// Input images [C, H, W].
    pub input: [usize; 3],
    /// Classes (outputs).
    pub classes: usize,
}

impl CnnConfig {
    /// The network for `input` = [C, H, W] images and `classes` outputs.
    pub fn new(input: [usize; 3], classes: usize) -> Self {
        Self { input, classes }
    }

    /// The flattened size after the second pooling: 64·⌊⌊H/2⌋/2⌋·⌊⌊W/2⌋/2⌋.
    pub fn flatten_size(&self) -> usize {
        CNN_CHANNELS[3] * (self.input[1] / 2 / 2) * (self.input[2] / 2 / 2)
    }

    /// Input values per sample, C·H·W.
    pub fn input_size(&self) -> usize {
        self.input.iter().product()
    }

    /// Total parameter count.
    pub fn num_params(&self) -> usize {
        let mut c_in = self.input[0];
        let mut total = 0;
        for c in CNN_CHANNELS {
            total += (c_in * 9 + 1) * c;
            c_in = c;
        }
        total + (self.flatten_size() + 1) * CNN_HIDDEN + (CNN_HIDDEN + 1) * self.classes
    }

    /// Checks that the images survive two poolings and that there are outputs.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.input.contains(&0) || self.input[1] < 4 || self.input[2] < 4 || self.classes == 0 {
            return Err(ModelError::Shape(format!(
                "the CNN takes images of at least 4×4 pixels and one class, got {}×{}×{} and {} \
                 classes",
                self.input[0], self.input[1], self.input[2], self.classes
            )));
        }
        Ok(())
    }

    /// Builds the network with burn's default initialisation, U(±1/√fan_in) for every weight
    /// and bias (fan_in = C_in·9 or d_in), drawn on the host from ChaCha8 seeded by `seed` so
    /// that the initial weights are identical on every backend.
    pub fn init(&self, seed: u64, device: &Device) -> Result<Cnn, ModelError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut convs = Vec::with_capacity(4);
        let mut c_in = self.input[0];
        for c_out in CNN_CHANNELS {
            convs.push(conv3x3(&mut rng, c_in, c_out, device));
            c_in = c_out;
        }
        let [conv4, conv3, conv2, conv1] = [
            convs.pop().unwrap(),
            convs.pop().unwrap(),
            convs.pop().unwrap(),
            convs.pop().unwrap(),
        ];
        Ok(Cnn {
            conv1,
            conv2,
            conv3,
            conv4,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: linear(&mut rng, self.flatten_size(), CNN_HIDDEN, device),
            fc2: linear(&mut rng, CNN_HIDDEN, self.classes, device),
            input: self.input,
        })
    }
}

/// U(±1/√fan_in) values on the host.
fn uniform(rng: &mut ChaCha8Rng, count: usize, fan_in: usize) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let u = rand_distr::Uniform::new_inclusive(-bound, bound).expect("finite bound");
    (0..count).map(|_| u.sample(rng) as f32).collect()
}

fn conv3x3(rng: &mut ChaCha8Rng, c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    let fan_in = c_in * 9;
    let w = uniform(rng, c_out * fan_in, fan_in);
    let b = uniform(rng, c_out, fan_in);
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [c_out, c_in, 3, 3]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [c_out]),
            device,
        ))),
        stride: [1, 1],
        kernel_size: [3, 3],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(1, 1, 1, 1),
    }
}

fn linear(rng: &mut ChaCha8Rng, d_in: usize, d_out: usize, device: &Device) -> Linear {
    let w = uniform(rng, d_in * d_out, d_in);
    let b = uniform(rng, d_out, d_in);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}

/// The CNN of [`CnnConfig`]: six parametrised layers (four convolutions, two linear).
#[derive(Module, Debug)]
pub struct Cnn {
    /// conv 3×3, C → 32.
    pub conv1: Conv2d,
    /// conv 3×3, 32 → 32.
    pub conv2: Conv2d,
    /// conv 3×3, 32 → 64.
    pub conv3: Conv2d,
    /// conv 3×3, 64 → 64.
    pub conv4: Conv2d,
    /// max-pool 2×2, stride 2.
    pub pool: MaxPool2d,
    /// linear flatten → 256.
    pub fc1: Linear,
    /// linear 256 → classes.
    pub fc2: Linear,
    /// Input images [C, H, W] (rows of C·H·W values are reshaped to them).
    #[module(skip)]
    pub input: [usize; 3],
}

impl Cnn {
    /// The shape this network was built for.
    pub fn config(&self) -> CnnConfig {
        CnnConfig::new(self.input, self.fc2.weight.dims()[1])
    }

    /// f(x) for rows of flattened images x (N × C·H·W) → N × classes.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_plain(x)
    }
}

impl FactoredModel for Cnn {
    fn forward_tapped(&self, x: Tensor<2>, tap: &mut Tap) -> Tensor<2> {
        let n = x.dims()[0];
        let [c, h, w] = self.input;
        let x = x.reshape([n, c, h, w]);
        let x = relu(tap.conv2d(&self.conv1, x));
        let x = relu(tap.conv2d(&self.conv2, x));
        let x = self.pool.forward(x);
        let x = relu(tap.conv2d(&self.conv3, x));
        let x = relu(tap.conv2d(&self.conv4, x));
        let x = self.pool.forward(x);
        let [n, c, h, w] = x.dims();
        let x = relu(tap.linear(&self.fc1, x.reshape([n, c * h * w])));
        tap.linear(&self.fc2, x)
    }

    fn update_layer(&mut self, layer: usize, dw: Tensor<2>, db: Tensor<1>, lr: f64) {
        match layer {
            0 => update_conv2d(&mut self.conv1, dw, db, lr),
            1 => update_conv2d(&mut self.conv2, dw, db, lr),
            2 => update_conv2d(&mut self.conv3, dw, db, lr),
            3 => update_conv2d(&mut self.conv4, dw, db, lr),
            4 => update_linear(&mut self.fc1, dw, db, lr),
            5 => update_linear(&mut self.fc2, dw, db, lr),
            _ => panic!("the CNN has 6 parametrised layers, not layer {}", layer + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CIFAR-10 flattens to 64·8·8 = 4096 and MNIST to 64·7·7 = 3136 (28 → 14 → 7); the
    /// parameter count is the module's own, the forward pass gives N × classes, the same seed
    /// the same weights; images below 4×4 are refused.
    #[test]
    fn shapes_counts_and_refusals() {
        let device = Device::default();
        for (input, flatten) in [([3, 32, 32], 4096), ([1, 28, 28], 3136)] {
            let cfg = CnnConfig::new(input, 10);
            assert_eq!(cfg.flatten_size(), flatten);
            let cnn = cfg.init(7, &device).unwrap();
            assert_eq!(cnn.num_params(), cfg.num_params());
            let x = Tensor::<2>::zeros([2, cfg.input_size()], &device);
            assert_eq!(cnn.forward(x).dims(), [2, 10]);
            let again = cfg.init(7, &device).unwrap();
            let w = |c: &Cnn| c.conv3.weight.val().into_data();
            assert_eq!(w(&cnn), w(&again));
            assert_ne!(w(&cnn), w(&cfg.init(8, &device).unwrap()));
        }
        assert_eq!(CnnConfig::new([3, 32, 32], 10).num_params(), 1_116_970);
        let err = CnnConfig::new([3, 3, 3], 10).init(0, &device).unwrap_err();
        assert!(err.to_string().contains("at least 4×4"), "{err}");
    }
}
