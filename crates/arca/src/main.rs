//! `arca`: the daemonless engine's command line (Docker's verbs and flags). Every command is a
//! short-lived process working on the state under `--root`; nothing keeps running in between.

mod cli;
mod commands;
mod exe;
mod init;
mod progress;
mod units;

use clap::Parser;

/// Verbs that put a process of ours into a container (the init is cloned from this process,
/// or from the monitor it starts): they must run from a binary the container cannot write to
/// (CVE-2019-5736), decided before parsing anything since protecting means re-executing.
const ENTERS_CONTAINER: &[&str] = &["run", "start", "exec", "__monitor"];

/// Verbs whose failures exit as Docker's `run` does: 125 (126, 127 for the command); their
/// success is the container's own exit code.
const CONTAINER_VERBS: &[&str] = &["run", "create", "start", "exec", "attach"];

fn main() {
    // A container's `--init` (PID 1): before anything else, as it starts with every such
    // container.
    if init::invoked_as_init() {
        init::main();
    }
    // The rootless pause process (its own namespaces, then only waiting).
    if arca_engine::rootless::pause::invoked() {
        arca_engine::rootless::pause::main();
    }
    // An ordinary user's arca joins the user's namespaces while still single-threaded
    // (nothing happens for root).
    if let Err(e) = arca_engine::rootless::enter() {
        eprintln!("arca: {e}");
        std::process::exit(125);
    }
    let verb = verb(std::env::args().skip(1));
    if ENTERS_CONTAINER.contains(&verb.as_str()) {
        exe::remember();
        if let Err(e) = arca_container::cloned_binary::protect() {
            eprintln!("arca: {e}");
            std::process::exit(125);
        }
    }
    // A detached container's monitor (protected above): its command line is arca's own.
    if let Some(m) = commands::monitor::MonitorArgs::recognise(std::env::args_os().skip(1)) {
        exit_with(m.run(), arca_engine::monitor::MONITOR_VERB);
    }
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
    exit_with(commands::dispatch(cli), &verb);
}

/// Exits with the command's code, or reports its error with Docker's exit codes.
fn exit_with(result: anyhow::Result<i32>, verb: &str) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("arca: {}", message(&e));
            let code = match e.downcast_ref::<arca_engine::EngineError>() {
                Some(engine) if CONTAINER_VERBS.contains(&verb) => engine.exit_code(),
                _ if CONTAINER_VERBS.contains(&verb) => 125,
                _ => 1,
            };
            std::process::exit(code);
        }
    }
}

/// The subcommand: the first argument that is neither a global flag nor its value.
fn verb(args: impl Iterator<Item = String>) -> String {
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if a == "--root" || a == "--storage-driver" || a == "--cni-plugin-dir" {
            args.next();
        } else if !a.starts_with('-') {
            return a;
        }
    }
    String::new()
}

/// The error and its causes joined by ": ", as `{:#}` would, except that a cause whose text the
/// message already ends with is not repeated: arca-image's errors show their source inline
/// (`dir:x: manifest.json: No such file or directory`) and also expose it as their cause.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::message;

    /// Shows its source inline and exposes it as its cause, as arca-image's errors do.
    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "x.tgz: {}", self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_already_shown_are_not_repeated() {
        let io = std::io::Error::other("incomplete deflate stream");
        let e = anyhow::Error::new(Wrapped(io)).context("import");
        assert_eq!(message(&e), "import: x.tgz: incomplete deflate stream");
        let e = anyhow::anyhow!("plain").context("outer");
        assert_eq!(message(&e), "outer: plain");
    }
}
