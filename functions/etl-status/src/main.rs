use lambda_http::{Error, Request, service_fn};
use runs::aws::dynamo::DynamoLedger;
use runs::aws::s3::{S3Objects, S3ReportLinks, client};
use runs::aws::sfn::SfnStarter;
use runs::status::{StatusApi, StatusSettings};

/// As `etl-trigger`'s: above this, a run belongs on Glue.
const DEFAULT_LAMBDA_MAX_BYTES: u64 = 20_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let settings = StatusSettings {
        inbound_bucket: platform::required_env("INBOUND_BUCKET")?,
        outbound_bucket: platform::required_env("OUTBOUND_BUCKET")?,
        lambda_max_bytes: platform::env_number("ETL_LAMBDA_MAX_BYTES", DEFAULT_LAMBDA_MAX_BYTES)?,
    };
    let state_machine = platform::required_env("ETL_STATE_MACHINE_ARN")?;
    let aws = platform::aws_config().await;
    let s3 = client(&aws);
    let api = StatusApi {
        catalog: DynamoLedger::new(&aws, table),
        links: S3ReportLinks::new(s3.clone()),
        workflow: SfnStarter::new(&aws, state_machine),
        objects: S3Objects::new(s3),
        settings,
    };
    lambda_http::run(service_fn(|request: Request| {
        let api = &api;
        async move { Ok::<_, Error>(api.handle(&request, &platform::now_rfc3339()).await) }
    }))
    .await
}
