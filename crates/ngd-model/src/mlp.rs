//! Fully-connected network in NTK parameterization (eq. 1):
//! u_l = (σ_w/√M_{l−1}) W_l h_{l−1} + σ_b b_l,  h_l = φ(u_l),  f = u_L,  W, b ~ N(0, 1) (eq. 2).

use burn::module::{Module, Param};
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Invalid network configuration.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Depth below 2 (the paper's networks have at least one hidden layer).
    #[error("depth must be at least 2 (one hidden layer), got {0}")]
    Depth(usize),
    /// A layer of width zero.
    #[error("every layer width must be positive, got widths {0:?}")]
    ZeroWidth(Vec<usize>),
    /// Negative or non-finite variance.
    #[error("{name} must be finite and non-negative (σ_w² > 0), got {value}")]
    Variance {
        /// σ_w² or σ_b².
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A network shape that cannot be built (e.g. images too small for the CNN's poolings).
    #[error("{0}")]
    Shape(String),
}

/// Activation function φ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// φ(u) = max(u, 0).
    Relu,
    /// φ(u) = tanh(u).
    Tanh,
}

impl Activation {
    /// φ applied entry-wise.
    pub fn apply(self, u: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Relu => relu(u),
            Activation::Tanh => tanh(u),
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        })
    }
}

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "relu" => Ok(Self::Relu),
            "tanh" => Ok(Self::Tanh),
            _ => Err(format!("unknown activation '{s}' (expected relu or tanh)")),
        }
    }
}

/// How the weights are scaled and initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parameterization {
    /// The paper's NTK parameterisation (eq. 1–2): u_l = (σ_w/√M_{l−1}) W_l h_{l−1} + σ_b b_l,
    /// W, b ~ N(0, 1).
    #[default]
    Ntk,
    /// The standard (PyTorch/burn `Linear`) one: u_l = W_l h_{l−1} + b_l with W_l and b_l
    /// ~ U(−1/√M_{l−1}, 1/√M_{l−1}); σ_w², σ_b² are unused.
    Standard,
}

impl std::fmt::Display for Parameterization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ntk => "ntk",
            Self::Standard => "standard",
        })
    }
}

impl std::str::FromStr for Parameterization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ntk" => Ok(Self::Ntk),
            "standard" => Ok(Self::Standard),
            _ => Err(format!(
                "unknown parameterization '{s}' (expected ntk or standard)"
            )),
        }
    }
}

/// σ_w² of [`MlpConfig::new`] (the paper's ReLU networks).
pub const DEFAULT_SIGMA_W2: f64 = 2.0;
/// σ_b² of [`MlpConfig::new`].
pub const DEFAULT_SIGMA_B2: f64 = 0.0;

/// Shape and variances of the network: widths M_0 (input) … M_L (= C outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Layer widths M_0, M_1, …, M_L (length L + 1).
    pub widths: Vec<usize>,
    /// Weight variance σ_w².
    pub sigma_w2: f64,
    /// Bias variance σ_b².
    pub sigma_b2: f64,
    /// Activation φ.
    pub activation: Activation,
    /// NTK (the paper's) or standard parameterisation.
    #[serde(default)]
    pub parameterization: Parameterization,
}

impl MlpConfig {
    /// Network with input size `m0`, `depth − 1` hidden layers of `width`, and `outputs` outputs.
    pub fn new(m0: usize, width: usize, depth: usize, outputs: usize) -> Self {
        let mut widths = vec![m0];
        widths.extend(std::iter::repeat_n(width, depth.saturating_sub(1)));
        widths.push(outputs);
        Self {
            widths,
            sigma_w2: DEFAULT_SIGMA_W2,
            sigma_b2: DEFAULT_SIGMA_B2,
            activation: Activation::Relu,
            parameterization: Parameterization::Ntk,
        }
    }

    /// Sets the parameterisation.
    pub fn with_parameterization(mut self, parameterization: Parameterization) -> Self {
        self.parameterization = parameterization;
        self
    }

