//! Several files read as one export: every part must have the first part's header, which is
//! kept once; a part that does not end its last line gets the line end it lacks, so no two
//! lines of different parts run together. A feed that ends before the parts' bytes all came
//! is an error, never a shorter input.

use std::io::{self, Read};

use bytes::Bytes;

/// What the reader is fed: the start of a part (its index), or its next bytes in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Part(usize),
    Bytes(Bytes),
}

type Feed = Box<dyn FnMut() -> Option<Result<Piece, String>> + Send>;

enum Mode {
    /// The first part's header: passed on, and kept to compare the others' with.
    Capture,
    Pass,
    /// A later part's header: collected, compared, dropped.
    Skip {
        part: usize,
        seen: Vec<u8>,
    },
}

pub struct PartsReader {
    feed: Feed,
    current: Bytes,
    mode: Mode,
    header: Vec<u8>,
    last_byte: Option<u8>,
    owe_line_end: bool,
    expected: u64,
    received: u64,
}

impl PartsReader {
    /// Reads what `feed` delivers, which must add up to `expected` bytes.
    pub fn new(
        feed: impl FnMut() -> Option<Result<Piece, String>> + Send + 'static,
        expected: u64,
    ) -> Self {
        Self {
            expected,
            received: 0,
            feed: Box::new(feed),
            current: Bytes::new(),
            mode: Mode::Pass,
            header: Vec::new(),
            last_byte: None,
            owe_line_end: false,
        }
    }

    fn check_header(&self, part: usize, seen: &[u8]) -> io::Result<()> {
        let line = |bytes: &[u8]| {
            let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
            bytes.strip_suffix(b"\r").unwrap_or(bytes).to_vec()
        };
        if line(seen) == line(&self.header) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "file {} of the run has another header than the first: {:?}",
                    part + 1,
                    String::from_utf8_lossy(&line(seen))
                ),
            ))
        }
    }
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.owe_line_end {
                self.owe_line_end = false;
                self.last_byte = Some(b'\n');
                buf[0] = b'\n';
                return Ok(1);
            }
            if !self.current.is_empty() {
                if let Mode::Skip { part, seen } = &mut self.mode {
                    match memchr(b'\n', &self.current) {
                        Some(end) => {
                            seen.extend_from_slice(&self.current[..=end]);
                            self.current = self.current.slice(end + 1..);
                            let (part, seen) = (*part, std::mem::take(seen));
                            self.check_header(part, &seen)?;
                            self.mode = Mode::Pass;
                        }
                        None => {
                            seen.extend_from_slice(&self.current);
                            self.current = Bytes::new();
                        }
                    }
                    continue;
                }
                let n = buf.len().min(self.current.len());
                let taken = &self.current[..n];
                if matches!(self.mode, Mode::Capture) {
                    match memchr(b'\n', taken) {
                        Some(end) => {
                            self.header.extend_from_slice(&taken[..=end]);
                            self.mode = Mode::Pass;
                        }
                        None => self.header.extend_from_slice(taken),
                    }
                }
                buf[..n].copy_from_slice(taken);
                self.last_byte = taken.last().copied();
                self.current = self.current.slice(n..);
                return Ok(n);
            }
            match (self.feed)() {
                Some(Ok(Piece::Bytes(bytes))) => {
                    self.received += bytes.len() as u64;
                    self.current = bytes;
                }
                Some(Ok(Piece::Part(0))) => self.mode = Mode::Capture,
                Some(Ok(Piece::Part(part))) => {
                    if let Mode::Skip { part, seen } = &self.mode {
                        // The part before held nothing but (part of) a header.
                        self.check_header(*part, seen)?;
                    }
                    self.owe_line_end = self.last_byte.is_some_and(|b| b != b'\n');
                    self.mode = Mode::Skip {
                        part,
                        seen: Vec::new(),
                    };
                }
                Some(Err(reason)) => return Err(io::Error::other(reason)),
                None => {
                    if self.received != self.expected {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "the input ended after {} of its {} bytes",
                                self.received, self.expected
                            ),
                        ));
                    }
                    if let Mode::Skip { part, seen } = &self.mode {
                        self.check_header(*part, seen)?;
                        self.mode = Mode::Pass;
                    }
                    return Ok(0);
                }
            }
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the parts as the reader joins them, each part fed in chunks of `chunk` bytes.
    fn joined(parts: &[&[u8]], chunk: usize) -> io::Result<Vec<u8>> {
        let mut pieces = Vec::new();
        let expected = parts.iter().map(|p| p.len() as u64).sum();
        for (index, part) in parts.iter().enumerate() {
            pieces.push(Ok(Piece::Part(index)));
            for bytes in part.chunks(chunk) {
                pieces.push(Ok(Piece::Bytes(Bytes::copy_from_slice(bytes))));
            }
        }
        let mut pieces = pieces.into_iter();
        let mut out = Vec::new();
        PartsReader::new(move || pieces.next(), expected).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn later_headers_are_dropped_whatever_the_chunking() {
        let parts: [&[u8]; 3] = [b"a\tb\n1\t2\n", b"a\tb\n3\t4\n", b"a\tb\r\n5\t6\n"];
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(
                joined(&parts, chunk).unwrap(),
                b"a\tb\n1\t2\n3\t4\n5\t6\n",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_part_without_a_final_line_end_gets_one() {
        assert_eq!(
            joined(&[b"h\n1", b"h\n2"], 1).unwrap(),
            b"h\n1\n2",
            "the last line of part one stays its own line"
        );
    }

    #[test]
    fn a_part_with_another_header_is_refused_naming_it() {
        let err = joined(&[b"a\tb\n1\t2\n", b"a\tb\n3\t4\n", b"x\ty\n5\t6\n"], 3).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().starts_with("file 3 of the run"), "{err}");
    }

    #[test]
    fn a_header_only_part_adds_nothing() {
        assert_eq!(
            joined(&[b"h\n1\n", b"h\n", b"h\n2\n"], 2).unwrap(),
            b"h\n1\n2\n"
        );
    }

    #[test]
    fn a_feed_that_stops_early_is_an_error_not_a_shorter_input() {
        let mut pieces = vec![
            Ok(Piece::Part(0)),
            Ok(Piece::Bytes(Bytes::from_static(b"h\n1\n"))),
        ]
        .into_iter();
        let mut out = Vec::new();
        let err = PartsReader::new(move || pieces.next(), 10)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(err.to_string(), "the input ended after 4 of its 10 bytes");
    }

    #[test]
    fn a_failed_range_is_an_error() {
        let mut pieces = vec![Ok(Piece::Part(0)), Err("bytes 0-9: timeout".to_owned())].into_iter();
        let mut out = Vec::new();
        let err = PartsReader::new(move || pieces.next(), 10)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.to_string(), "bytes 0-9: timeout");
    }

    #[test]
    fn one_part_passes_through_unchanged() {
        assert_eq!(joined(&[b"h\n1\n2"], 4).unwrap(), b"h\n1\n2");
    }
}
