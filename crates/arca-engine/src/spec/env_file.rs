//! `--env-file FILE` and `-e KEY` (no `=`): Docker takes such a variable from the environment
//! of the command itself, and leaves it out when that is unset.

use std::path::Path;

use super::SpecError;

const FLAG: &str = "--env-file";

/// An env file is a few lines; this bounds what a wrong path (a disk image...) makes us read.
const MAX_FILE: u64 = 1 << 20;

/// `-e` values: `K=V` kept, `K` replaced by `K=<value of K in host_env>` or dropped if unset.
pub fn resolve_env(args: &[String], host_env: impl Fn(&str) -> Option<String>) -> Vec<String> {
    args.iter()
        .filter_map(|a| {
            if a.contains('=') {
                Some(a.clone())
            } else {
                host_env(a).map(|v| format!("{a}={v}"))
            }
        })
        .collect()
}

/// Docker's env-file format (`opts.ParseEnvFile`): one `KEY=VALUE` per line, taken literally
/// (no quotes, no expansion); blank lines and lines starting with `#` skipped; a line with only
/// `KEY` takes the variable from this process's environment. Keys may not contain whitespace.
pub fn parse_env_file(path: &Path) -> Result<Vec<String>, SpecError> {
    parse_env_file_with(path, |k| std::env::var(k).ok())
}

pub(super) fn parse_env_file_with(
    path: &Path,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, SpecError> {
    use std::io::Read;
    let value = path.display().to_string();
    let io = |source| SpecError::Io {
        flag: FLAG,
        value: value.clone(),
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(SpecError::invalid(FLAG, value, "larger than 1 MiB"));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| SpecError::invalid(FLAG, value.clone(), "not UTF-8 text"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, val) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let bad =
            |why: String| SpecError::invalid(FLAG, value.clone(), format!("line {}: {why}", n + 1));
        if key.is_empty() {
            return Err(bad("no variable name".to_owned()));
        }
        if key.contains(char::is_whitespace) {
            return Err(bad(format!("variable {key:?} contains whitespace")));
        }
        match val {
            Some(v) => out.push(format!("{key}={v}")),
            None => out.extend(host_env(key).map(|v| format!("{key}={v}"))),
        }
    }
    Ok(out)
}
