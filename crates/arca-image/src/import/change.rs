//! `--change`: the Dockerfile instructions `docker import` applies to the new image's config
//! (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR), in Dockerfile
//! syntax: exec (JSON array) or shell form, `KEY=VALUE` pairs with quotes, or the legacy
//! `ENV KEY VALUE`. Written into the OCI config's `config` object under its field names.
//! Variables (`$VAR`) are not expanded.

use serde_json::{Map, Value};

const SUPPORTED: &str =
    "CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR";

/// Applies one instruction to `config`; the error says what is wrong with it.
pub(super) fn apply(config: &mut Map<String, Value>, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (keyword, rest) = change
        .split_once(char::is_whitespace)
        .map_or((change, ""), |(k, r)| (k, r.trim()));
    let keyword = keyword.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(if keyword.is_empty() {
            "empty instruction".to_owned()
        } else {
            format!("{keyword} needs an argument")
        });
    }
    match keyword.as_str() {
        "CMD" => set(config, "Cmd", strings(exec_or_shell(rest))),
        "ENTRYPOINT" => set(config, "Entrypoint", strings(exec_or_shell(rest))),
        "ENV" => {
            for (k, v) in pairs(rest)? {
                let entry = format!("{k}={v}");
                let env = array(config, "Env");
                let prefix = format!("{k}=");
                match env
                    .iter_mut()
                    .find(|e| e.as_str().is_some_and(|s| s.starts_with(&prefix)))
                {
                    Some(old) => *old = Value::from(entry),
                    None => env.push(Value::from(entry)),
                }
            }
        }
        "LABEL" => {
            for (k, v) in pairs(rest)? {
                object(config, "Labels").insert(k, Value::from(v));
            }
        }
        "EXPOSE" => {
            for port in words(rest)? {
                for p in ports(&port)? {
                    object(config, "ExposedPorts").insert(p, Value::Object(Map::new()));
                }
            }
        }
        "VOLUME" => {
            let paths = match json_array(rest) {
                Some(a) => a,
                None => words(rest)?,
            };
            for p in paths {
                if p.is_empty() {
                    return Err("VOLUME with an empty path".to_owned());
                }
                object(config, "Volumes").insert(p, Value::Object(Map::new()));
            }
        }
        "HEALTHCHECK" => set(config, "Healthcheck", healthcheck(rest)?),
        "USER" => set(config, "User", Value::from(one(&keyword, rest)?)),
        "STOPSIGNAL" => set(config, "StopSignal", Value::from(one(&keyword, rest)?)),
        "WORKDIR" => {
            let dir = one(&keyword, rest)?;
            let base = config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_owned();
            // A relative WORKDIR continues the previous one, as in a Dockerfile.
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{base}/{dir}")
            };
            set(config, "WorkingDir", Value::from(clean(&joined)));
        }
        other => {
            return Err(format!(
                "{other} is not an instruction import can apply (supported: {SUPPORTED})"
            ))
        }
    }
    Ok(())
}

/// `NONE`, or `[--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
/// [--retries=N] CMD command` (exec or shell form): Docker's `Healthcheck` object, durations
/// in nanoseconds, `Test` as `["CMD", args…]`, `["CMD-SHELL", "command"]` or `["NONE"]`.
fn healthcheck(rest: &str) -> Result<Value, String> {
    let mut out = Map::new();
    let mut rest = rest.trim_start();
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, after) = flag
            .split_once(char::is_whitespace)
            .map_or((flag, ""), |(w, a)| (w, a.trim_start()));
        let (name, value) = word
            .split_once('=')
            .ok_or_else(|| format!("HEALTHCHECK --{word}: expected --{word}=VALUE"))?;
        let field = match name {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => "Retries",
            _ => return Err(format!("HEALTHCHECK: unknown flag --{name}")),
        };
        let v = if field == "Retries" {
            value
                .parse::<u32>()
                .map(Value::from)
                .map_err(|_| format!("HEALTHCHECK --retries={value}: expected a whole number"))?
        } else {
            let d = crate::duration::parse(value).ok_or_else(|| {
                format!("HEALTHCHECK --{name}={value}: expected a duration like 30s, 1m30s, 500ms")
            })?;
            Value::from(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        };
        out.insert(field.to_owned(), v);
        rest = after;
    }
    let (kind, command) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(k, c)| (k, c.trim()));
    let test = match kind.to_ascii_uppercase().as_str() {
        "NONE" if command.is_empty() && out.is_empty() => vec!["NONE".to_owned()],
        "NONE" => return Err("HEALTHCHECK NONE takes no flags or arguments".to_owned()),
        "CMD" if command.is_empty() => return Err("HEALTHCHECK CMD needs a command".to_owned()),
        "CMD" => match json_array(command) {
            Some(args) => ["CMD".to_owned()].into_iter().chain(args).collect(),
            None => vec!["CMD-SHELL".to_owned(), command.to_owned()],
        },
        _ => return Err(format!("HEALTHCHECK {kind:?}: expected CMD or NONE")),
    };
    out.insert("Test".to_owned(), strings(test));
    Ok(Value::Object(out))
}

fn set(config: &mut Map<String, Value>, key: &str, v: Value) {
    config.insert(key.to_owned(), v);
}

fn array<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let v = config
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !v.is_array() {
        *v = Value::Array(Vec::new());
    }
    v.as_array_mut().expect("made an array above")
}

