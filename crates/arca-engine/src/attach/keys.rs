//! Docker's detach keys: a sequence typed into an attached terminal that leaves the container
//! running and ends the attach (default ctrl-p, ctrl-q). Spotted on the attaching side, so the
//! monitor never has to know about them.

/// Docker's default, `ctrl-p,ctrl-q`.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// `--detach-keys` as Docker spells it: comma-separated keys, each a single character or
/// `ctrl-<c>` with `c` in `a-z @ [ \ ] ^ _`. An empty string turns detaching off.
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|key| {
            let lower = key.to_ascii_lowercase();
            match (lower.strip_prefix("ctrl-"), key.as_bytes()) {
                (Some(c), _) if c.len() == 1 => {
                    let c = c.as_bytes()[0];
                    match c {
                        b'a'..=b'z' => Ok(c - b'a' + 1),
                        b'@' => Ok(0),
                        b'[' => Ok(27),
                        b'\\' => Ok(28),
                        b']' => Ok(29),
                        b'^' => Ok(30),
                        b'_' => Ok(31),
                        _ => Err(format!("--detach-keys: unknown character in {key:?}")),
                    }
                }
                (None, [b]) => Ok(*b),
                _ => Err(format!(
                    "--detach-keys: {key:?} is not a key (a character or ctrl-<c>)"
                )),
            }
        })
        .collect()
}

/// Watches typed input for the detach sequence. Bytes that could start it are held back
/// until the sequence completes (they are dropped: they were the user's "detach") or breaks
/// (they are passed on, as typed), as Docker's escape proxy does.
#[derive(Debug)]
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, matched: 0 }
    }

    /// The bytes of `input` to pass on, and whether the sequence is now complete (then
    /// anything typed after it is dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_spelling() {
        assert_eq!(parse(DEFAULT).unwrap(), [0x10, 0x11]);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse("a,CTRL-A").unwrap(), [b'a', 1]);
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
        assert!(parse("ctrl-1").is_err());
        assert!(parse("ab").is_err());
        assert!(parse("a,,b").is_err());
    }

    #[test]
    fn the_sequence_detaches_and_is_not_passed_on() {
        let mut m = Matcher::new(parse(DEFAULT).unwrap());
        assert_eq!(m.feed(b"ls\n"), (b"ls\n".to_vec(), false));
        assert_eq!(m.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(m.feed(b"\x11after"), (Vec::new(), true));
    }

    #[test]
    fn a_broken_sequence_is_passed_on_as_typed() {
        let mut m = Matcher::new(parse(DEFAULT).unwrap());
        assert_eq!(m.feed(b"\x10"), (Vec::new(), false));
        assert_eq!(m.feed(b"q"), (b"\x10q".to_vec(), false));
        // A second ctrl-p restarts the sequence; the first one goes through.
        assert_eq!(m.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
        let mut off = Matcher::new(Vec::new());
        assert_eq!(off.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }

    #[test]
    fn a_single_key() {
        let mut m = Matcher::new(parse("ctrl-x").unwrap());
        assert_eq!(m.feed(b"ab\x18cd"), (b"ab".to_vec(), true));
    }
}
