//! The CSV's multipart upload to the exports bucket.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use platform::SdkConfig;

use super::service_error;
use crate::ports::{CsvStore, ServiceError};

pub struct S3Upload {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Upload {
    pub fn new(sdk: &SdkConfig, bucket: String) -> Self {
        S3Upload {
            client: super::s3_client(sdk),
            bucket,
        }
    }
}

impl CsvStore for S3Upload {
    async fn begin(&self, key: &str) -> Result<String, ServiceError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .content_disposition("attachment; filename=\"ad-events.csv\"")
            .send()
            .await
            .map_err(service_error)?;
        output
            .upload_id
            .ok_or_else(|| ServiceError::Unavailable("S3 gave no upload id".into()))
    }

    async fn part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        bytes: Vec<u8>,
    ) -> Result<String, ServiceError> {
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(service_error)?;
        output
            .e_tag
            .ok_or_else(|| ServiceError::Unavailable("S3 gave no ETag for a part".into()))
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(i32, String)>,
    ) -> Result<(), ServiceError> {
        let parts = parts
            .into_iter()
            .map(|(number, etag)| {
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(service_error)
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), ServiceError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(|_| ())
            .map_err(service_error)
    }
}