fn object<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = config
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("made an object above")
}

fn strings(v: Vec<String>) -> Value {
    Value::from(v)
}

fn json_array(s: &str) -> Option<Vec<String>> {
    s.starts_with('[')
        .then(|| serde_json::from_str(s).ok())
        .flatten()
}

/// Exec form when the argument is a JSON array of strings, else shell form (run by
/// `/bin/sh -c`), the Dockerfile rule: a malformed array is a shell command.
fn exec_or_shell(s: &str) -> Vec<String> {
    json_array(s).unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned(), s.to_owned()])
}

fn one(keyword: &str, rest: &str) -> Result<String, String> {
    match words(rest)?.as_slice() {
        [w] => Ok(w.clone()),
        _ => Err(format!("{keyword} takes exactly one argument")),
    }
}

/// `K=V K2="v 2"`, or the legacy `K the rest` (one pair, the value all that follows).
fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let ws = words(s)?;
    let Some(first) = ws.first() else {
        return Err("needs KEY=VALUE".to_owned());
    };
    if !first.contains('=') {
        return if ws.len() < 2 {
            Err(format!("{first:?} has no value (want KEY=VALUE)"))
        } else {
            Ok(vec![(first.clone(), ws[1..].join(" "))])
        };
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, … (ranges expanded, as Docker does).
fn ports(spec: &str) -> Result<Vec<String>, String> {
    let bad = || format!("{spec:?} is not a port (want PORT[-PORT][/tcp|udp|sctp])");
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
    let lo: u16 = lo.parse().map_err(|_| bad())?;
    let hi: u16 = hi.parse().map_err(|_| bad())?;
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Splits on whitespace, honouring '…' (literal), "…" (with \" \\ escapes) and \-escapes,
/// and removes the quotes: Dockerfile word rules, without variable expansion.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated ' quote".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated \" quote".to_owned()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \" quote".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Lexical clean of an absolute path: no `.`, no `..` above `/`, no doubled slashes.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(changes: &[&str]) -> Result<Value, String> {
        let mut c = Map::new();
        for ch in changes {
            apply(&mut c, ch)?;
        }
        Ok(Value::Object(c))
    }

    #[test]
    fn healthcheck_as_docker_stores_it() {
        let c = config(&["HEALTHCHECK --interval=200ms --retries=2 CMD test -f /ready"]).unwrap();
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "test -f /ready"], "Interval": 200_000_000u64, "Retries": 2})
        );
        let c = config(&[r#"HEALTHCHECK --timeout=1m30s CMD ["/bin/check", "-q"]"#]).unwrap();
        assert_eq!(
            c["Healthcheck"],
            json!({"Test": ["CMD", "/bin/check", "-q"], "Timeout": 90_000_000_000u64})
        );
        let c = config(&["HEALTHCHECK NONE"]).unwrap();
        assert_eq!(c["Healthcheck"], json!({"Test": ["NONE"]}));
        for bad in [
            "HEALTHCHECK --interval=soon CMD true",
            "HEALTHCHECK --every=1s CMD true",
            "HEALTHCHECK --retries=x CMD true",
            "HEALTHCHECK CMD",
            "HEALTHCHECK RUN true",
            "HEALTHCHECK --retries=1 NONE",
        ] {
            assert!(config(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn exec_and_shell_forms() {
        let c = config(&[r#"CMD ["/bin/sh", "-c", "echo hi"]"#, "entrypoint tini --"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "tini --"]));
        let c = config(&["CMD [not json"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "[not json"]));
    }

    #[test]
    fn env_label_expose_volume_user_workdir() {
        let c = config(&[
            r#"ENV A=b C="d e" F=g\ h"#,
            "ENV A=z",
            "ENV LEGACY value with spaces",
            r#"LABEL "com.example.x"="1 2" y=3"#,
            "EXPOSE 80 53/udp 8000-8001",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "USER 1000:1000",
            "WORKDIR /srv",
            "WORKDIR app/../web",
            "STOPSIGNAL SIGTERM",
        ])
        .unwrap();
        assert_eq!(
            c["Env"],
            json!(["A=z", "C=d e", "F=g h", "LEGACY=value with spaces"])
        );
        assert_eq!(c["Labels"], json!({"com.example.x": "1 2", "y": "3"}));
        assert_eq!(
            c["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
        );
        assert_eq!(
            c["Volumes"],
            json!({"/data": {}, "/logs": {}, "/cache": {}})
        );
        assert_eq!(c["User"], "1000:1000");
        assert_eq!(c["WorkingDir"], "/srv/web");
        assert_eq!(c["StopSignal"], "SIGTERM");
    }

    #[test]
    fn bad_changes_are_refused() {
        for bad in [
            "RUN echo hi",
            "ONBUILD RUN x",
            "CMD",
            "",
            "ENV =x",
            "ENV ONLYKEY",
            "EXPOSE http",
            "EXPOSE 80/quic",
            "USER a b",
            r#"LABEL a="unterminated"#,
        ] {
            assert!(config(&[bad]).is_err(), "{bad:?} accepted");
        }
        let err = config(&["ONBUILD RUN true"]).unwrap_err();
        assert!(err.contains("ONBUILD") && err.contains("WORKDIR"), "{err}");
    }
}
