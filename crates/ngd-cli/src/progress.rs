//! Progress of mini-batch training on stderr: a bar on a terminal, plain lines otherwise;
//! evaluation lines on stdout.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ngd_train::fit::FitEvent;
use std::io::IsTerminal;

/// A progress bar on a terminal, plain lines otherwise; evaluation lines on stdout.
pub struct Progress {
    bar: Option<ProgressBar>,
    last_line: std::time::Instant,
}

impl Progress {
    /// Nothing shown yet.
    pub fn new() -> Self {
        Self {
            bar: None,
            last_line: std::time::Instant::now(),
        }
    }

    /// Shows one event.
    pub fn event(&mut self, event: FitEvent) {
        match event {
            FitEvent::Step {
                epoch,
                step,
                total,
                loss,
                lr,
            } => {
                let bar = self.bar.get_or_insert_with(|| new_bar(total));
                bar.set_position(step);
                bar.set_message(format!("epoch {} loss {loss:.4} lr {lr:.3e}", epoch + 1));
                if !std::io::stderr().is_terminal()
                    && (self.last_line.elapsed().as_secs() >= 10 || step == total)
                {
                    self.last_line = std::time::Instant::now();
                    eprintln!(
                        "step {step}/{total} epoch {} batch loss {loss:.4} lr {lr:.3e}",
                        epoch + 1
                    );
                }
            }
            FitEvent::Evaluation(e) => {
                let line = format!(
                    "{:>6.2} {:>7} {:>9.1} {:>11} {:>9} {:>11.4} {:>9.4}",
                    e.epoch,
                    e.step,
                    e.seconds,
                    e.train_loss.map_or("-".into(), |v| format!("{v:.4}")),
                    e.val_accuracy.map_or("-".into(), |v| format!("{v:.4}")),
                    e.test_loss,
                    e.test_accuracy
                );
                match &self.bar {
                    Some(bar) => bar.suspend(|| println!("{line}")),
                    None => println!("{line}"),
                }
            }
            FitEvent::Saved(path) => {
                let line = format!("saved {}", path.display());
                match &self.bar {
                    Some(bar) => bar.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}",
        )
        .expect("valid template"),
    );
    bar
}
