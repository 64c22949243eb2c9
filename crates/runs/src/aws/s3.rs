//! S3 for the ETL: the input object read as several ranged GETs in flight, so that the engine
//! and not one connection sets the pace; reports written whole; presigned report links.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;
use platform::SdkConfig;

use crate::run::ReportLocation;

pub fn client(sdk: &SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        // A local endpoint has no per-bucket host names.
        .force_path_style(platform::is_local_endpoint())
        .build();
    Client::from_conf(config)
}

fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(err).to_string()
}

#[cfg(feature = "engine")]
pub use reading::{ChunkReader, S3HitFiles, S3Reports};

#[cfg(feature = "engine")]
mod reading {
    use std::io::{self, Read};

    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::primitives::ByteStream;
    use bytes::Bytes;
    use futures::StreamExt;
    use tokio::sync::mpsc;

    use super::*;
    use crate::ports::{HitFileSource, ReadError, ReportSink, WriteError};
    use crate::run::{ObjectVersion, RunRequest};

    fn is_missing<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
        // A HEAD answer has no body to carry an error code: its status says it.
        matches!(
            err.as_service_error().and_then(|e| e.code()),
            Some("NoSuchKey" | "NotFound" | "PreconditionFailed" | "NoSuchVersion")
        ) || matches!(err, SdkError::ServiceError(e) if matches!(e.raw().status().as_u16(), 404 | 412))
    }

    /// An entity tag as `If-Match` carries it: in double quotes.
    fn quoted(etag: &str) -> String {
        format!("\"{}\"", etag.trim_matches('"'))
    }

    /// Reads input objects in ranges of `range_bytes`, `in_flight` of them at a time, in order.
    pub struct S3HitFiles {
        client: Client,
        range_bytes: u64,
        in_flight: usize,
    }

    impl S3HitFiles {
        pub fn new(client: Client, range_bytes: u64, in_flight: usize) -> Self {
            Self {
                client,
                range_bytes: range_bytes.max(1),
                in_flight: in_flight.max(1),
            }
        }
    }

    /// The object's bytes in order, as the ranged GETs deliver them; blocks while the next
    /// range is on its way. Memory: the ranges in flight and the channel's, not the object.
    pub struct ChunkReader {
        chunks: mpsc::Receiver<Result<Bytes, String>>,
        current: Bytes,
    }

    impl Read for ChunkReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            while self.current.is_empty() {
                match self.chunks.blocking_recv() {
                    Some(Ok(chunk)) => self.current = chunk,
                    Some(Err(reason)) => return Err(io::Error::other(reason)),
                    None => return Ok(0),
                }
            }
            let n = buf.len().min(self.current.len());
            buf[..n].copy_from_slice(&self.current[..n]);
            self.current = self.current.slice(n..);
            Ok(n)
        }
    }

    impl HitFileSource for S3HitFiles {
        type Reader = ChunkReader;

        async fn open(&self, run: &RunRequest) -> Result<ChunkReader, ReadError> {
            let head = self.client.head_object().bucket(&run.bucket).key(&run.key);
            let head = match &run.version {
                ObjectVersion::VersionId(id) => head.version_id(id),
                ObjectVersion::Etag(etag) => head.if_match(quoted(etag)),
                ObjectVersion::Unknown => head,
            };
            let size = match head.send().await {
                Ok(head) => u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
                Err(err) if is_missing(&err) => return Err(ReadError::NotFound),
                Err(err) => return Err(ReadError::Unavailable(describe(&err))),
            };
            let (sender, chunks) = mpsc::channel(self.in_flight);
            let ranges = (0..size)
                .step_by(usize::try_from(self.range_bytes).unwrap_or(usize::MAX))
                .map(move |start| (start, (start + self.range_bytes).min(size) - 1))
                .collect::<Vec<_>>();
            let client = self.client.clone();
            let (bucket, key, version) = (run.bucket.clone(), run.key.clone(), run.version.clone());
            let in_flight = self.in_flight;
            tokio::spawn(async move {
                let mut fetched = futures::stream::iter(ranges)
                    .map(|(first, last)| fetch(&client, &bucket, &key, &version, first, last))
                    .buffered(in_flight);
                while let Some(chunk) = fetched.next().await {
                    let failed = chunk.is_err();
                    // A closed channel means the engine stopped reading: stop fetching too.
                    if sender.send(chunk).await.is_err() || failed {
                        break;
                    }
                }
            });
            Ok(ChunkReader {
                chunks,
                current: Bytes::new(),
            })
        }
    }

    async fn fetch(
        client: &Client,
        bucket: &str,
        key: &str,
        version: &ObjectVersion,
        first: u64,
        last: u64,
    ) -> Result<Bytes, String> {
        let request = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes={first}-{last}"));
        // The same version for every range, or the read fails: never a mix of two uploads.
        let request = match version {
            ObjectVersion::VersionId(id) => request.version_id(id),
            ObjectVersion::Etag(etag) => request.if_match(quoted(etag)),
            ObjectVersion::Unknown => request,
        };
        let output = request.send().await.map_err(|err| describe(&err))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| format!("reading bytes {first}-{last}: {e}"))?
            .into_bytes();
        let expected = last - first + 1;
        if bytes.len() as u64 != expected {
            return Err(format!(
                "bytes {first}-{last}: got {} bytes, expected {expected}",
                bytes.len()
            ));
        }
        Ok(bytes)
    }

    pub struct S3Reports {
        client: Client,
    }

    impl S3Reports {
        pub fn new(client: Client) -> Self {
            Self { client }
        }
    }

    impl ReportSink for S3Reports {
        async fn put(&self, location: &ReportLocation, report: Vec<u8>) -> Result<(), WriteError> {
            self.client
                .put_object()
                .bucket(&location.bucket)
                .key(&location.key)
                .content_type("text/tab-separated-values; charset=utf-8")
                .body(ByteStream::from(report))
                .send()
                .await
                .map(|_| ())
                .map_err(|err| WriteError(describe(&err)))
        }
    }
}

#[cfg(feature = "status")]
pub use linking::S3ReportLinks;

#[cfg(feature = "status")]
mod linking {
    use std::time::Duration;

    use aws_sdk_s3::presigning::PresigningConfig;

    use super::*;
    use crate::ports::{LinkError, ReportLinks};

    pub struct S3ReportLinks {
        client: Client,
    }

    impl S3ReportLinks {
        pub fn new(client: Client) -> Self {
            Self { client }
        }
    }

    impl ReportLinks for S3ReportLinks {
        async fn link(
            &self,
            location: &ReportLocation,
            valid_for: Duration,
        ) -> Result<String, LinkError> {
            let config =
                PresigningConfig::expires_in(valid_for).map_err(|e| LinkError(e.to_string()))?;
            let request = self
                .client
                .get_object()
                .bucket(&location.bucket)
                .key(&location.key)
                .presigned(config)
                .await
                .map_err(|err| LinkError(describe(&err)))?;
            Ok(request.uri().to_owned())
        }
    }
}
