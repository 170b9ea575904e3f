//! Pulls through faults: a fault-injecting proxy (tests/common/proxy.rs) in front of a real
//! registry cuts a layer download short, answers 503 or 429, or corrupts a body; a registry
//! with htpasswd refuses anonymous pulls; registries.conf sends pulls to mirrors (working or
//! down) or blocks them. Each test asserts what the client asked for, not only the outcome.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arca_image::layout::{Image, Layout};
use arca_image::reference::Reference;
use arca_image::registry::{
    pull, pull_unpack, PullError, PullOptions, RegistriesConf, RetryPolicy,
};
use arca_image::store::Store;
use common::proxy::{Faults, Proxy, StatusFault};
use common::registry::Registry;
use common::{amd64, layout_with_diff_id, Layer};

/// Layer bytes: a file of ~1 MiB that gzip cannot shrink, so a body can be cut well inside.
const LAYER_FILE: usize = 1 << 20;
/// Where the proxy cuts the first layer download.
const CUT_AT: usize = 300_000;

/// Fast retries: the tests measure behaviour, not patience.
fn opts() -> PullOptions {
    PullOptions {
        platform: amd64(),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        },
        ..PullOptions::default()
    }
}

/// A registry holding `test/img:t` (one ~1 MiB layer), the image as its layout has it, and
/// the scratch directory (store, configuration files).
struct Fixture {
    tmp: tempfile::TempDir,
    reg: Registry,
    want: Image,
    /// The layer's one file, `blob.bin`.
    data: Vec<u8>,
}

impl Fixture {
    fn new(auth: Option<(&str, &str)>) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let layout = tmp.path().join("L");
        // xorshift: incompressible, and the same every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..LAYER_FILE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        let mut tar = Layer::new();
        tar.file("blob.bin", &data, 0o644);
        layout_with_diff_id(&layout, &tar.finish(), None);
        let reg = Registry::start(auth);
        let creds = auth.map(|(u, p)| format!("{u}:{p}"));
        reg.push(&layout, "t", "test/img:t", creds.as_deref());
        let want = Layout::open(&layout)
            .unwrap()
            .image(Some("t"), &amd64())
            .unwrap();
        assert!(want.layers[0].size > CUT_AT as u64 * 2);
        Fixture {
            tmp,
            reg,
            want,
            data,
        }
    }

    fn store(&self) -> Store {
        Store::open(self.tmp.path().join("store")).unwrap()
    }

    /// [`opts`] with a registries.conf of `text`, and the file's path.
    fn conf(&self, text: &str) -> (PullOptions, PathBuf) {
        let path = self.tmp.path().join("registries.conf");
        fs::write(&path, text).unwrap();
        let registries = RegistriesConf::load(&path).unwrap();
        (
            PullOptions {
                registries,
                ..opts()
            },
            path,
        )
    }

    /// A proxy with `faults` in front of the registry.
    fn proxy(&self, faults: Faults) -> Proxy {
        Proxy::start(self.reg.port, faults)
    }

    /// Pulls `HOST/test/img:t` with `opts` into the store: the outcome, and the store.
    fn pull(&self, host: &str, opts: &PullOptions) -> (Result<Image, PullError>, Store) {
        let store = self.store();
        (pull(&r(host), &store, opts), store)
    }

    /// [`Fixture::pull`], which must bring the whole image.
    fn pulled(&self, host: &str, opts: &PullOptions) -> Store {
        let (got, store) = self.pull(host, opts);
        self.assert_pulled(&got.unwrap(), &store);
        store
    }

    /// Pulls through a new proxy with `faults`: the outcome, the proxy (what it saw) and the
    /// store.
    fn pull_through(&self, faults: Faults) -> (Result<Image, PullError>, Proxy, Store) {
        let proxy = self.proxy(faults);
        let (got, store) = self.pull(&proxy.host(), &opts());
        (got, proxy, store)
    }

    /// [`Fixture::pull_through`], which must bring the whole image.
    fn pulled_through(&self, faults: Faults) -> (Proxy, Store) {
        let proxy = self.proxy(faults);
        let store = self.pulled(&proxy.host(), &opts());
        (proxy, store)
    }

    fn layer_path(&self) -> String {
        format!("/blobs/{}", self.want.layers[0].digest)
    }

    /// The whole image is in `store`, verified, and no ingest file was left behind.
    fn assert_pulled(&self, got: &Image, store: &Store) {
        assert_eq!(got.manifest_digest, self.want.manifest_digest);
        assert_eq!(got.layers, self.want.layers);
        for d in [&got.manifest_digest, &got.config_digest]
            .into_iter()
            .chain(got.layers.iter().map(|l| &l.digest))
        {
            store.verify_blob(d).unwrap();
        }
        assert_no_ingest(store);
    }
}

