use lambda_http::{Error, Request, service_fn};
use runs::aws::dynamo::DynamoLedger;
use runs::aws::s3::{S3ReportLinks, client};
use runs::status::StatusApi;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let aws = platform::aws_config().await;
    let api = StatusApi {
        catalog: DynamoLedger::new(&aws, table),
        links: S3ReportLinks::new(client(&aws)),
    };
    lambda_http::run(service_fn(|request: Request| {
        let api = &api;
        async move { Ok::<_, Error>(api.handle(&request, &platform::now_rfc3339()).await) }
    }))
    .await
}
