//! `fastsam`: a thin command-line front end over the `fastsam` library.

mod args;
mod batch;
mod bench;
mod eval;
mod files;
mod inspect;
mod models;
mod progress;
mod segment;
mod serve;
mod weights;

use anyhow::Result;
use clap::Parser;

use args::{Cli, ClipCommand, Command};

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| usage_error(e));
    init_logging(cli.verbose);
    if let Err(err) = run(cli) {
        // A closed pipe (`fastsam inspect x.pt | head`) is the reader's choice, not a failure.
        if err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            std::process::exit(0);
        }
        // One clear line (plus causes) instead of a panic or a debug dump.
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

/// Help and version go to stdout as clap prints them; a bad argument gets the same one `error:` line as any
/// other failure (clap's own rendering adds a blank line and a `--help` hint).
fn usage_error(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    let rendered = e.to_string();
    eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid arguments"));
    std::process::exit(2);
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Segment(args) => segment::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Weights(command) => weights::run(command),
        Command::Clip(ClipCommand::Tokens { text }) => {
            let ids = fastsam::clip::tokenizer::ClipTokenizer::global().tokenize_unpadded(&text);
            println!("{}", serde_json::to_string(&ids)?);
            Ok(())
        }
    }
}
