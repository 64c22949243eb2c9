//! Presigned GET URLs of the exports bucket.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use platform::SdkConfig;

use crate::ports::{Presigner, ServiceError};

pub struct S3Presigner {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Presigner {
    pub fn new(sdk: &SdkConfig, bucket: String) -> Self {
        S3Presigner {
            client: super::s3_client(sdk),
            bucket,
        }
    }
}

impl Presigner for S3Presigner {
    async fn url(&self, key: &str, expires: Duration) -> Result<String, ServiceError> {
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| ServiceError::Refused(e.to_string()))?;
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map(|request| request.uri().to_owned())
            .map_err(super::service_error)
    }
}
