//! The optimizer's per-layer blocks: the sync point's place, user-chosen blocks, the diagonal
//! block against its dual form, and the record (damping, mismatches).

use super::tests::{Tiny, batch, max_rel_diff};
use super::*;
use crate::curvature::BlockKind;
use crate::curvature::tests::{LoggingBlock, RecordingSync};
use crate::curvature::{IdentityBlock, KroneckerBlock, LayerKind};
use crate::{Loss, Method, Precision};
use burn::tensor::Device;
use std::sync::{Arc, Mutex};

fn kfac(fisher: Fisher) -> NgdConfig {
    NgdConfig::new(Method::Kfac)
        .with_damping(DampingConfig::new().with_value(0.05))
        .with_lr(Some(0.3))
        .kfac_with(|k| k.with_fisher(fisher))
}

/// The sync point runs once per statistics step, for every layer's A and S, after every block
/// has folded in its batch and before any refresh; steps without statistics do not sync.
#[test]
fn sync_runs_between_statistics_and_inversion() {
    let device = Device::default();
    let log = Arc::new(Mutex::new(Vec::new()));
    let blocks: Vec<Box<dyn CurvatureBlock>> = (0..2)
        .map(|_| {
            Box::new(LoggingBlock {
                inner: KroneckerBlock::new(burn::tensor::FloatDType::F32),
                log: log.clone(),
            }) as Box<dyn CurvatureBlock>
        })
        .collect();
    let sync = RecordingSync {
        log: log.clone(),
        factor: 1.0,
    };
    let mut opt = kfac(Fisher::Sampled)
        .kfac_with(|k| {
            k.with_decay(0.9)
                .with_stats_interval(2)
                .with_inverse_interval(2)
        })
        .init()
        .unwrap()
        .with_blocks(blocks)
        .unwrap()
        .with_sync(Box::new(sync));
    let mut model = Tiny::new(5, 6, 3, &device);
    let mut per_step = Vec::new();
    for s in 0..3 {
        let (x, y) = batch(8, 3, s, &device);
        opt.step(&mut model, x, y).unwrap();
        per_step.push(std::mem::take(&mut *log.lock().unwrap()));
    }
    let statistics_step = [
        "update",
        "update",
        "sync 0 a",
        "sync 0 s",
        "sync 1 a",
        "sync 1 s",
        "refresh 0",
        "refresh 1",
    ];
    assert_eq!(per_step[0], statistics_step);
    assert!(per_step[1].is_empty(), "{:?}", per_step[1]);
    assert_eq!(per_step[2], statistics_step);
}

/// What the sync point returns is what gets inverted: a sync that doubles A and S gives
/// (2A + ρ_A)⁻¹ ⊗ (2S + ρ_S)⁻¹ = ¼ (A + ρ_A/2)⁻¹ ⊗ (S + ρ_S/2)⁻¹, so its step at ρ with rate η
/// equals the local step at ρ/4 with rate η/4 (parameters to 1e-5).
#[test]
fn synced_statistics_are_the_ones_inverted() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 1, &device);
    let mut doubled = base.clone();
    let sync = RecordingSync {
        log: Arc::new(Mutex::new(Vec::new())),
        factor: 2.0,
    };
    kfac(Fisher::Empirical)
        .init()
        .unwrap()
        .with_sync(Box::new(sync))
        .step(&mut doubled, x.clone(), y.clone())
        .unwrap();
    let mut local = base.clone();
    kfac(Fisher::Empirical)
        .with_damping(DampingConfig::new().with_value(0.05 / 4.0))
        .with_lr(Some(0.3 / 4.0))
        .init()
        .unwrap()
        .step(&mut local, x, y)
        .unwrap();
    let moved = max_rel_diff(&local.params(), &base.params());
    let err = max_rel_diff(&doubled.params(), &local.params());
    assert!(moved > 1e-3, "moved {moved:.1e} only");
    assert!(err < 1e-5, "{err:.2e}");
}

