//! The content store: only verified content ever becomes visible, and failures leave nothing.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use arca_image::digest::Digest;
use arca_image::store::{Store, StoreError};

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_nothing_left(root: &Path) {
    assert_eq!(entries(&root.join("blobs/sha256")), Vec::<String>::new());
    assert_eq!(entries(&root.join("ingest")), Vec::<String>::new());
}

fn data() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 253) as u8).collect()
}

#[test]
fn open_creates_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("s")).unwrap();
    assert!(store.root().join("blobs/sha256").is_dir());
    assert!(store.root().join("ingest").is_dir());
    Store::open(tmp.path().join("s")).unwrap();
}

#[test]
fn ingests_good_data() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = data();
    let d = Digest::sha256_of(&data);
    let path = store.ingest(&d, data.len() as u64, &data[..]).unwrap();
    assert_eq!(path, store.path(&d));
    assert_eq!(path, tmp.path().join("blobs/sha256").join(d.hex()));
    assert!(store.has(&d));
    let mut back = Vec::new();
    store.open_blob(&d).unwrap().read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    store.verify_blob(&d).unwrap();
    assert_eq!(store.list().unwrap(), vec![d.clone()]);
    assert_eq!(entries(&tmp.path().join("ingest")), Vec::<String>::new());

    // Present already: the reader is not even consumed.
    struct Explode;
    impl Read for Explode {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("must not be read")
        }
    }
    store.ingest(&d, data.len() as u64, Explode).unwrap();

    assert!(store.delete(&d).unwrap());
    assert!(!store.delete(&d).unwrap());
    assert!(matches!(
        store.open_blob(&d),
        Err(StoreError::NotFound { .. })
    ));
    assert_nothing_left(tmp.path());
}

#[test]
fn wrong_size_short_and_long_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = data();
    let d = Digest::sha256_of(&data);
    let n = data.len() as u64;

    let e = store.ingest(&d, n + 1, &data[..]).unwrap_err().to_string();
    assert!(
        e.contains(&d.to_string()) && e.contains(&format!("expected {} bytes, got {n}", n + 1)),
        "{e}"
    );
    assert_nothing_left(tmp.path());

    let e = store.ingest(&d, n - 1, &data[..]).unwrap_err().to_string();
    assert!(
        e.contains(&format!("more than the declared {}", n - 1)),
        "{e}"
    );
    assert_nothing_left(tmp.path());
}

#[test]
fn overlong_source_is_refused_without_reading_it_all() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let d = Digest::sha256_of(b"abc");
    // An endless source: the ingest must stop right after the declared size.
    let e = store
        .ingest(&d, 3, io::repeat(b'a'))
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than the declared 3"), "{e}");
    assert_nothing_left(tmp.path());
}

#[test]
fn wrong_digest_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = data();
    let claimed = Digest::sha256_of(b"something else");
    let e = store
        .ingest(&claimed, data.len() as u64, &data[..])
        .unwrap_err()
        .to_string();
    assert!(e.contains(&claimed.to_string()), "{e}");
    assert!(e.contains(&Digest::sha256_of(&data).to_string()), "{e}");
    assert!(!store.has(&claimed));
    assert_nothing_left(tmp.path());
}

#[test]
fn failing_reader_leaves_nothing() {
    struct Fails(usize);
    impl Read for Fails {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("network went away"));
            }
            self.0 -= 1;
            buf[0] = 1;
            Ok(1)
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let d = Digest::sha256_of(&[1; 100]);
    let e = store.ingest(&d, 100, Fails(10)).unwrap_err().to_string();
    assert!(e.contains("network went away"), "{e}");
    assert_nothing_left(tmp.path());
}

#[test]
fn write_names_the_blob_by_its_content() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = data();
    let (digest, size) = store.write(data.as_slice()).unwrap();
    assert_eq!(digest, Digest::sha256_of(&data));
    assert_eq!(size, data.len() as u64);
    assert_eq!(fs::read(store.path(&digest)).unwrap(), data);
    // Again: the same blob, and no ingest file left behind.
    assert_eq!(
        store.write(data.as_slice()).unwrap(),
        (digest.clone(), size)
    );
    assert_eq!(entries(&tmp.path().join("ingest")), Vec::<String>::new());
    assert_eq!(entries(&tmp.path().join("blobs/sha256")), [digest.hex()]);

    struct Fails;
    impl Read for Fails {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk went away"))
        }
    }
    let other = tempfile::tempdir().unwrap();
    let store = Store::open(other.path()).unwrap();
    let e = store.write(Fails).unwrap_err().to_string();
    assert!(e.contains("disk went away"), "{e}");
    assert_nothing_left(other.path());
}

#[test]
fn concurrent_ingest_of_one_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = Arc::new(data());
    let d = Digest::sha256_of(&data);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, data, d, barrier) =
                (store.clone(), data.clone(), d.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Small reads, so the ingests overlap rather than finish one by one.
                struct Slow<'a>(&'a [u8]);
                impl Read for Slow<'_> {
                    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                        let n = self.0.len().min(buf.len()).min(4096);
                        buf[..n].copy_from_slice(&self.0[..n]);
                        self.0 = &self.0[n..];
                        Ok(n)
                    }
                }
                store.ingest(&d, data.len() as u64, Slow(&data)).unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), store.path(&d));
    }
    assert_eq!(store.list().unwrap(), vec![d.clone()]);
    assert_eq!(entries(&tmp.path().join("ingest")), Vec::<String>::new());
    store.verify_blob(&d).unwrap();
}

#[test]
fn corrupted_blob_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let data = data();
    let d = Digest::sha256_of(&data);
    let path = store.ingest(&d, data.len() as u64, &data[..]).unwrap();
    let mut bad = data.clone();
    bad[1000] ^= 1;
    fs::write(&path, &bad).unwrap();
    let e = store.verify_blob(&d).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains(&d.to_string()) && e.contains(&Digest::sha256_of(&bad).to_string()),
        "{e}"
    );
}

#[test]
fn cleanup_removes_stray_ingest_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    // What a crash mid-ingest leaves behind.
    fs::write(tmp.path().join("ingest/crashed.1234"), b"partial").unwrap();
    assert_eq!(store.cleanup_ingest(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(store.cleanup_ingest(Duration::ZERO).unwrap(), 1);
    assert_nothing_left(tmp.path());
}

#[test]
fn list_skips_stray_names() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    fs::write(tmp.path().join("blobs/sha256/not-a-digest"), b"x").unwrap();
    let d = Digest::sha256_of(b"x");
    store.ingest(&d, 1, &b"x"[..]).unwrap();
    assert_eq!(store.list().unwrap(), vec![d]);
}
