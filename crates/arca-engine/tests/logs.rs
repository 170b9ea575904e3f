//! Container logs on real files: what the writer makes, what the reader prints.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arca_engine::logs::{
    format_rfc3339_nano, parse_since, read, LogOptions, LogWriter, ReadOptions, Stream,
    MAX_RECORD_TEXT,
};

const NO_ROTATION: LogOptions = LogOptions {
    max_size: 0,
    max_files: 1,
};

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("container-json.log")
}

/// The records of one file, as JSON values.
fn records(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read_all(path: &Path, opts: &ReadOptions) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    read(path, opts, &mut out, &mut err, &|| true).unwrap();
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn all() -> ReadOptions {
    ReadOptions::default()
}

fn time_of(rec: &serde_json::Value) -> SystemTime {
    parse_since(rec["time"].as_str().unwrap(), SystemTime::now()).unwrap()
}

#[test]
fn partial_lines_across_writes_are_one_record_dated_by_their_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut w = LogWriter::open(&path, NO_ROTATION).unwrap();
    let before = SystemTime::now();
    w.write(Stream::Stdout, b"hel").unwrap();
    thread::sleep(Duration::from_millis(20));
    let between = SystemTime::now();
    w.write(Stream::Stdout, b"lo\nwor").unwrap();
    w.write(Stream::Stdout, b"ld\n\n").unwrap();
    drop(w);

    let recs = records(&path);
    let logs: Vec<_> = recs.iter().map(|r| r["log"].as_str().unwrap()).collect();
    assert_eq!(logs, ["hello\n", "world\n", "\n"]);
    assert!(recs.iter().all(|r| r["stream"] == "stdout"));
    let t0 = time_of(&recs[0]);
    assert!(before <= t0 && t0 < between, "dated when 'hel' came");
    assert!(
        time_of(&recs[1]) >= between,
        "'wor' came with the second write"
    );
    assert_eq!(
        read_all(&path, &all()),
        ("hello\nworld\n\n".into(), String::new())
    );
}

#[test]
fn interleaved_streams_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut w = LogWriter::open(&path, NO_ROTATION).unwrap();
    w.write(Stream::Stdout, b"out ").unwrap();
    w.write(Stream::Stderr, b"err 1\nerr ").unwrap();
    w.write(Stream::Stdout, b"line\n").unwrap();
    w.write(Stream::Stderr, b"2\n").unwrap();
    drop(w);

    let recs: Vec<_> = records(&path)
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["stream"].as_str().unwrap(),
                r["log"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        recs,
        ["stderr:err 1\n", "stdout:out line\n", "stderr:err 2\n"]
    );
    assert_eq!(
        read_all(&path, &all()),
        ("out line\n".into(), "err 1\nerr 2\n".into())
    );
}

#[test]
fn long_lines_are_cut_into_records_of_16k() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut w = LogWriter::open(&path, NO_ROTATION).unwrap();
    let long: Vec<u8> = b"abcdefghijklmnopqrstuvwxyz"
        .iter()
        .cycle()
        .take(40_000)
        .copied()
        .collect();
    // In pieces, as a pipe gives it.
    for piece in long.chunks(4096) {
        w.write(Stream::Stdout, piece).unwrap();
    }
    w.write(Stream::Stdout, b"\n").unwrap();
    // Exactly a record's worth with its newline is one record.
    let exact = vec![b'x'; MAX_RECORD_TEXT];
    w.write(Stream::Stdout, &exact).unwrap();
    w.write(Stream::Stdout, b"\n").unwrap();
    // A multi-byte character is not split across records.
    let mut utf8 = "é".repeat(MAX_RECORD_TEXT / 2 + 1);
    utf8.insert(0, 'z');
    w.write(Stream::Stderr, format!("{utf8}\n").as_bytes())
        .unwrap();
    drop(w);

    let recs = records(&path);
    let lens: Vec<_> = recs
        .iter()
        .map(|r| r["log"].as_str().unwrap().len())
        .collect();
    assert_eq!(
        lens,
        [
            16_384,
            16_384,
            40_000 - 2 * 16_384 + 1,
            16_385,
            16_383,
            utf8.len() - 16_383 + 1
        ]
    );
    assert!(!recs[0]["log"].as_str().unwrap().ends_with('\n'));
    let (out, err) = read_all(&path, &all());
    let mut want = String::from_utf8(long).unwrap();
    want.push('\n');
    want.push_str(&String::from_utf8(exact).unwrap());
    want.push('\n');
    assert_eq!(out, want);
    assert_eq!(err, format!("{utf8}\n"));
    assert!(!err.contains('\u{fffd}'));
}

