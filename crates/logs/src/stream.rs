//! Stream names: the `{path}` of `/api/v1/logs/{path}`, and a folder of the sink's keys.

/// A stream name is safe as a path segment and an S3 key segment.
pub fn is_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_short_ascii_words() {
        for good in ["app", "mobile-logs", "a_b", &"x".repeat(64)] {
            assert!(is_stream_name(good), "{good}");
        }
        for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(65)] {
            assert!(!is_stream_name(bad), "{bad}");
        }
    }
}
