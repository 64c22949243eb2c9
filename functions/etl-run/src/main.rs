use lambda_runtime::{Error, LambdaEvent, service_fn};
use runs::aws::s3::{S3HitFiles, S3Reports, client};
use runs::engine::{self, EngineTask};

/// Ranges of 8 MiB, four in flight: enough to keep the engine fed from one function.
const DEFAULT_RANGE_BYTES: u64 = 8 << 20;
const DEFAULT_RANGES_IN_FLIGHT: usize = 4;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let range_bytes = platform::env_number("ETL_RANGE_BYTES", DEFAULT_RANGE_BYTES)?;
    let in_flight = platform::env_number("ETL_RANGES_IN_FLIGHT", DEFAULT_RANGES_IN_FLIGHT as u64)?;
    let aws = platform::aws_config().await;
    let s3 = client(&aws);
    let source = S3HitFiles::new(s3.clone(), range_bytes, in_flight as usize);
    let sink = S3Reports::new(s3);
    let options = hitdata::Options::default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<EngineTask>| {
        let (source, sink) = (&source, &sink);
        async move { engine::run(source, sink, event.payload, options).await }
    }))
    .await
}
