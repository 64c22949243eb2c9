//! The S3 adapter for [`ObjectStore`].

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::ports::{Object, ObjectStore, StoreError};

pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    pub fn new(config: &platform::SdkConfig, bucket: String) -> S3Store {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            // A local endpoint has no per-bucket host names.
            .force_path_style(platform::is_local_endpoint())
            .build();
        S3Store {
            client: Client::from_conf(s3_config),
            bucket,
        }
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, object: Object) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .content_type(object.content_type)
            .body(ByteStream::from(object.body))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| StoreError {
                key: object.key,
                reason: aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use platform::mocks::{self, Rule, always, http_response, mock};

    async fn store(rules: &[&Rule]) -> S3Store {
        S3Store {
            client: platform::mocked_client!(aws_sdk_s3, rules),
            bucket: "logs".into(),
        }
    }

    fn object() -> Object {
        Object {
            key: "logs/mobile-logs/2026/11/23/part.jsonl.gz".into(),
            content_type: "application/gzip",
            body: vec![1, 2, 3],
        }
    }

    #[tokio::test]
    async fn an_object_is_put_under_its_key_with_its_type() {
        let put = mock!(Client::put_object)
            .match_requests(|req| {
                req.bucket() == Some("logs")
                    && req.key() == Some("logs/mobile-logs/2026/11/23/part.jsonl.gz")
                    && req.content_type() == Some("application/gzip")
            })
            .then_output(|| PutObjectOutput::builder().build());
        assert_eq!(store(&[&put]).await.put(object()).await, Ok(()));
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_put_names_the_key_and_the_reason() {
        let denied = mock!(Client::put_object).then_http_response(|| {
            http_response(
                403,
                "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".into(),
            )
        });
        let err = store(&[&denied]).await.put(object()).await.unwrap_err();
        assert_eq!(err.key, "logs/mobile-logs/2026/11/23/part.jsonl.gz");
        assert!(err.reason.contains("AccessDenied"), "{}", err.reason);

        let slow_down = always(mock!(Client::put_object), || {
            http_response(
                503,
                "<Error><Code>SlowDown</Code><Message>Reduce your request rate</Message></Error>"
                    .into(),
            )
        });
        let err = store(&[&slow_down]).await.put(object()).await.unwrap_err();
        assert!(err.reason.contains("SlowDown"), "{}", err.reason);
        assert_eq!(slow_down.num_calls(), mocks::ATTEMPTS as usize);
    }
}
