//! The dual-form route with the layer-wise options (Σ, the solve's precision and damping
//! convention) and its observer, against the curvature built and applied by hand.

use super::tests::{Tiny, batch};
use super::*;
use crate::{DampingConvention, DualSolve, Loss, Method, MethodCurvature, Precision};
use burn::tensor::Device;

/// Σ of a two-layer network (symmetric, positive definite).
fn sigma_rows() -> Vec<Vec<f64>> {
    vec![vec![1.0, 0.5], vec![0.5, 1.0]]
}

/// A layer-wise step with Σ, an f32 solve and the authors' 2ρ taken by [`Ngd`] equals, bit for
/// bit, the direction of `curvature_dual` with the same options applied by hand (the full-batch
/// trainer's former step); the observer sees the model before the update, that direction's
/// layers, the dual solve's measurements and η, once per step.
#[test]
fn layer_wise_options_reach_the_dual_solve_and_the_observer() {
    let device = Device::default();
    let (x, y) = batch(6, 2, 1, &device);
    let base = Tiny::new(5, 7, 2, &device);
    let (rho, lr) = (1e-3, 0.3);
    let dual = DualSolve {
        precision: Precision::F32,
        convention: DampingConvention::Authors,
    };
    let config = NgdConfig::new(Method::LayerWise)
        .with_loss(Loss::Mse)
        .with_damping(DampingConfig::new().with_value(rho))
        .with_lr(Some(lr))
        .with_sigma(Some(sigma_rows()))
        .with_dual(dual);

    let mut by_hand = base.clone();
    let factors = by_hand.factors(x.clone());
    let g = Loss::Mse.output_gradient(&factors.outputs, &tensor_to_rows(y.clone()));
    let sigma = sigma_matrix(&sigma_rows());
    let curvature = Method::LayerWise
        .curvature_dual(rho, Some(&sigma), Loss::Mse, dual)
        .unwrap();
    let direction = curvature.direction(&factors, &g).unwrap();
    direction.apply(&mut by_hand, &factors, lr);

    let mut stepped = base.clone();
    let mut seen = Vec::new();
    let mut observe = |m: &Tiny, view: &DualView<'_>| {
        seen.push((m.params(), view.lr, view.direction.layers.len(), view.dual));
    };
    let mut ngd = config.init().unwrap();
    ngd.step_observed(&mut stepped, x.clone(), y.clone(), Some(&mut observe))
        .unwrap();
    assert_eq!(stepped.params(), by_hand.params());
    assert_ne!(stepped.params(), base.params());
    assert_eq!(seen.len(), 1);
    let (before, seen_lr, layers, measured) = &seen[0];
    assert_eq!(before, &base.params());
    assert_eq!((*seen_lr, *layers), (lr, 2));
    assert!(
        measured.is_some(),
        "the layer-wise solve reports its null component"
    );

    // Without the options the same config is a different solve (f64, Nρ): the options arrive.
    let mut defaults = base.clone();
    config
        .clone()
        .with_dual(DualSolve::default())
        .init()
        .unwrap()
        .step(&mut defaults, x, y)
        .unwrap();
    assert_ne!(defaults.params(), stepped.params());
}

/// Σ without the layer-wise method, the layer-wise method without Σ, and the solve's options
/// on a method that has no layer-wise solve are refused at `init`, naming what is wrong.
#[test]
fn misplaced_layer_wise_options_are_refused() {
    let err = |c: NgdConfig| c.init().err().expect("refused").to_string();
    let exact = NgdConfig::new(Method::Exact).with_loss(Loss::Mse);
    let e = err(exact.clone().with_sigma(Some(sigma_rows())));
    assert!(e.contains("only used by the layer-wise method"), "{e}");
    let e = err(NgdConfig::new(Method::LayerWise).with_loss(Loss::Mse));
    assert!(e.contains("needs Σ"), "{e}");
    let f32_solve = DualSolve {
        precision: Precision::F32,
        ..DualSolve::default()
    };
    let e = err(exact.with_dual(f32_solve));
    assert!(e.contains("exact"), "{e}");
}
