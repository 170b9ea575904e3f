//! `arca`: the daemonless engine's command line (Docker's verbs and flags). Every command is a
//! short-lived process working on the state under `--root`; nothing keeps running in between.

mod cli;
mod commands;
mod progress;
mod units;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let level = if cli.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    match commands::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("arca: {e:#}");
            std::process::exit(1);
        }
    }
}
