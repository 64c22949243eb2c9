use exports::api::ExportsApi;
use exports::aws::ledger::DynamoLedger;
use exports::aws::presign::S3Presigner;
use exports::aws::queue::SqsQueue;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("EXPORTS_TABLE")?;
    let queue = platform::required_env("EXPORTS_QUEUE_URL")?;
    let bucket = platform::required_env("EXPORTS_BUCKET")?;
    let aws = platform::aws_config().await;
    let api = ExportsApi {
        ledger: DynamoLedger::new(&aws, table),
        queue: SqsQueue::new(&aws, queue),
        presigner: S3Presigner::new(&aws, bucket),
    };
    lambda_http::run(service_fn(|request| api.handle(request))).await
}