#[test]
fn flush_partial_writes_the_unfinished_lines_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut w = LogWriter::open(&path, NO_ROTATION).unwrap();
    w.write(Stream::Stdout, b"done\nno newline").unwrap();
    w.write(Stream::Stderr, b"err tail").unwrap();
    assert_eq!(records(&path).len(), 1, "partial lines wait");
    w.flush_partial().unwrap();
    w.flush_partial().unwrap(); // nothing left: no empty record
    w.write(Stream::Stdout, b"dropped writer").unwrap();
    drop(w); // flushes too

    let logs: Vec<_> = records(&path)
        .iter()
        .map(|r| r["log"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logs, ["done\n", "no newline", "err tail", "dropped writer"]);
}

#[test]
fn open_appends_and_creates_0640() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    LogWriter::open(&path, NO_ROTATION)
        .unwrap()
        .write(Stream::Stdout, b"first run\n")
        .unwrap();
    LogWriter::open(&path, NO_ROTATION)
        .unwrap()
        .write(Stream::Stdout, b"second run\n")
        .unwrap();
    assert_eq!(read_all(&path, &all()).0, "first run\nsecond run\n");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(LogWriter::open(
        &path,
        LogOptions {
            max_size: 1,
            max_files: 0
        }
    )
    .is_err());
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("line {i:04}\n")).collect()
}

/// Writes `n` numbered stdout lines.
fn write_lines(path: &Path, opts: LogOptions, n: usize) {
    let mut w = LogWriter::open(path, opts).unwrap();
    for i in 0..n {
        w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes())
            .unwrap();
    }
}

#[test]
fn rotation_keeps_max_files_and_reads_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let opts = LogOptions {
        max_size: 500,
        max_files: 3,
    };
    write_lines(&path, opts, 100);
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    assert!(path.exists() && rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "the oldest is dropped");
    for p in [path.clone(), rotated(1), rotated(2)] {
        let len = fs::metadata(&p).unwrap().len();
        assert!(len > 0 && len <= 500, "{}: {len}", p.display());
    }
    // Each record is 80 bytes: 6 to a file, 16 or more kept, ending with the last one.
    let (out, _) = read_all(&path, &all());
    let kept = out.lines().count();
    assert!((12..=18).contains(&kept), "{kept}");
    assert_eq!(out, lines(100 - kept..100));
    // Files read oldest first: path.2's first line is the first printed.
    let first = &records(&rotated(2))[0]["log"];
    assert_eq!(
        out.lines().next().unwrap(),
        first.as_str().unwrap().trim_end()
    );
}

#[test]
fn rotation_with_one_file_starts_it_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let opts = LogOptions {
        max_size: 500,
        max_files: 1,
    };
    write_lines(&path, opts, 20);
    assert!(!PathBuf::from(format!("{}.1", path.display())).exists());
    let (out, _) = read_all(&path, &all());
    assert!(fs::metadata(&path).unwrap().len() <= 500);
    assert_eq!(out, lines(20 - out.lines().count()..20));
}

#[test]
fn tail_counts_back_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let opts = LogOptions {
        max_size: 500,
        max_files: 4,
    };
    write_lines(&path, opts, 100);
    let tail = |n| {
        read_all(
            &path,
            &ReadOptions {
                tail: Some(n),
                ..all()
            },
        )
        .0
    };
    assert_eq!(tail(0), "");
    assert_eq!(tail(1), lines(99..100));
    // More than the newest file holds (at most 6).
    assert_eq!(tail(10), lines(90..100));
    let everything = read_all(&path, &all()).0;
    assert_eq!(tail(1000), everything);
}

/// A file written by hand: known times, a malformed line and a record still being written.
fn hand_written(dir: &tempfile::TempDir) -> PathBuf {
    let path = log_path(dir);
    let rec = |log: &str, stream: &str, time: &str| {
        serde_json::json!({"log": log, "stream": stream, "time": time}).to_string() + "\n"
    };
    let mut s = String::new();
    s += &rec("one\n", "stdout", "2026-11-23T01:00:00.000000001Z");
    s += &rec("two\n", "stderr", "2026-11-23T01:00:01.5Z");
    s += "this is not json\n";
    s += "{\"log\":\"no time\\n\",\"stream\":\"stdout\"}\n";
    s += "\n";
    s += &rec("three\n", "stdout", "2026-11-23T02:00:00+01:00"); // = 01:00:00Z
    s += &rec("four\n", "stdout", "2026-11-23T01:00:02.000000000Z");
    s += "{\"log\":\"being writ";
    fs::write(&path, s).unwrap();
    path
}

