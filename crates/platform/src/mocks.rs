//! The SDK configuration of adapter unit tests: every request is answered by the rules of an
//! `aws-smithy-mocks` interceptor, never sent. Retries are the SDK's standard ones with a 1 ms
//! backoff, so a test sees what production sees after its retries, quickly.
//!
//! One thing differs in test builds: aws-smithy-mocks needs aws-smithy-http-client's
//! `test-util`, which builds serde_json with `preserve_order`, so in every test build of the
//! workspace a `serde_json::Map` keeps insertion order, while in the functions it sorts its keys.
//! No code may depend on a map's key order: where order is part of an answer or a digest it is
//! made explicit (a `BTreeMap` of problems, the canonical form behind entry ids).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode};

pub use aws_smithy_mocks::{Rule, RuleBuilder, mock};
pub use aws_smithy_runtime_api::http::Response;

/// At most this many attempts per call, as the SDK's standard retry mode makes.
pub const ATTEMPTS: u32 = 3;

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "mocks"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .timeout_config(crate::aws::default_timeouts())
        .load()
        .await
}

/// The interceptor that answers with `rules`: each call takes the first rule that matches it
/// and is not used up.
pub fn answers(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, rule| i.with_rule(rule),
    )
}

/// A service client of `$sdk` (an `aws_sdk_*` crate) whose calls are answered by `$rules`
/// (`&[&Rule]`); used inside an async test.
#[macro_export]
macro_rules! mocked_client {
    ($sdk:ident, $rules:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&$crate::mocks::sdk_config().await)
                .interceptor($crate::mocks::answers($rules))
                .build(),
        )
    };
}

/// A rule that gives `answer` to every attempt of every call it matches: a fault that outlasts
/// the SDK's retries.
pub fn always<I, O, E>(
    rule: RuleBuilder<I, O, E>,
    answer: impl Fn() -> Response + Send + Sync + 'static,
) -> Rule
where
    I: std::fmt::Debug + Send + Sync + 'static,
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    rule.sequence().http_response(answer).repeatedly().build()
}

/// An HTTP response as a service would send it.
pub fn http_response(status: u16, body: String) -> Response {
    aws_smithy_runtime_api::http::Response::new(
        status.try_into().expect("a valid status"),
        aws_smithy_types::body::SdkBody::from(body),
    )
}

/// An error of the AWS JSON protocols (DynamoDB, Step Functions, SSM, Glue), named by its
/// `__type`.
pub fn service_error(status: u16, error_type: &str) -> Response {
    http_response(
        status,
        format!(r#"{{"__type":"{error_type}","message":"refused by the test"}}"#),
    )
}

/// A DynamoDB error, named as DynamoDB names it (with its protocol's namespace).
pub fn dynamodb_error(name: &str) -> Response {
    service_error(400, &format!("com.amazonaws.dynamodb.v20120810#{name}"))
}
