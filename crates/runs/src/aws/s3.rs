//! S3 for the ETL: the input object read as several ranged GETs in flight, so that the engine
//! and not one connection sets the pace; reports written whole; presigned report links.

use aws_sdk_s3::Client;
use platform::SdkConfig;

use super::describe;

use crate::run::ReportLocation;

pub fn client(sdk: &SdkConfig) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        // A local endpoint has no per-bucket host names.
        .force_path_style(platform::is_local_endpoint())
        .build();
    Client::from_conf(config)
}

#[cfg(feature = "engine")]
pub use reading::{S3HitFiles, S3Reports};

#[cfg(feature = "engine")]
mod reading {
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::ByteStream;
    use bytes::Bytes;
    use futures::StreamExt;
    use tokio::sync::mpsc;

    use super::*;
    use crate::parts::{PartsReader, Piece};
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

    impl S3HitFiles {
        /// The size of the object version a run names, or why it cannot be read.
        async fn size(
            &self,
            bucket: &str,
            key: &str,
            version: &ObjectVersion,
        ) -> Result<u64, ReadError> {
            let head = self.client.head_object().bucket(bucket).key(key);
            let head = match version {
                ObjectVersion::VersionId(id) => head.version_id(id),
                ObjectVersion::Etag(etag) => head.if_match(quoted(etag)),
                ObjectVersion::Unknown => head,
            };
            match head.send().await {
                Ok(head) => Ok(u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0)),
                Err(err) if is_missing(&err) => Err(ReadError::NotFound),
                Err(err) => Err(ReadError::Unavailable(describe(&err))),
            }
        }
    }

    impl HitFileSource for S3HitFiles {
        /// The objects' bytes in order, as the ranged GETs deliver them; blocks while the next
        /// range is on its way. Memory: the ranges in flight and the channel's, not the object.
        type Reader = PartsReader;

        async fn open(&self, run: &RunRequest) -> Result<PartsReader, ReadError> {
            let named: Vec<(String, ObjectVersion)> = if run.parts.is_empty() {
                vec![(run.key.clone(), run.version.clone())]
            } else {
                run.parts
                    .iter()
                    .map(|p| (p.key.clone(), p.version.clone()))
                    .collect()
            };
            // Every part is checked before any is read: a missing one fails the run at once.
            let mut ranges = Vec::new();
            let mut total = 0;
            for (index, (key, version)) in named.into_iter().enumerate() {
                let size = self.size(&run.bucket, &key, &version).await?;
                total += size;
                let step = usize::try_from(self.range_bytes).unwrap_or(usize::MAX);
                let spans = (0..size)
                    .step_by(step)
                    .map(|start| (start, (start + self.range_bytes).min(size) - 1))
                    .collect::<Vec<_>>();
                ranges.push((index, key, version, spans));
            }
            let (sender, mut chunks) = mpsc::channel(self.in_flight);
            let client = self.client.clone();
            let bucket = run.bucket.clone();
            let in_flight = self.in_flight;
            tokio::spawn(async move {
                for (index, key, version, spans) in ranges {
                    if sender.send(Ok(Piece::Part(index))).await.is_err() {
                        return;
                    }
                    let mut fetched = futures::stream::iter(spans)
                        .map(|(first, last)| fetch(&client, &bucket, &key, &version, first, last))
                        .buffered(in_flight);
                    while let Some(chunk) = fetched.next().await {
                        let failed = chunk.is_err();
                        // A closed channel means the engine stopped reading: stop fetching too.
                        if sender.send(chunk.map(Piece::Bytes)).await.is_err() || failed {
                            return;
                        }
                    }
                }
            });
            Ok(PartsReader::new(move || chunks.blocking_recv(), total))
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
pub use linking::{S3Objects, S3ReportLinks};

#[cfg(feature = "status")]
mod linking {
    use std::time::Duration;

    use aws_sdk_s3::presigning::PresigningConfig;

    use super::*;
    use crate::ports::{LinkError, ObjectHead, ObjectProbe, ReadError, ReportLinks};
    use crate::run::ObjectVersion;

    pub struct S3Objects {
        client: Client,
    }

    impl S3Objects {
        pub fn new(client: Client) -> Self {
            Self { client }
        }
    }

    impl ObjectProbe for S3Objects {
        async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>, ReadError> {
            match self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(head) => {
                    let version = match (head.version_id(), head.e_tag()) {
                        (Some(id), _) if !id.is_empty() && id != "null" => {
                            ObjectVersion::VersionId(id.to_owned())
                        }
                        (_, Some(etag)) => ObjectVersion::Etag(etag.trim_matches('"').to_owned()),
                        _ => ObjectVersion::Unknown,
                    };
                    Ok(Some(ObjectHead {
                        size: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
                        version,
                    }))
                }
                Err(err)
                    if err
                        .raw_response()
                        .is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    Ok(None)
                }
                Err(err) => Err(ReadError::Unavailable(describe(&err))),
            }
        }
    }

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

    #[cfg(test)]
    mod tests {
        use super::*;
        use aws_sdk_s3::operation::head_object::HeadObjectOutput;
        use platform::mocks::{self, Rule, always, http_response, mock};

        async fn objects(rules: &[&Rule]) -> S3Objects {
            S3Objects::new(platform::mocked_client!(aws_sdk_s3, rules))
        }

        #[tokio::test]
        async fn an_object_is_known_by_its_version_or_else_its_etag() {
            for (version, etag, expected) in [
                (
                    Some("v7"),
                    Some("\"e1\""),
                    ObjectVersion::VersionId("v7".into()),
                ),
                (
                    Some("null"),
                    Some("\"e1\""),
                    ObjectVersion::Etag("e1".into()),
                ),
                (None, Some("\"e1\""), ObjectVersion::Etag("e1".into())),
                (None, None, ObjectVersion::Unknown),
            ] {
                let rule = mock!(Client::head_object)
                    .match_requests(|req| {
                        req.bucket() == Some("in") && req.key() == Some("a b.tsv")
                    })
                    .then_output(move || {
                        HeadObjectOutput::builder()
                            .content_length(42)
                            .set_version_id(version.map(str::to_owned))
                            .set_e_tag(etag.map(str::to_owned))
                            .build()
                    });
                assert_eq!(
                    objects(&[&rule]).await.head("in", "a b.tsv").await,
                    Ok(Some(ObjectHead {
                        size: 42,
                        version: expected
                    }))
                );
            }
        }

        #[tokio::test]
        async fn a_missing_object_is_none_and_a_failing_store_an_error() {
            let missing =
                mock!(Client::head_object).then_http_response(|| http_response(404, String::new()));
            assert_eq!(objects(&[&missing]).await.head("in", "k").await, Ok(None));

            let failing = always(mock!(Client::head_object), || {
                http_response(500, String::new())
            });
            assert!(matches!(
                objects(&[&failing]).await.head("in", "k").await,
                Err(ReadError::Unavailable(_))
            ));
            assert_eq!(failing.num_calls(), mocks::ATTEMPTS as usize);
        }
    }
}
