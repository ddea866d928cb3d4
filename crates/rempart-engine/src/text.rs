//! Pure helpers for streaming generation: UTF-8 reassembly across tokens,
//! stop-sequence matching that never emits text a stop sequence could still
//! swallow, and L2 normalisation. No llama.cpp here, so these are tested in
//! every build.

/// Turns a stream of byte pieces (tokens) into valid UTF-8 text.
///
/// A token may end in the middle of a multibyte character (byte-level BPE):
/// the incomplete tail is kept until the next piece completes it. Bytes that
/// can never form valid UTF-8 become U+FFFD.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Add bytes; returns the text that is now complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // The prefix is valid by construction.
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete sequence at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Invalid bytes: replace them and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// End of stream: whatever is left cannot be completed.
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// Outcome of feeding text to a [`StopMatcher`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Text that is safe to emit now.
    pub(crate) emit: String,
    /// A stop sequence was found; generation must end (the stop sequence
    /// itself and anything after it are dropped).
    pub(crate) stopped: bool,
}

/// Finds stop sequences in streamed text. Text that could be the start of a
/// stop sequence is held back until it is known not to be one, so what is
/// emitted never contains (part of) a stop sequence.
#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    pub(crate) fn feed(&mut self, text: &str) -> Fed {
        self.held.push_str(text);
        if self.stops.is_empty() {
            return Fed {
                emit: std::mem::take(&mut self.held),
                stopped: false,
            };
        }
        // Earliest complete stop sequence.
        if let Some(pos) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let emit = self.held[..pos].to_owned();
            self.held.clear();
            return Fed {
                emit,
                stopped: true,
            };
        }
        // Hold back the longest suffix that is a proper prefix of a stop.
        let mut keep_from = self.held.len();
        for (i, _) in self.held.char_indices() {
            let tail = &self.held[i..];
            if self.stops.iter().any(|s| s.starts_with(tail)) {
                keep_from = i;
                break;
            }
        }
        let emit = self.held[..keep_from].to_owned();
        self.held.drain(..keep_from);
        Fed {
            emit,
            stopped: false,
        }
    }

    /// End of generation without a stop: release what was held back.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Scale a vector to unit L2 norm (left as is if it is all zeros).
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_pieces() {
        let s = "é€😀";
        let b = s.as_bytes();
        let mut u = Utf8Stream::default();
        let mut out = String::new();
        for byte in b {
            out.push_str(&u.push(std::slice::from_ref(byte)));
        }
        out.push_str(&u.finish());
        assert_eq!(out, s);
    }

    #[test]
    fn utf8_pieces_never_split_a_char() {
        let mut u = Utf8Stream::default();
        assert_eq!(u.push(b"a\xc3"), "a");
        assert_eq!(u.push(b"\xa9b"), "\u{e9}b");
    }

    #[test]
    fn utf8_invalid_bytes_replaced() {
        let mut u = Utf8Stream::default();
        assert_eq!(u.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(u.push(b"\xe2\x82"), "");
        assert_eq!(u.finish(), "\u{fffd}");
    }

    #[test]
    fn stop_found_across_pieces() {
        let mut m = StopMatcher::new(&["\n\n".to_owned(), "END".to_owned()]);
        assert_eq!(
            m.feed("Hello E"),
            Fed {
                emit: "Hello ".into(),
                stopped: false
            }
        );
        assert_eq!(
            m.feed("N"),
            Fed {
                emit: "".into(),
                stopped: false
            }
        );
        assert_eq!(
            m.feed("Dx"),
            Fed {
                emit: "".into(),
                stopped: true
            }
        );
    }

    #[test]
    fn held_text_released_when_not_a_stop() {
        let mut m = StopMatcher::new(&["END".to_owned()]);
        assert_eq!(m.feed("EN").emit, "");
        assert_eq!(m.feed("TRY").emit, "ENTRY");
        assert_eq!(m.feed("E").emit, "");
        assert_eq!(m.finish(), "E");
    }

    #[test]
    fn earliest_stop_wins() {
        let mut m = StopMatcher::new(&["b".to_owned(), "a".to_owned()]);
        assert_eq!(
            m.feed("xaby"),
            Fed {
                emit: "x".into(),
                stopped: true
            }
        );
    }

    #[test]
    fn no_stops_passes_through() {
        let mut m = StopMatcher::new(&[String::new()]);
        assert_eq!(
            m.feed("abc"),
            Fed {
                emit: "abc".into(),
                stopped: false
            }
        );
    }

    #[test]
    fn normalize() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = vec![0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }
}
