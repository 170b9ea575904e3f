//! `attach`, `run -d -i` and `start -a` with real containers (the busybox image, as root): what
//! the container read, what each attached client saw and when, exit codes passed through,
//! detaching with the keys through a real pty. Each test has its own `--root`; containers are
//! removed when it ends and attach processes killed, even on failure.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::engine::{code, stdout, through_pty, Engine, IMAGE};

/// How long anything here may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A container printing 0, 1, 2, … every 100 ms; exits 7 when stopped.
const COUNTER: &str =
    "i=0; trap 'exit 7' TERM; while true; do echo $i; i=$((i+1)); sleep 0.1; done";

/// A running `arca attach`-like process whose stdout lines arrive, timestamped, on a channel;
/// killed when dropped.
struct Attached {
    child: Child,
    lines: mpsc::Receiver<(String, Instant)>,
}

impl Attached {
    fn spawn(e: &Engine, args: &[&str]) -> Attached {
        let mut child = e
            .env
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((line, Instant::now())).is_err() {
                    break;
                }
            }
        });
        Attached { child, lines }
    }

    fn line(&self) -> (String, Instant) {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("a line from the attached client")
    }

    /// Its exit code, and the lines it printed that were not read yet.
    fn finish(&mut self) -> (i32, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "attach did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        // Shown with the test's output when it fails.
        eprintln!("attach's stderr: {err}");
        let rest = self.lines.iter().map(|(l, _)| l).collect();
        (status.code().unwrap_or(-1), rest)
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `arca ARGS` with `input` on its stdin (then closed); killed if it outlasts the test's
/// patience. Input is written while output is read, so neither side's pipe fills and blocks.
fn with_input(e: &Engine, args: &[&str], input: &str) -> Output {
    let mut child = e
        .env
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // A failed write (it exited early) shows in what the caller checks.
    std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let pid = child.id().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
        panic!("arca {args:?} did not exit");
    })
}

fn numbers(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l.trim().parse().unwrap_or_else(|_| panic!("{l:?}")))
        .collect()
}

fn consecutive(n: &[u64]) -> bool {
    n.windows(2).all(|w| w[1] == w[0] + 1)
}

#[test]
fn attach_feeds_the_stdin_of_a_detached_container() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "reader",
        IMAGE,
        "sh",
        "-c",
        "read x; echo got $x; exit 3",
    ]);
    // Nobody attached, yet its stdin stays open (no EOF): it is still waiting to read.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(e.inspect("reader")["State"]["Running"], true);
    assert_eq!(e.inspect("reader")["Config"]["OpenStdin"], true);
    let o = with_input(&e, &["attach", "reader"], "hello\n");
    assert_eq!(code(&o), 3, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "got hello\n");
    // The exit is recorded before attach returns: what runs next sees it stopped.
    assert_eq!(e.inspect("reader")["State"]["ExitCode"], 3);
    e.ok(&["rm", "reader"]);

    // With --rm the record is gone by then; the code still comes through.
    e.ok(&[
        "run",
        "-d",
        "-i",
        "--rm",
        "--name",
        "gone",
        IMAGE,
        "sh",
        "-c",
        "read x; exit $x",
    ]);
    let o = with_input(&e, &["attach", "gone"], "6\n");
    assert_eq!(code(&o), 6, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!e.arca(&["inspect", "gone"]).status.success());

    // Without -i its stdin is /dev/null: the read ends at once.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "closed",
        IMAGE,
        "sh",
        "-c",
        "if read x; then echo read; else echo eof; fi",
    ]);
    assert_eq!(e.ok(&["wait", "closed"]).trim(), "0");
    assert_eq!(e.ok(&["logs", "closed"]), "eof\n");
}

#[test]
fn start_attach_sees_everything_and_closes_stdin_once() {
    let e = Engine::new();
    // create -i is Docker's StdinOnce: the attached input's end is cat's EOF.
    e.ok(&["create", "-i", "--name", "cat", IMAGE, "cat"]);
    let o = with_input(&e, &["start", "-a", "-i", "cat"], "one\ntwo\n");
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "one\ntwo\n");
    // Attached before the start: even the first output is seen, each stream on its own.
    e.ok(&[
        "create",
        "--name",
        "quick",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 4",
    ]);
    let o = e.arca(&["start", "-a", "quick"]);
    assert_eq!(code(&o), 4, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    // More input than any buffer on the way (pipes, socket, packets): all of it, in order.
    let big: String = (0..100_000).map(|i| format!("{i}\n")).collect();
    let o = with_input(&e, &["start", "-a", "-i", "cat"], &big);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o) == big,
        "{} of {} bytes",
        o.stdout.len(),
        big.len()
    );
    let both = e.arca(&["start", "-a", "cat", "quick"]);
    assert_eq!(code(&both), 125);
}

#[test]
fn attach_streams_output_live() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "counter", IMAGE, "sh", "-c", COUNTER]);
    let mut a = Attached::spawn(&e, &["attach", "counter"]);
    let got: Vec<(String, Instant)> = (0..5).map(|_| a.line()).collect();
    let lines: Vec<String> = got.iter().map(|(l, _)| l.clone()).collect();
    assert!(consecutive(&numbers(&lines)), "{lines:?}");
    // Line by line as printed, 100 ms apart: not one batch.
    let spread = got[4].1 - got[0].1;
    assert!(spread >= Duration::from_millis(300), "{spread:?}");
    e.ok(&["stop", "-t", "5", "counter"]);
    let (status, rest) = a.finish();
    assert_eq!(status, 7, "attach passes the exit code through");
    let all: Vec<String> = lines.into_iter().chain(rest).collect();
    assert!(consecutive(&numbers(&all)), "{all:?}");
}

