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
            eprintln!("arca: {}", message(&e));
            std::process::exit(1);
        }
    }
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