/// Identity blocks on every layer take plain gradient steps: equal to [`Method::Gd`]'s step
/// (parameters to 1e-5).
#[test]
fn identity_blocks_take_gradient_steps() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 2, &device);
    let identity = || Box::new(IdentityBlock::new(burn::tensor::FloatDType::F32)) as _;
    let mut blocks = base.clone();
    kfac(Fisher::Empirical)
        .init()
        .unwrap()
        .with_blocks(vec![identity(), identity()])
        .unwrap()
        .step(&mut blocks, x.clone(), y.clone())
        .unwrap();
    let mut gd = base.clone();
    NgdConfig::new(Method::Gd)
        .with_lr(Some(0.3))
        .init()
        .unwrap()
        .step(&mut gd, x, y)
        .unwrap();
    let moved = max_rel_diff(&gd.params(), &base.params());
    let err = max_rel_diff(&blocks.params(), &gd.params());
    assert!(moved > 1e-4, "moved {moved:.1e} only");
    assert!(err < 1e-5, "{err:.2e}");
    // A method without blocks refuses them.
    let refused = NgdConfig::new(Method::Kfac)
        .init()
        .unwrap()
        .with_blocks(vec![identity()]);
    assert!(matches!(refused, Err(OptimError::Invalid(_))));
}

/// The diagonal Fisher through its blocks (f64, exact Fisher, running average started) equals
/// the dual-form [`crate::Diagonal`] on the first step, for MSE (parameters to 3e-7, a few
/// float32 ulps of the f32 model).
#[test]
fn diagonal_blocks_first_step_equals_dual_diagonal() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 3, &device);
    let config = NgdConfig::new(Method::Diagonal)
        .with_loss(Loss::Mse)
        .with_damping(DampingConfig::new().with_value(0.05))
        .with_lr(Some(0.2));
    let mut dual = base.clone();
    config
        .init()
        .unwrap()
        .step(&mut dual, x.clone(), y.clone())
        .unwrap();
    let mut blocks = base.clone();
    let stateful = config
        .kfac_with(|k| k.with_decay(0.9))
        .with_block_precision(Precision::F64);
    assert_eq!(stateful.block_kind(), Some(BlockKind::Diagonal));
    stateful.init().unwrap().step(&mut blocks, x, y).unwrap();
    let moved = max_rel_diff(&dual.params(), &base.params());
    let err = max_rel_diff(&blocks.params(), &dual.params());
    eprintln!("diagonal blocks vs dual: {err:.2e}");
    assert!(moved > 1e-4, "moved {moved:.1e} only");
    assert!(err < 3e-7, "{err:.2e}");
}

/// The record keeps the damping that adaptive damping moved, and a loaded optimizer continues
/// at it.
#[test]
fn the_record_keeps_the_adapted_damping() {
    let device = Device::default();
    let config = kfac(Fisher::Sampled)
        .kfac_with(|k| k.with_decay(0.9))
        .with_damping(DampingConfig::new().with_adaptive(true));
    let mut opt = config.init().unwrap();
    let mut model = Tiny::new(5, 6, 3, &device);
    for s in 0..3 {
        let (x, y) = batch(8, 3, s, &device);
        opt.step(&mut model, x, y).unwrap();
    }
    assert_ne!(opt.damping(), 0.05, "adaptive damping moved ρ");
    let mut loaded = config.init().unwrap();
    loaded.load_bytes(opt.to_bytes().unwrap(), &device).unwrap();
    assert_eq!(loaded.damping(), opt.damping());
}