#[test]
fn malformed_lines_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = hand_written(&dir);
    assert_eq!(
        read_all(&path, &all()),
        ("one\nthree\nfour\n".into(), "two\n".into())
    );
    let (out, _) = read_all(
        &path,
        &ReadOptions {
            tail: Some(2),
            ..all()
        },
    );
    assert_eq!(out, "three\nfour\n");
}

#[test]
fn since_and_until_filter_inclusively() {
    let dir = tempfile::tempdir().unwrap();
    let path = hand_written(&dir);
    let now = SystemTime::now();
    let at = |s| parse_since(s, now).unwrap();
    let opts = ReadOptions {
        since: Some(at("2026-11-23T01:00:01.5Z")),
        ..all()
    };
    assert_eq!(read_all(&path, &opts), ("four\n".into(), "two\n".into()));
    let opts = ReadOptions {
        until: Some(at("2026-11-23T01:00:01Z")),
        ..all()
    };
    assert_eq!(
        read_all(&path, &opts),
        ("one\nthree\n".into(), String::new())
    );
    let opts = ReadOptions {
        since: Some(at("2026-11-23T01:00:00.5Z")),
        until: Some(at("2026-11-23T01:00:01.9Z")),
        ..all()
    };
    assert_eq!(read_all(&path, &opts), (String::new(), "two\n".into()));
    // --tail counts what passes the filter.
    let opts = ReadOptions {
        until: Some(at("2026-11-23T01:00:01Z")),
        tail: Some(1),
        ..all()
    };
    assert_eq!(read_all(&path, &opts).0, "three\n");
}

#[test]
fn since_a_duration_ago() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    write_lines(&path, NO_ROTATION, 2);
    let since = |s| ReadOptions {
        since: Some(parse_since(s, SystemTime::now()).unwrap()),
        ..all()
    };
    assert_eq!(read_all(&path, &since("1m")).0, lines(0..2));
    // A minute ahead: nothing yet.
    assert_eq!(read_all(&path, &since("-1m")).0, "");
}

#[test]
fn timestamps_prefix_rfc3339_nano() {
    let dir = tempfile::tempdir().unwrap();
    let path = hand_written(&dir);
    let opts = ReadOptions {
        timestamps: true,
        ..all()
    };
    assert_eq!(
        read_all(&path, &opts),
        (
            "2026-11-23T01:00:00.000000001Z one\n\
             2026-11-23T01:00:00.000000000Z three\n\
             2026-11-23T01:00:02.000000000Z four\n"
                .into(),
            "2026-11-23T01:00:01.500000000Z two\n".into()
        )
    );
    assert_eq!(
        format_rfc3339_nano(UNIX_EPOCH + Duration::new(1_795_395_723, 123_456_789)),
        "2026-11-23T01:02:03.123456789Z"
    );
}

#[test]
fn a_missing_log_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        read_all(&log_path(&dir), &all()),
        (String::new(), String::new())
    );
}

