//! `arca-runtime`: the thin binary over `arca-container`, with runc's command line.

mod cli;
mod commands;
mod logging;

use clap::Parser;

fn main() {
    // Verbs that put a process of ours into a container must run from a binary the container
    // cannot write to (CVE-2019-5736). Decided before parsing anything, because protecting
    // means re-executing: a container id that happens to read "run" only costs that exec.
    let enters_container = std::env::args()
        .skip(1)
        .any(|a| matches!(a.as_str(), "create" | "run" | "exec"));
    if enters_container {
        if let Err(e) = arca_container::cloned_binary::protect() {
            eprintln!("arca-runtime: {e}");
            std::process::exit(1);
        }
    }
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