/// A record of another network, of a method without blocks, or damaged bytes is a clear error.
#[test]
fn mismatched_or_damaged_records_are_refused() {
    let device = Device::default();
    let config = kfac(Fisher::Sampled).kfac_with(|k| k.with_decay(0.9));
    let mut opt = config.init().unwrap();
    let mut model = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 0, &device);
    opt.step(&mut model, x.clone(), y.clone()).unwrap();
    let bytes = opt.to_bytes().unwrap();
    // Another width: refused at the next step, before any state changes.
    let mut other = config.init().unwrap();
    other.load_bytes(bytes.clone(), &device).unwrap();
    let mut wider = Tiny::new(5, 7, 3, &device);
    let err = other.step(&mut wider, x, y).unwrap_err();
    assert!(matches!(err, OptimError::StateMismatch(_)), "{err}");
    assert!(err.to_string().contains("layer 1"), "{err}");
    // A dual-form configuration keeps no blocks.
    let mut dual = NgdConfig::new(Method::Kfac).init().unwrap();
    let err = dual.load_bytes(bytes, &device).unwrap_err();
    assert!(matches!(err, OptimError::StateMismatch(_)), "{err}");
    // Damaged bytes.
    let junk = burn::tensor::Bytes::from_bytes_vec(vec![7u8; 64]);
    let err = config
        .init()
        .unwrap()
        .load_bytes(junk, &device)
        .unwrap_err();
    assert!(matches!(err, OptimError::Record(_)), "{err}");
}

/// A layer kind the blocks cannot precondition is refused with the method and the kind named.
#[test]
fn unsupported_layer_kinds_are_named() {
    let conv = LayerKind::Conv2d {
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1, 1, 1],
        dilation: [1, 1],
        groups: 1,
    };
    let err = block_step::require_linear("exact", &[LayerKind::Linear, conv]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("exact") && text.contains("layer 2") && text.contains("Conv2d"),
        "{text}"
    );
    assert!(block_step::require_linear("kfac", &[LayerKind::Linear]).is_ok());
}

/// Non-finite inputs, targets or network outputs are refused before any state changes, naming
/// the step and what was non-finite (not as a divergence): after three refusals the next good
/// step equals a fresh optimizer's first step, bit for bit.
#[test]
fn non_finite_batches_are_refused_before_any_state_changes() {
    use crate::convert::{tensor_from_rows, tensor_to_rows};
    let device = Device::default();
    let config = kfac(Fisher::Sampled).kfac_with(|k| k.with_decay(0.9));
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 0, &device);
    let mut opt = config.init().unwrap();
    let mut model = base.clone();
    let mut xs = tensor_to_rows(x.clone());
    xs[3] = f64::NAN;
    let err = opt
        .step(&mut model, tensor_from_rows(&xs, 8, 5, &device), y.clone())
        .unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::NonFinite {
                step: 1,
                what: "inputs"
            }
        ),
        "{err}"
    );
    let mut ys = tensor_to_rows(y.clone());
    ys[0] = f64::INFINITY;
    let err = opt
        .step(&mut model, x.clone(), tensor_from_rows(&ys, 8, 3, &device))
        .unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::NonFinite {
                step: 1,
                what: "targets"
            }
        ),
        "{err}"
    );
    // An infinite output bias: b ← b − 2·(−f32::MAX) = +inf.
    let mut broken = base.clone();
    let minus_max = Tensor::<1>::ones([3], &device).mul_scalar(-f32::MAX as f64);
    broken.update_layer(1, Tensor::zeros([6, 3], &device), minus_max, 2.0);
    let err = opt.step(&mut broken, x.clone(), y.clone()).unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::NonFinite {
                step: 1,
                what: "network outputs"
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("step 1"), "{err}");
    assert!(opt.blocks().is_empty() && opt.state().step == 0 && opt.state().lr.is_none());
    opt.step(&mut model, x.clone(), y.clone()).unwrap();
    let mut fresh = base.clone();
    config.init().unwrap().step(&mut fresh, x, y).unwrap();
    assert_eq!(model.params(), fresh.params());
}

