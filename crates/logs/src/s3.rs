//! The S3 adapter for [`ObjectStore`].

use async_trait::async_trait;
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

#[async_trait]
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

/// Reads the app keys from an SSM parameter (a SecureString of comma-separated keys).
pub async fn app_keys_from_parameter(
    config: &platform::SdkConfig,
    name: &str,
) -> Result<Vec<String>, String> {
    let client = aws_sdk_ssm::Client::new(config);
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| {
            format!(
                "could not read parameter {name}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(err)
            )
        })?;
    let value = output
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| format!("parameter {name} has no value"))?;
    Ok(crate::config::split_keys(&value))
}
