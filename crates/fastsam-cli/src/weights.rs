//! `fastsam weights`: the named checkpoints in the cache ($FASTSAM_HOME, else the platform cache dir).

use std::io::Write;

use anyhow::{bail, Result};
use fastsam::weights::download::Progress;
use fastsam::weights::{KnownWeights, ModelCache, KNOWN_WEIGHTS};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::WeightsCommand;

pub fn run(command: WeightsCommand) -> Result<()> {
    let cache = ModelCache::from_env()?;
    let mut out = std::io::stdout().lock();
    match command {
        WeightsCommand::List => {
            writeln!(out, "cache: {}", cache.dir().display())?;
            for w in KNOWN_WEIGHTS {
                let state = if cache.is_present(w) { "present" } else { "missing" };
                writeln!(out, "{:<10} {:<14} {:>11} bytes  {state:<8} {}", w.name, w.file_name, w.size, w.description)?;
            }
        }
        WeightsCommand::Pull { name } => {
            let path = cache.fetch(known(&name)?, &mut download_bar(&name))?;
            writeln!(out, "{}", path.display())?;
        }
        WeightsCommand::Path { name } => writeln!(out, "{}", cache.path(known(&name)?).display())?,
        WeightsCommand::Verify { name } => {
            let targets: Vec<&KnownWeights> = match &name {
                Some(n) => vec![known(n)?],
                None => KNOWN_WEIGHTS.iter().filter(|w| cache.path(w).exists()).collect(),
            };
            let mut failed = 0;
            for w in targets {
                match cache.verify(w) {
                    Ok(()) => writeln!(out, "{}: ok ({})", w.name, cache.path(w).display())?,
                    Err(e) => {
                        failed += 1;
                        eprintln!("{}: {e}", w.name);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} file(s) failed verification");
            }
        }
    }
    Ok(())
}

fn known(name: &str) -> Result<&'static KnownWeights> {
    match KnownWeights::lookup(name) {
        Some(w) => Ok(w),
        None => bail!("unknown weights {name:?} (known: {})", KnownWeights::names()),
    }
}

/// A byte progress bar on stderr for a download, created at the first report (so nothing shows when the file
/// is already cached); indicatif draws it only when stderr is a terminal.
pub fn download_bar(name: &str) -> impl FnMut(Progress) {
    let mut bar: Option<ProgressBar> = None;
    let name = name.to_string();
    move |p: Progress| {
        let bar = bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(p.total.unwrap_or(0));
            let style = ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(format!("downloading {name}"));
            bar
        });
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.done);
        if p.total == Some(p.done) {
            bar.finish_and_clear();
        }
    }
}