#[test]
fn two_attached_clients_both_get_the_output() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "counter", IMAGE, "sh", "-c", COUNTER]);
    let mut a = Attached::spawn(&e, &["attach", "counter"]);
    let mut b = Attached::spawn(&e, &["attach", "--no-stdin", "counter"]);
    let first_a = a.line().0;
    let first_b = b.line().0;
    // Both keep receiving while attached together.
    std::thread::sleep(Duration::from_millis(500));
    e.ok(&["stop", "-t", "5", "counter"]);
    let (code_a, rest_a) = a.finish();
    let (code_b, rest_b) = b.finish();
    assert_eq!((code_a, code_b), (7, 7));
    let seen_a = numbers(&[vec![first_a], rest_a].concat());
    let seen_b = numbers(&[vec![first_b], rest_b].concat());
    assert!(
        consecutive(&seen_a) && consecutive(&seen_b),
        "{seen_a:?} {seen_b:?}"
    );
    assert!(
        seen_a.len() >= 5 && seen_b.len() >= 5,
        "{seen_a:?} {seen_b:?}"
    );
    // Up to the same last line: neither missed the end.
    assert_eq!(seen_a.last(), seen_b.last());
}

#[test]
fn signals_to_attach_reach_the_container() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 9' TERM; \
         while true; do echo tick; sleep 0.1; done",
    ]);
    let mut a = Attached::spawn(&e, &["attach", "trap"]);
    // Once it prints, it is attached (and has its signals blocked for the proxy).
    assert_eq!(a.line().0, "tick");
    let pid = a.child.id().to_string();
    for sig in ["-USR1", "-TERM"] {
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, rest) = a.finish();
    assert_eq!(status, 9);
    assert!(rest.contains(&"got USR1".to_owned()), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("got TERM"));
}

#[test]
fn attach_with_a_terminal_detaches_with_the_keys() {
    let e = Engine::new();
    let arca = e.env.arca_shell();
    e.ok(&["run", "-d", "-it", "--name", "shell", IMAGE, "sh"]);
    // Our terminal's size reaches the container's pty; ctrl-p ctrl-q leaves it running.
    let (out, status) = through_pty(
        &e,
        &format!("stty rows 33 cols 101; {arca} attach shell"),
        &["echo $((6*7)); stty size; tty\n", "\x10\x11"],
    );
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("42"), "{out}");
    assert!(out.contains("33 101"), "{out}");
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert_eq!(e.inspect("shell")["State"]["Running"], true);
    assert!(e.ok(&["ps"]).contains("shell"));
    // Other keys, and the same shell: what was typed before is still there.
    let (out, status) = through_pty(
        &e,
        &format!("{arca} attach --detach-keys ctrl-a,x shell"),
        &["echo again-$((2+3))\n", "\x01x"],
    );
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("again-5"), "{out}");
    assert_eq!(e.inspect("shell")["State"]["Running"], true);
    // Leaving the shell ends the container, and attach with its code.
    let (out, status) = through_pty(&e, &format!("{arca} attach shell"), &["exit 5\n"]);
    assert_eq!(status, 5, "{out}");
    let state = &e.inspect("shell")["State"];
    assert_eq!(
        (state["Running"].as_bool(), state["ExitCode"].as_i64()),
        (Some(false), Some(5))
    );
}

#[test]
fn attach_to_a_stopped_container_is_refused() {
    let e = Engine::new();
    e.ok(&["create", "--name", "never", IMAGE, "true"]);
    e.ok(&["run", "-d", "--name", "done", IMAGE, "true"]);
    assert_eq!(e.ok(&["wait", "done"]).trim(), "0");
    for name in ["never", "done"] {
        let o = e.arca(&["attach", name]);
        assert_eq!(code(&o), 125);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("You cannot attach to a stopped container, start it first"),
            "{err}"
        );
    }
    assert_eq!(code(&e.arca(&["attach", "no-such-container"])), 125);
}

#[test]
fn a_client_that_stops_reading_does_not_stall_the_container() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        IMAGE,
        "sh",
        "-c",
        "sleep 1; seq 1 300000; echo done",
    ]);
    let mut a = Attached::spawn(&e, &["attach", "chatty"]);
    // Connected within the second the container waits, then frozen: it reads nothing more.
    std::thread::sleep(Duration::from_millis(500));
    let pid = a.child.id().to_string();
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    // The monitor dropped it rather than wait: the container ran to its end, all logged.
    e.eventually("the container to end", || {
        e.inspect("chatty")["State"]["Running"] == false
    });
    let logs = e.ok(&["logs", "chatty"]);
    assert_eq!(logs.lines().count(), 300_001);
    assert_eq!(logs.lines().last(), Some("done"));
    signal("-CONT");
    // It says it lost output (125), not the container's 0.
    let (status, seen) = a.finish();
    assert_eq!(status, 125);
    assert!(seen.len() < 300_001, "{}", seen.len());
}
