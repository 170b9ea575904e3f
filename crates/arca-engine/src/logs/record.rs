//! One line of a log file: `{"log":"...","stream":"stdout","time":"..."}`.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::time::parse_rfc3339;
use super::Stream;

/// A record read back from a file; `log` borrows from the line when it has no escapes.
#[derive(Debug, Clone)]
pub(super) struct Record<'a> {
    pub stream: Stream,
    pub time: SystemTime,
    pub log: Cow<'a, str>,
}

impl Record<'_> {
    pub fn into_owned(self) -> Record<'static> {
        Record {
            stream: self.stream,
            time: self.time,
            log: Cow::Owned(self.log.into_owned()),
        }
    }
}

/// Field order is Docker's, so that our files diff cleanly against its.
#[derive(Serialize)]
struct Out<'a> {
    log: &'a str,
    stream: &'static str,
    time: &'a str,
}

#[derive(Deserialize)]
struct In<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

/// Appends the record and its newline to `out`. Text that is not UTF-8 gets U+FFFD for each
/// bad sequence, as Docker's encoder does: JSON strings cannot carry raw bytes.
pub(super) fn encode(out: &mut Vec<u8>, stream: Stream, text: &[u8], time: &str) {
    let log = String::from_utf8_lossy(text);
    let rec = Out {
        log: &log,
        stream: stream.as_str(),
        time,
    };
    // Serializing a struct of strings into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &rec).is_ok() {
        out.push(b'\n');
    }
}

/// Parses one line (without its newline); the error says why it is not a record.
pub(super) fn decode(line: &[u8]) -> Result<Record<'_>, String> {
    let r: In = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let stream = match &*r.stream {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        other => return Err(format!("unknown stream {other:?}")),
    };
    let time = parse_rfc3339(&r.time).map_err(|e| format!("bad time {:?}: {e}", r.time))?;
    Ok(Record {
        stream,
        time,
        log: r.log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_docker_and_decodes_back() {
        let mut out = Vec::new();
        encode(
            &mut out,
            Stream::Stderr,
            b"a \"quoted\"\ttab\n",
            "2026-11-23T01:02:03.123456789Z",
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"log\":\"a \\\"quoted\\\"\\ttab\\n\",\"stream\":\"stderr\",\
             \"time\":\"2026-11-23T01:02:03.123456789Z\"}\n"
        );
        let r = decode(&out[..out.len() - 1]).unwrap();
        assert_eq!(r.stream, Stream::Stderr);
        assert_eq!(r.log, "a \"quoted\"\ttab\n");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut out = Vec::new();
        encode(&mut out, Stream::Stdout, b"a\xffb", "2026-11-23T01:02:03Z");
        assert_eq!(decode(&out[..out.len() - 1]).unwrap().log, "a\u{fffd}b");
    }

    #[test]
    fn rejects_what_is_not_a_record() {
        for line in [
            &b""[..],
            b"not json",
            b"{\"log\":\"x\",\"stream\":\"stdin\",\"time\":\"2026-11-23T01:02:03Z\"}",
            b"{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"yesterday\"}",
            b"{\"log\":\"x\",\"stream\":\"stdout\"}",
            b"{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2026-11-23T01:02:03Z\"",
        ] {
            assert!(decode(line).is_err(), "{}", String::from_utf8_lossy(line));
        }
        // Fields Docker may add (attrs) are ignored.
        assert!(decode(
            b"{\"log\":\"x\",\"stream\":\"stdout\",\"attrs\":{\"a\":\"b\"},\"time\":\"2026-11-23T01:02:03Z\"}"
        )
        .is_ok());
    }
}
