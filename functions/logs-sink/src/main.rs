use lambda_runtime::{Error, LambdaEvent, service_fn};
use logs_archive::s3::S3Store;
use logs_archive::sink::LogSink;
use platform::msk::BatchResponse;
use platform::msk::KafkaEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let bucket = platform::required_env("LOGS_BUCKET")?;
    let aws = platform::aws_config().await;
    let sink = LogSink {
        store: S3Store::new(&aws, bucket),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<KafkaEvent>| async {
        Ok::<BatchResponse, Error>(sink.handle(event.payload).await)
    }))
    .await
}
