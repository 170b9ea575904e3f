//! `arca-runtime`: the thin binary over `arca-container`, with runc's command line.

mod cli;
mod commands;
mod logging;

use clap::Parser;

fn main() {
    let args = cli::normalize_args(std::env::args());
    let cli = cli::Cli::parse_from(args);
    let logs_to_file = logging::init(cli.log.as_deref(), cli.log_format, cli.debug);
    match commands::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = format!("{e:#}");
            // containerd and conmon read the last error from the JSON log; people read stderr.
            if logs_to_file {
                tracing::error!("{msg}");
            }
            eprintln!("arca-runtime: {msg}");
            std::process::exit(1)
        }
    }
}