/// Clipping acts as stated (issue 19 §6). With Δθ and ∇L measured from an unclipped K-FAC step
/// and a gradient step: KL clipping at c = η²Δθᵀ∇L/4 halves the step (ν = 0.5, reported in
/// `kl_clip`), a c above η²Δθᵀ∇L leaves it alone, `max_step_norm` = c makes the update's norm c,
/// and the two combine (KL first, then the norm bound). Relative 1e-6 (measured 3.6e-8).
#[test]
fn kl_clipping_and_the_norm_bound_act_as_stated() {
    let device = Device::default();
    let base = Tiny::new(5, 6, 3, &device);
    let (x, y) = batch(8, 3, 4, &device);
    let p0 = base.params();
    let lr = 0.3;
    let step_of = |config: NgdConfig| {
        let mut model = base.clone();
        let stats = config
            .init()
            .unwrap()
            .step(&mut model, x.clone(), y.clone())
            .unwrap();
        let delta: Vec<f64> = p0.iter().zip(model.params()).map(|(a, b)| a - b).collect();
        (delta, stats)
    };
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let kfac = || kfac(Fisher::Empirical).with_lr(Some(lr));
    let (plain, _) = step_of(kfac());
    let (gd, _) = step_of(NgdConfig::new(Method::Gd).with_lr(Some(lr)));
    // η²Δθᵀ∇L from the two parameter changes ηΔθ and η∇L.
    let kl = plain.iter().zip(&gd).map(|(a, b)| a * b).sum::<f64>();
    assert!(kl > 0.0);
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    let mut worst = 0.0f64;
    let (halved, stats) =
        step_of(kfac().with_clipping(ClippingConfig::new().with_kl(Some(kl / 4.0))));
    worst = worst.max(rel(stats.kl_clip, 0.5));
    worst = worst.max(rel(norm(&halved), 0.5 * norm(&plain)));
    let (loose, stats) =
        step_of(kfac().with_clipping(ClippingConfig::new().with_kl(Some(2.0 * kl))));
    assert_eq!(stats.kl_clip, 1.0);
    assert_eq!(loose, plain);
    let bound = 0.5 * norm(&plain);
    let (bounded, stats) =
        step_of(kfac().with_clipping(ClippingConfig::new().with_max_step_norm(Some(bound))));
    worst = worst.max(rel(norm(&bounded), bound));
    worst = worst.max(rel(stats.clip, 0.5));
    let (both, stats) = step_of(
        kfac().with_clipping(
            ClippingConfig::new()
                .with_kl(Some(kl / 4.0))
                .with_max_step_norm(Some(0.25 * norm(&plain))),
        ),
    );
    worst = worst.max(rel(norm(&both), 0.25 * norm(&plain)));
    worst = worst.max(rel(stats.clip, 0.5));
    eprintln!("clipping: worst relative error {worst:.2e}");
    assert!(worst < 1e-6, "{worst:.2e}");
    assert!(matches!(
        kfac()
            .with_clipping(ClippingConfig::new().with_kl(Some(-1.0)))
            .init(),
        Err(OptimError::Invalid(_))
    ));
}

/// save → load → step equals stepping on for the diagonal Fisher's blocks with statistics every
/// step and refreshes every 3 (the record keeps the running F and the F of the last refresh,
/// which differ in between), bit for bit.
#[test]
fn diagonal_blocks_resume_between_refreshes() {
    let device = Device::default();
    let config = NgdConfig::new(Method::Diagonal)
        .with_loss(Loss::Mse)
        .with_damping(DampingConfig::new().with_value(0.05))
        .with_lr(Some(0.2))
        .kfac_with(|k| k.with_decay(0.8).with_inverse_interval(3));
    let mut model = Tiny::new(5, 6, 3, &device);
    let mut opt = config.init().unwrap();
    for s in 0..2 {
        let (x, y) = batch(8, 3, s, &device);
        opt.step(&mut model, x, y).unwrap();
    }
    let mut loaded = config.init().unwrap();
    loaded.load_bytes(opt.to_bytes().unwrap(), &device).unwrap();
    let mut runs = Vec::new();
    for restored in [&mut opt, &mut loaded] {
        let mut m = model.clone();
        for s in 2..5 {
            let (x, y) = batch(8, 3, s, &device);
            restored.step(&mut m, x, y).unwrap();
        }
        runs.push(m.params());
    }
    assert_eq!(runs[0], runs[1]);
}
