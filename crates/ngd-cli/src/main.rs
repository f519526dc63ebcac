//! `ngd`: natural-gradient descent with exact and approximate Fisher information in wide
//! networks (Karakida & Osawa, NeurIPS 2020), on real MNIST and CIFAR-10.
// The clap doc comments are `--help` text, where `tch-cuda[:N]` is meant literally.
#![allow(rustdoc::broken_intra_doc_links)]

mod bench;
mod commands;
mod eval;
mod figure;
mod isotropy;
mod minibatch;
mod predict;
mod progress;
mod run_config;
mod sweep;

use ngd_cli::backend;

use anyhow::Result;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Natural-gradient descent with exact and approximate Fisher information in wide networks.
///
/// Trains NTK-parameterised MLPs with exact, block-diagonal (and more) NGD on real data,
/// prints the theory prediction of Karakida & Osawa (NeurIPS 2020) beside every measured
/// step, and reproduces the paper's figures. Every run writes its configuration and
/// results as JSON.
#[derive(Parser)]
#[command(
    name = "ngd",
    version = backend::VERSION,
    propagate_version = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network: the paper's full-batch setting (one line per step), or with
    /// --batch-size mini-batches over whole datasets (NGD methods, sgd, adam, adamw, muon); JSON
    /// record with --out.
    Train(commands::TrainArgs),
    /// Test loss and accuracy of a checkpoint written by `ngd train --batch-size … --save`.
    Eval(eval::EvalArgs),
    /// Compare optimizers on a whole dataset: tune each on the validation split, run every
    /// seed, write time-to-accuracy tables and charts (e.g. experiments/full-mnist/config.json).
    Sweep(sweep::SweepArgs),
    /// Time one training step per method, split into phases, on one or more backends.
    Bench(bench::BenchArgs),
    /// Reproduce a paper figure from its experiment config (e.g. experiments/fig1a/config.json).
    Figure(figure::FigureArgs),
    /// Test accuracy of the converged NGD predictors f_∞ (Fig. 2), analytic or empirical kernels.
    Predict(predict::PredictArgs),
    /// Condition number and α of Θ̄ = J G⁻¹ Jᵀ/N at initialisation vs width (Fig. 3).
    Isotropy(isotropy::IsotropyArgs),
}

fn main() {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The options given on the command line, so that those a network does not use are refused.
    if let Some((_, sub)) = matches.subcommand() {
        let explicit: Vec<String> = sub
            .ids()
            .filter(|id| sub.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_string())
            .collect();
        match &mut cli.command {
            Command::Train(args) => args.minibatch.explicit = explicit,
            Command::Bench(args) => args.minibatch.explicit = explicit,
            _ => {}
        }
    }
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        if let Some(hint) = ngd_cli::hints::hint(&err) {
            eprintln!("hint: {hint}");
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => commands::train(args),
        Command::Eval(args) => eval::eval(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Bench(args) => bench::bench(args),
        Command::Figure(args) => figure::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Isotropy(args) => isotropy::run(args),
    }
}
