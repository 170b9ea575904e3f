//! Container ids and names, as Docker makes them: a 64-hex-digit random id (shown as its
//! first 12) and, unless `--name` gives one, an `adjective_name` pair. The records' `UNIQUE`
//! name column decides a race; a generated name that is taken is simply drawn again.

use std::io::Read;

const ADJECTIVES: &[&str] = &[
    "agile", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
    "happy", "keen", "kind", "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp",
    "steady", "swift", "tidy", "vivid", "wise", "witty", "zesty", "jolly", "noble", "sunny",
];

const NAMES: &[&str] = &[
    "babbage",
    "bell",
    "borg",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "fermat",
    "feynman",
    "gauss",
    "goodall",
    "hamilton",
    "hopper",
    "hypatia",
    "kepler",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "maxwell",
    "mirzakhani",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
];

/// `n` random bytes from the kernel.
fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // /dev/urandom never blocks once the pool is seeded (always, by the time containers run).
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b
}

/// A new container id: 32 random bytes in hex.
pub fn new_id() -> String {
    random::<32>().iter().map(|b| format!("{b:02x}")).collect()
}

/// A random `adjective_name`.
pub fn random_name() -> String {
    let r = random::<2>();
    format!(
        "{}_{}",
        ADJECTIVES[usize::from(r[0]) % ADJECTIVES.len()],
        NAMES[usize::from(r[1]) % NAMES.len()]
    )
}

/// Docker's rule for `--name`: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
        assert!(valid_name(&random_name()));
        assert!(valid_name("web-1.a_b"));
        for bad in ["", "-x", "a/b", "a b", "_x"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
