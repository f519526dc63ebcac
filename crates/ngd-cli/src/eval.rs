//! `ngd eval`: test loss and accuracy of a checkpoint written by `ngd train --batch-size … --save`.

use crate::commands::{check_writable, write_json};
use crate::minibatch::load_data;
use anyhow::Result;
use clap::Args;
use ngd_data::ALL;
use ngd_train::fit;
use std::path::PathBuf;

/// Arguments of `ngd eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint written by `ngd train --batch-size … --save`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset (default: the checkpoint's).
    #[arg(long)]
    pub dataset: Option<ngd_data::DatasetName>,
    /// Test images: a number or all (default: the checkpoint's).
    #[arg(long, value_parser = crate::commands::parse_count)]
    pub n_test: Option<usize>,
    /// Compute backend.
    #[arg(long, default_value = ngd_train::defaults::BACKEND)]
    pub backend: crate::backend::Backend,
    /// Write {test_accuracy, test_loss} as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `ngd eval`: test loss and accuracy of a checkpoint, with the training split's standardisation.
pub fn eval(args: EvalArgs) -> Result<()> {
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    let device = args.backend.device()?.autodiff();
    let loaded = fit::load_checkpoint(&args.model, &device)?;
    let mut cfg = loaded.progress.record.config.clone();
    if let Some(d) = args.dataset {
        cfg.data.dataset = d;
    }
    if let Some(n) = args.n_test {
        cfg.data.n_test = (n != ALL).then_some(n);
    }
    let data = load_data(&cfg)?;
    let (test_loss, test_accuracy) = fit::evaluate(
        &loaded.model,
        &data.test,
        data.classes,
        cfg.loss,
        1000,
        &device,
    );
    println!(
        "test_accuracy={test_accuracy:.4} test_loss={test_loss:.4} ({} test images, {} epochs, \
         step {})",
        data.test.n, loaded.progress.epochs_done, loaded.progress.step
    );
    if let Some(out) = &args.out {
        let doc = serde_json::json!({
            "model": args.model.display().to_string(),
            "test_images": data.test.n,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
        });
        write_json(out, &doc)?;
    }
    Ok(())
}