    /// Sets σ_w² and σ_b².
    pub fn with_variances(mut self, sigma_w2: f64, sigma_b2: f64) -> Self {
        self.sigma_w2 = sigma_w2;
        self.sigma_b2 = sigma_b2;
        self
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Depth L (number of weight layers).
    pub fn depth(&self) -> usize {
        self.widths.len().saturating_sub(1)
    }

    /// Number of outputs C = M_L.
    pub fn outputs(&self) -> usize {
        *self.widths.last().unwrap_or(&0)
    }

    /// Total parameter count P.
    pub fn num_params(&self) -> usize {
        self.widths.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// Checks depth ≥ 2, positive widths and valid variances.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.depth() < 2 {
            return Err(ModelError::Depth(self.depth()));
        }
        if self.widths.contains(&0) {
            return Err(ModelError::ZeroWidth(self.widths.clone()));
        }
        if !(self.sigma_w2.is_finite() && self.sigma_w2 > 0.0) {
            return Err(ModelError::Variance {
                name: "sigma_w2",
                value: self.sigma_w2,
            });
        }
        if !(self.sigma_b2.is_finite() && self.sigma_b2 >= 0.0) {
            return Err(ModelError::Variance {
                name: "sigma_b2",
                value: self.sigma_b2,
            });
        }
        Ok(())
    }

    /// Input scale of layer l (1-based): σ_w/√M_{l−1} (NTK), 1 (standard).
    pub fn weight_scale(&self, layer: usize) -> f64 {
        match self.parameterization {
            Parameterization::Ntk => (self.sigma_w2 / self.widths[layer - 1] as f64).sqrt(),
            Parameterization::Standard => 1.0,
        }
    }

    /// Bias scale: σ_b (NTK), 1 (standard).
    pub fn bias_scale(&self) -> f64 {
        match self.parameterization {
            Parameterization::Ntk => self.sigma_b2.sqrt(),
            Parameterization::Standard => 1.0,
        }
    }

    /// Builds the network with W, b ~ N(0, 1) (eq. 2; standard: U(±1/√M_{l−1})), drawn on the
    /// host from ChaCha8 seeded by `seed`, so the initial weights are identical on every backend.
    pub fn init(&self, seed: u64, device: &Device) -> Result<Mlp, ModelError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for w in self.widths.windows(2) {
            let (m_in, m_out) = (w[0], w[1]);
            let (wv, bv) = match self.parameterization {
                Parameterization::Ntk => (
                    standard_normals(&mut rng, m_in * m_out),
                    standard_normals(&mut rng, m_out),
                ),
                Parameterization::Standard => {
                    let bound = 1.0 / (m_in as f64).sqrt();
                    (
                        uniforms(&mut rng, m_in * m_out, bound),
                        uniforms(&mut rng, m_out, bound),
                    )
                }
            };
            let wt = Tensor::<2>::from_data(TensorData::new(wv, [m_in, m_out]), device);
            let bt = Tensor::<1>::from_data(TensorData::new(bv, [m_out]), device);
            weights.push(Param::from_tensor(wt));
            biases.push(Param::from_tensor(bt));
        }
        Ok(Mlp {
            weights,
            biases,
            config: self.clone(),
        })
    }
}

fn standard_normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            z as f32
        })
        .collect()
}

fn uniforms(rng: &mut ChaCha8Rng, n: usize, bound: f64) -> Vec<f32> {
    let u = rand_distr::Uniform::new_inclusive(-bound, bound).expect("finite bound");
    (0..n).map(|_| u.sample(rng) as f32).collect()
}

/// The MLP of eq. (1). `weights[l−1]` holds W_lᵀ with shape [M_{l−1}, M_l] (so that a batch
/// of row samples multiplies on the left); `biases[l−1]` holds b_l.
#[derive(Module, Debug)]
pub struct Mlp {
    /// W_lᵀ, shape [M_{l−1}, M_l], l = 1..L.
    pub weights: Vec<Param<Tensor<2>>>,
    /// b_l, shape `[M_l]`, l = 1..L.
    pub biases: Vec<Param<Tensor<1>>>,
    /// Shape and variances.
    #[module(skip)]
    pub config: MlpConfig,
}

impl Mlp {
    /// Depth L.
    pub fn depth(&self) -> usize {
        self.config.depth()
    }
}
