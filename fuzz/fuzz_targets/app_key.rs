//! The AppKey header with static keys and HS256 tokens configured: never a panic, and nothing
//! but the configured key or a token (three dot-separated parts) is ever let in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logs_ingest::auth::{Authenticator, JwtAlgorithm, JwtSettings};

fuzz_target!(|data: &[u8]| {
    let auth = Authenticator::new(
        &["static-key".into()],
        Some(&JwtSettings {
            algorithm: JwtAlgorithm::Hs256,
            key: "fuzz-secret".into(),
            audience: None,
            issuer: None,
        }),
    )
    .unwrap();
    if auth.check(Some(data)).is_ok() {
        let trimmed = data.trim_ascii();
        assert!(
            trimmed == b"static-key" || trimmed.iter().filter(|&&b| b == b'.').count() == 2,
            "let in: {trimmed:?}"
        );
    }
});