/// Output shared with the test while a follow writes to it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Waits (up to 10 s) until a follow has printed exactly `want`.
fn wait_for(out: &Shared, want: &str) {
    let start = std::time::Instant::now();
    while out.text() != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            out.text()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Follows `path` on a thread; `done` ends it.
fn follow(
    path: &Path,
    opts: ReadOptions,
    done: Arc<AtomicBool>,
) -> (Shared, Shared, thread::JoinHandle<io::Result<()>>) {
    let (out, err) = (Shared::default(), Shared::default());
    let (mut o, mut e) = (out.clone(), err.clone());
    let path = path.to_owned();
    let h = thread::spawn(move || {
        let opts = ReadOptions {
            follow: true,
            ..opts
        };
        read(&path, &opts, &mut o, &mut e, &|| {
            done.load(Ordering::SeqCst)
        })
    });
    (out, err, h)
}

#[test]
fn follow_reads_through_rotations_without_loss_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    // Enough files that none is dropped: the reader may fall behind by many rotations.
    let opts = LogOptions {
        max_size: 2000,
        max_files: 200,
    };
    write_lines(&path, opts, 30); // before the follow starts
    let done = Arc::new(AtomicBool::new(false));
    let (out, err, reader) = follow(&path, all(), done.clone());
    let writer = {
        let path = path.clone();
        let done = done.clone();
        thread::spawn(move || {
            let mut w = LogWriter::open(&path, opts).unwrap();
            for i in 30..3000 {
                // Lines in pieces, stderr in between, pauses now and then.
                let line = format!("line {i:04}\n");
                let (a, b) = line.as_bytes().split_at(3);
                w.write(Stream::Stdout, a).unwrap();
                if i % 100 == 0 {
                    w.write(Stream::Stderr, format!("err {i}\n").as_bytes())
                        .unwrap();
                    thread::sleep(Duration::from_millis(5));
                }
                w.write(Stream::Stdout, b).unwrap();
            }
            w.write(Stream::Stdout, b"last, without newline").unwrap();
            w.flush_partial().unwrap();
            drop(w);
            done.store(true, Ordering::SeqCst);
        })
    };
    writer.join().unwrap();
    reader.join().unwrap().unwrap();
    assert!(
        PathBuf::from(format!("{}.10", path.display())).exists(),
        "it rotated"
    );
    assert_eq!(out.text(), lines(0..3000) + "last, without newline");
    let want_err: String = (1..30).map(|i| format!("err {}\n", i * 100)).collect();
    assert_eq!(err.text(), want_err);
}

#[test]
fn follow_notices_each_rotation_with_few_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    for max_files in [1, 2] {
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(format!("{}.1", path.display()));
        // Each record gets a file of its own.
        let opts = LogOptions {
            max_size: 10,
            max_files,
        };
        let done = Arc::new(AtomicBool::new(false));
        let (out, _, reader) = follow(&path, all(), done.clone());
        let mut w = LogWriter::open(&path, opts).unwrap();
        for i in 0..20 {
            w.write(Stream::Stdout, format!("line {i:04}\n").as_bytes())
                .unwrap();
            // Waits for the reader before the next rotation, which would drop the file.
            wait_for(&out, &lines(0..i + 1));
        }
        drop(w);
        done.store(true, Ordering::SeqCst);
        reader.join().unwrap().unwrap();
        assert_eq!(out.text(), lines(0..20), "max_files {max_files}");
    }
}

#[test]
fn follow_with_tail_starts_from_the_last_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    write_lines(&path, NO_ROTATION, 5);
    // A record being written when the follow starts is printed once complete.
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"log\":\"hal")
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let opts = ReadOptions {
        tail: Some(2),
        ..all()
    };
    let (out, _, reader) = follow(&path, opts, done.clone());
    wait_for(&out, &lines(3..5));
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"f\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-23T01:02:03Z\"}\n")
        .unwrap();
    LogWriter::open(&path, NO_ROTATION)
        .unwrap()
        .write(Stream::Stdout, b"new\n")
        .unwrap();
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap().unwrap();
    assert_eq!(out.text(), lines(3..5) + "half\nnew\n");
}

#[test]
fn follow_waits_for_the_file_to_appear() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let done = Arc::new(AtomicBool::new(false));
    let (out, _, reader) = follow(&path, all(), done.clone());
    thread::sleep(Duration::from_millis(150));
    write_lines(&path, NO_ROTATION, 3);
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap().unwrap();
    assert_eq!(out.text(), lines(0..3));
}

#[test]
fn follow_ends_once_until_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    write_lines(&path, NO_ROTATION, 3);
    let opts = ReadOptions {
        until: Some(SystemTime::now() + Duration::from_millis(200)),
        ..all()
    };
    // Never done: only `until` ends it.
    let (out, _, reader) = follow(&path, opts, Arc::new(AtomicBool::new(false)));
    reader.join().unwrap().unwrap();
    assert_eq!(out.text(), lines(0..3));
}

#[test]
fn a_follow_that_falls_behind_loses_dropped_files_but_never_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    // Two records a file, three files: a reader that is slower than the writer misses
    // the files dropped meanwhile.
    let opts = LogOptions {
        max_size: 160,
        max_files: 3,
    };
    let done = Arc::new(AtomicBool::new(false));
    let (out, _, reader) = follow(&path, all(), done.clone());
    write_lines(&path, opts, 3000);
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap().unwrap();
    let got: Vec<usize> = out
        .text()
        .lines()
        .map(|l| l.strip_prefix("line ").unwrap().parse().unwrap())
        .collect();
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once each");
    assert_eq!(got.last(), Some(&2999), "the end is never lost");
}
