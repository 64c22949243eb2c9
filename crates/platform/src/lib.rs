//! Plumbing every Sluice function shares: one way to build AWS config (local endpoints honoured),
//! tracing, configuration from the environment, secrets that cannot be logged, stable JSON
//! error bodies, and the shell of the HTML pages.

pub mod aws;
pub mod config;
#[cfg(feature = "html")]
pub mod html;
pub mod http;
#[cfg(feature = "mocks")]
pub mod mocks;
pub mod msk;
pub mod secret;
#[cfg(feature = "ssm")]
pub mod ssm;

pub use aws::{StripEndpointPrefix, aws_config, is_local_endpoint};
pub use aws_config::SdkConfig;
pub use config::{ConfigError, env_number, required_env};
pub use secret::Secret;

/// Now, UTC, to the millisecond: how every Sluice timestamp is written
/// (`2026-11-23T10:15:00.123Z`), so that timestamps also sort as text.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// The moment `ago` before now, written like [`now_rfc3339`].
pub fn rfc3339_before_now(ago: std::time::Duration) -> String {
    rfc3339(time::OffsetDateTime::now_utc() - ago)
}

/// The moment `ahead` after now, written like [`now_rfc3339`].
pub fn rfc3339_after_now(ahead: std::time::Duration) -> String {
    let now = time::OffsetDateTime::now_utc();
    let ahead = time::Duration::try_from(ahead).unwrap_or(time::Duration::MAX);
    rfc3339(now.checked_add(ahead).unwrap_or(LATEST))
}

/// The last moment [`rfc3339`] writes: times beyond it are written as it.
const LATEST: time::OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999 UTC);

/// A moment given as seconds and nanoseconds since the Unix epoch, written like
/// [`now_rfc3339`]; a moment outside the years 1 to 9999 is written as its seconds.
pub fn rfc3339_from_unix(seconds: i64, nanos: u32) -> String {
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(moment) => rfc3339(
            moment
                .checked_add(time::Duration::nanoseconds(i64::from(nanos)))
                .unwrap_or(LATEST),
        ),
        Err(_) => seconds.to_string(),
    }
}

fn rfc3339(moment: time::OffsetDateTime) -> String {
    // Fixed width (always three fraction digits), so that timestamps sort as text.
    const FORMAT: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    moment
        .to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_else(|_| moment.unix_timestamp().to_string())
}

/// The invocation's deadline, from the runtime's `Lambda-Runtime-Deadline-Ms` (milliseconds
/// since the Unix epoch), or `None` when that moment is not ahead of now. Lambda always gives
/// one ahead; a local runtime may send a placeholder (`cargo lambda watch` sends 600 000, a
/// moment in 1970), which taken as a deadline would have a function give up before it starts.
pub fn invocation_deadline(deadline_ms: u64) -> Option<std::time::SystemTime> {
    let deadline =
        std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(deadline_ms))?;
    (deadline > std::time::SystemTime::now()).then_some(deadline)
}

/// Structured logs: JSON when Lambda asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), text otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_deadline_already_past_is_no_deadline() {
        let now = std::time::SystemTime::now();
        let ms = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
        };
        let ahead = now + std::time::Duration::from_secs(900);
        assert_eq!(
            super::invocation_deadline(ms(ahead)).map(ms),
            Some(ms(ahead))
        );
        assert_eq!(super::invocation_deadline(600_000), None);
        assert_eq!(
            super::invocation_deadline(ms(now - std::time::Duration::from_secs(1))),
            None
        );
    }

    #[test]
    fn timestamps_are_utc_milliseconds_that_sort_as_text() {
        let earlier = super::rfc3339_before_now(std::time::Duration::from_secs(90));
        let now = super::now_rfc3339();
        assert_eq!(now.len(), "2026-11-23T10:15:00.123Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        assert!(earlier < now, "{earlier} < {now}");
        let later = super::rfc3339_after_now(std::time::Duration::from_secs(90));
        assert!(now < later, "{now} < {later}");
        assert_eq!(
            super::rfc3339_from_unix(1_764_583_200, 5_000_000),
            "2025-12-01T10:00:00.005Z"
        );
        // A whole tenth keeps its zeros: .100 sorts after .012, as text too.
        let tenth = time::macros::datetime!(2026-11-23 10:15:00.1 UTC);
        let earlier_in_it = time::macros::datetime!(2026-11-23 10:15:00.012 UTC);
        assert_eq!(super::rfc3339(tenth), "2026-11-23T10:15:00.100Z");
        assert!(super::rfc3339(earlier_in_it) < super::rfc3339(tenth));
    }

    #[test]
    fn a_moment_too_far_ahead_is_the_last_one_written_not_a_panic() {
        let last = "9999-12-31T23:59:59.999Z";
        assert_eq!(super::rfc3339_after_now(std::time::Duration::MAX), last);
        assert_eq!(
            super::rfc3339_after_now(std::time::Duration::from_secs(u64::from(u32::MAX) * 100)),
            last
        );
        assert_eq!(super::rfc3339_from_unix(253_402_300_799, 999_999_999), last);
    }
}
