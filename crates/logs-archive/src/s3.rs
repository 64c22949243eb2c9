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
