//! A fault-injecting HTTP/1.1 proxy in front of a test registry: a thread with a listener on
//! 127.0.0.1:0 that forwards each request (one per connection, `Connection: close`) and, as
//! told, answers with an error status the first N times, cuts a blob body after K bytes,
//! corrupts a blob body, or drops the `Range` header. It records every request so tests can
//! assert what the client asked for. Stopped on drop (also when the test panics).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the proxy received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    /// The request carried an `Authorization` header.
    pub authorization: bool,
    /// The status the proxy answered with itself, if it did not forward.
    pub injected: Option<u16>,
}

/// Answer `status` (with `Retry-After: retry_after` if set) to the first `times` requests
/// whose path contains `path`.
#[derive(Clone, Debug)]
pub struct StatusFault {
    pub path: String,
    pub status: u16,
    pub times: usize,
    pub retry_after: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub status: Vec<StatusFault>,
    /// `(bytes, times)`: blob bodies (`/blobs/`) longer than `bytes` end after that many, the
    /// first `times` times.
    pub cut_blob: Option<(usize, usize)>,
    /// Forward blob requests without their `Range` header (a registry that ignores it).
    pub strip_range: bool,
    /// Flip a bit in the middle of the first blob body of at least 1 KiB.
    pub corrupt_blob: bool,
}

pub struct Proxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Forwards to `127.0.0.1:upstream`, with `faults`.
    pub fn start(upstream: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(Mutex::new(faults));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, faults) = (seen.clone(), faults.clone());
                    std::thread::spawn(move || {
                        let _ = serve(conn, upstream, &seen, &faults);
                    });
                }
            })
        };
        Proxy {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests whose path contains `needle`.
    pub fn requests(&self, needle: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.contains(needle))
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The request head: request line and headers, as lines without CRLF.
fn read_head(r: &mut impl BufRead) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn serve(
    client: TcpStream,
    upstream: u16,
    seen: &Mutex<Vec<Seen>>,
    faults: &Mutex<Faults>,
) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    let mut client = client;
    let path = head[0].split(' ').nth(1).unwrap_or_default().to_owned();
    let range = header(&head, "range").map(str::to_owned);
    let is_blob = path.contains("/blobs/");

    // Decide the fault under the lock, then act without it.
    let (injected, strip, corrupt) = {
        let mut f = faults.lock().unwrap();
        let injected = f
            .status
            .iter_mut()
            .find(|s| s.times > 0 && path.contains(&s.path))
            .map(|s| {
                s.times -= 1;
                (s.status, s.retry_after)
            });
        let corrupt = is_blob && injected.is_none() && f.corrupt_blob;
        (injected, f.strip_range && is_blob, corrupt)
    };
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
        authorization: header(&head, "authorization").is_some(),
        injected: injected.map(|(s, _)| s),
    });

    if let Some((status, retry_after)) = injected {
        let code = match status {
            429 => "TOOMANYREQUESTS",
            404 => "NAME_UNKNOWN",
            _ => "UNAVAILABLE",
        };
        let body = format!(r#"{{"errors":[{{"code":"{code}","message":"injected {status}"}}]}}"#);
        let retry = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
        write!(
            client,
            "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{retry}Connection: close\r\n\r\n{body}",
            body.len()
        )?;
        return client.shutdown(Shutdown::Both);
    }

    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut request = format!("{}\r\n", head[0]);
    for line in &head[1..] {
        let name = line.split(':').next().unwrap_or_default().trim();
        let drop = name.eq_ignore_ascii_case("connection")
            || (strip && name.eq_ignore_ascii_case("range"));
        if !drop {
            request.push_str(line);
            request.push_str("\r\n");
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    up.write_all(request.as_bytes())?;

    // The response head as is, then the body: cut, corrupted or whole.
    let mut up = BufReader::new(up);
    let response = read_head(&mut up)?;
    let mut out = String::new();
    for line in &response {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    client.write_all(out.as_bytes())?;
    let mut body = Vec::new();
    up.read_to_end(&mut body)?;
    if corrupt && body.len() >= 1024 {
        faults.lock().unwrap().corrupt_blob = false;
        let mid = body.len() / 2;
        body[mid] ^= 0x01;
    }
    // Only a body longer than the cut counts as cut (the config blob is small).
    let cut = match &mut faults.lock().unwrap().cut_blob {
        Some((k, times)) if is_blob && *times > 0 && body.len() > *k => {
            *times -= 1;
            Some(*k)
        }
        _ => None,
    };
    let end = cut.unwrap_or(body.len());
    client.write_all(&body[..end])?;
    client.flush()?;
    client.shutdown(Shutdown::Both)
}
