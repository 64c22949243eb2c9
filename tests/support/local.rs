//! What every end-to-end suite needs from the local stack: the endpoints `make up` wrote, the
//! AWS SDK pointed at it, and names no earlier run has used.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A name no earlier run has used, so tests do not depend on what the table already holds.
pub fn unique(prefix: &str) -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix} {nanos} {}",
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The variables of `.local/endpoints.env` (or of the file `SLUICE_ENDPOINTS` names).
pub fn endpoints() -> HashMap<String, String> {
    let path = std::env::var_os("SLUICE_ENDPOINTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/endpoints.env")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); start the local stack with `make up`",
            path.display()
        )
    });
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The AWS SDK's configuration for the local stack: its endpoint and region, dummy credentials.
pub async fn sdk_config(endpoints: &HashMap<String, String>) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoints["AWS_ENDPOINT_URL"])
        .region(aws_config::Region::new(endpoints["AWS_REGION"].clone()))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "local", "local", None, None, "e2e",
        ))
        .load()
        .await
}

/// The HTTP client every suite uses: bounded, so a request the stack never answers fails the
/// test instead of hanging it; redirects are the test's to look at.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A value of the endpoints `make up` wrote; a missing one is a stack out of date.
#[allow(dead_code)] // not every suite reads endpoints by name
pub fn endpoint<'a>(endpoints: &'a HashMap<String, String>, key: &str) -> &'a str {
    endpoints
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from endpoints.env; run `make up` again"))
}

/// S3 on the local stack, addressed path-style as it serves buckets.
#[allow(dead_code)] // not every suite reads S3
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}