fn assert_no_ingest(store: &Store) {
    let left: Vec<_> = fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `got` failed as `is` expects, with a message holding each of `needles`; the error.
fn assert_fails(
    got: Result<Image, PullError>,
    is: fn(&PullError) -> bool,
    needles: &[&str],
) -> PullError {
    let err = got.unwrap_err();
    assert!(is(&err), "{err:?}");
    let msg = err.to_string();
    for needle in needles {
        assert!(msg.contains(needle), "{msg}");
    }
    err
}

fn r(host: &str) -> Reference {
    Reference::parse(&format!("{host}/test/img:t")).unwrap()
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Blob bodies cut after `at` bytes, the first `times` times.
fn cut(at: usize, times: usize) -> Faults {
    Faults {
        cut_blob: Some((at, times)),
        ..Faults::default()
    }
}

/// `status` (with `Retry-After: retry_after` if set) for the first `times` requests whose path
/// contains `path`.
fn status(path: &str, status: u16, times: usize, retry_after: Option<u64>) -> StatusFault {
    StatusFault {
        path: path.to_owned(),
        status,
        times,
        retry_after,
    }
}

/// Only the status faults `status`.
fn statuses(status: Vec<StatusFault>) -> Faults {
    Faults {
        status,
        ..Faults::default()
    }
}

/// A mirror entry for `registry` in registries.conf.
fn mirror_conf(registry: &str, mirror: &str) -> String {
    format!(
        "[[registry]]\nlocation = \"{registry}\"\n[[registry.mirror]]\nlocation = \"{mirror}\"\n"
    )
}

#[test]
fn interrupted_layer_download_resumes_with_a_range_request() {
    let f = Fixture::new(None);
    let (proxy, _) = f.pulled_through(cut(CUT_AT, 1));
    let gets = proxy.requests(&f.layer_path());
    let ranges: Vec<_> = gets.iter().map(|s| s.range.as_deref()).collect();
    let resumed = format!("bytes={CUT_AT}-");
    assert_eq!(ranges, [None, Some(resumed.as_str())], "{gets:?}");
    // The registry sent the layer once in all: the cut part and the rest.
    assert_eq!(f.reg.blob_gets(f.want.layers[0].digest.hex()), 2);
}

#[test]
fn resumed_download_streams_on_to_the_unpacker() {
    let f = Fixture::new(None);
    let proxy = f.proxy(cut(CUT_AT, 1));
    let store = f.store();
    let dest = f.tmp.path().join("rootfs");
    let (got, _) = pull_unpack(&r(&proxy.host()), &store, &dest, &opts(), false).unwrap();
    f.assert_pulled(&got, &store);
    assert!(fs::read(dest.join("blob.bin")).unwrap() == f.data);
    let ranges: Vec<_> = proxy
        .requests(&f.layer_path())
        .into_iter()
        .map(|s| s.range)
        .collect();
    assert_eq!(ranges, [None, Some(format!("bytes={CUT_AT}-"))]);
}

#[test]
fn registry_that_ignores_range_gets_its_known_start_skipped() {
    let f = Fixture::new(None);
    let (proxy, _) = f.pulled_through(Faults {
        strip_range: true,
        ..cut(CUT_AT, 1)
    });
    let gets = proxy.requests(&f.layer_path());
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[1].range.is_some(), "asked for a range: {gets:?}");
}

#[test]
fn download_that_keeps_breaking_gives_up_and_keeps_nothing() {
    let f = Fixture::new(None);
    // Headers only, every time: no progress, so the attempts run out.
    let (got, proxy, store) = f.pull_through(cut(0, usize::MAX));
    assert_fails(
        got,
        |e| matches!(e, PullError::Interrupted { .. }),
        &["after 0 of"],
    );
    // The config is a blob too: it is the first to break.
    assert_eq!(proxy.requests("/blobs/").len(), 4, "{:?}", proxy.seen());
    assert!(!store.has(&f.want.manifest_digest));
    assert_no_ingest(&store);
}

#[test]
fn service_unavailable_is_retried() {
    let f = Fixture::new(None);
    let layer = f.layer_path();
    let (proxy, _) = f.pulled_through(statuses(vec![
        status("/manifests/", 503, 1, None),
        status(&layer, 503, 2, None),
    ]));
    let injected = |needle: &str| -> Vec<Option<u16>> {
        proxy.requests(needle).iter().map(|s| s.injected).collect()
    };
    assert_eq!(injected("/manifests/t"), [Some(503), None]);
    assert_eq!(injected(&layer), [Some(503), Some(503), None]);
}

#[test]
fn too_many_requests_waits_for_retry_after() {
    let f = Fixture::new(None);
    let proxy = f.proxy(statuses(vec![status("/manifests/", 429, 1, Some(1))]));
    let started = Instant::now();
    let (got, store) = f.pull(&proxy.host(), &opts());
    // The backoff alone would be 10 ms: the wait was the registry's second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    f.assert_pulled(&got.unwrap(), &store);
    assert_eq!(proxy.requests("/manifests/t").len(), 2);
}

#[test]
fn too_many_requests_for_good_is_a_clear_429_after_the_retries() {
    let f = Fixture::new(None);
    let for_good =
        |retry_after| statuses(vec![status("/manifests/", 429, usize::MAX, retry_after)]);
    let (got, proxy, _) = f.pull_through(for_good(Some(0)));
    assert_fails(
        got,
        |e| matches!(e, PullError::TooManyRequests { .. }),
        &["too many requests (429)", &r(&proxy.host()).to_string()],
    );
    assert_eq!(
        proxy.requests("/manifests/t").len(),
        4,
        "the default 4 attempts"
    );

    // A Retry-After longer than the policy waits for fails at once.
    let (got, proxy, _) = f.pull_through(for_good(Some(3600)));
    assert_fails(got, |_| true, &["try again in 3600 s"]);
    assert_eq!(proxy.requests("/manifests/t").len(), 1);
}

#[test]
fn not_found_and_wrong_bytes_are_never_retried() {
    let f = Fixture::new(None);
    let (got, proxy, store) = f.pull_through(Faults {
        corrupt_blob: true,
        ..statuses(vec![status("/manifests/", 404, 1, None)])
    });
    let reference = r(&proxy.host());
    assert_fails(
        got,
        |e| matches!(e, PullError::NotFound { .. }),
        &["manifest for tag t not found (404)", &reference.to_string()],
    );
    assert_eq!(proxy.requests("/manifests/").len(), 1);

    // The 404 is spent: now the layer body comes back with one bit flipped.
    let layer = &f.want.layers[0].digest;
    assert_fails(
        pull(&reference, &store, &opts()),
        |e| matches!(e, PullError::DigestMismatch { .. }),
        &[&format!(
            "registry returned content for {layer} that hashes to sha256:"
        )],
    );
    assert_eq!(proxy.requests(&f.layer_path()).len(), 1, "not retried");
    assert!(!store.has(layer));
    assert_no_ingest(&store);
}

#[test]
fn anonymous_pull_from_an_htpasswd_registry_is_a_clear_401() {
    let f = Fixture::new(Some(("arca", "s3cret")));
    let (got, proxy, _) = f.pull_through(Faults::default());
    let registry = proxy.host();
    assert_fails(
        got,
        |e| matches!(e, PullError::Unauthorized { .. }),
        &[
            &format!("authentication required (401) by {registry}"),
            &format!("arca login {registry}"),
        ],
    );
    assert!(
        proxy.requests("/manifests/").len() <= 1,
        "a 401 is not retried: {:?}",
        proxy.seen()
    );
}

#[test]
fn mirror_that_is_down_falls_back_to_the_registry() {
    let f = Fixture::new(None);
    let dead = format!("127.0.0.1:{}", dead_port());
    let (opts, _) = f.conf(&mirror_conf(&f.reg.host(), &dead));
    f.pulled(&f.reg.host(), &opts);
    assert_eq!(f.reg.blob_gets(f.want.layers[0].digest.hex()), 1);
}

#[test]
fn credentials_are_never_sent_to_a_mirror() {
    let f = Fixture::new(Some(("arca", "s3cret")));
    // The mirror is the same htpasswd registry behind the proxy: without the credentials,
    // which are the registry's, it refuses, and the pull falls back to the registry.
    let mirror = f.proxy(Faults::default());
    let (opts, _) = f.conf(&mirror_conf(&f.reg.host(), &mirror.host()));
    let opts = PullOptions {
        auth: Some(("arca".into(), "s3cret".into())),
        ..opts
    };
    f.pulled(&f.reg.host(), &opts);
    let seen = mirror.seen();
    assert!(!seen.is_empty(), "the mirror was tried");
    assert!(seen.iter().all(|s| !s.authorization), "{seen:?}");
}

#[test]
fn working_mirror_serves_the_pull() {
    let f = Fixture::new(None);
    let mirror = f.proxy(Faults::default());
    // The registry as named does not exist: only the mirror can serve this pull.
    let (opts, _) = f.conf(&format!(
        "unqualified-search-registries = [\"docker.io\"]\n{}",
        mirror_conf("registry.invalid", &mirror.host())
    ));
    f.pulled("registry.invalid", &opts);
    assert_eq!(mirror.requests("/v2/test/img/manifests/t").len(), 1);
    assert_eq!(mirror.requests(&f.layer_path()).len(), 1);
}

#[test]
fn blocked_registry_is_refused_before_any_request() {
    let f = Fixture::new(None);
    let proxy = f.proxy(Faults::default());
    let (opts, path) = f.conf(&format!(
        "[[registry]]\nlocation = \"{}\"\nblocked = true\n",
        proxy.host()
    ));
    let (got, _) = f.pull(&proxy.host(), &opts);
    assert_fails(
        got,
        |e| matches!(e, PullError::Blocked { .. }),
        &[&format!(
            "registry {} is blocked in {}",
            proxy.host(),
            path.display()
        )],
    );
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[test]
fn concurrent_pulls_download_and_unpack_each_layer_once() {
    let f = Fixture::new(None);
    let proxy = f.proxy(Faults::default());
    let store = f.store();
    let snaps = arca_image::snapshot::Snapshots::open(store.root(), None).unwrap();
    let reference = r(&proxy.host());
    let pulled: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    arca_image::registry::pull_snapshots(&reference, &store, &snaps, &opts(), None)
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in &pulled {
        f.assert_pulled(&p.image, &store);
        assert_eq!(p.chain, pulled[0].chain);
    }
    // The others waited for the first download and found the blob stored.
    assert_eq!(proxy.requests(&f.layer_path()).len(), 1);
    let unpacked = pulled.iter().filter(|p| p.layers[0].is_some()).count();
    assert_eq!(unpacked, 1, "the layer was unpacked {unpacked} times");
    let file = snaps.path(&pulled[0].chain[0]).join("blob.bin");
    assert_eq!(fs::read(file).unwrap(), f.data);
}
