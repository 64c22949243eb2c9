use lambda_runtime::{Error, LambdaEvent, service_fn};
use runs::aws::dynamo::DynamoLedger;
use runs::aws::sfn::SfnStarter;
use runs::s3_event::S3Notification;
use runs::trigger::{Trigger, TriggerSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let state_machine = platform::required_env("ETL_STATE_MACHINE_ARN")?;
    let settings = TriggerSettings {
        suffix: std::env::var("ETL_INPUT_SUFFIX").unwrap_or_default(),
        outbound_bucket: platform::required_env("OUTBOUND_BUCKET")?,
    };
    let aws = platform::aws_config().await;
    let trigger = Trigger {
        ledger: DynamoLedger::new(&aws, table),
        workflow: SfnStarter::new(&aws, state_machine),
        settings,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Notification>| {
        let trigger = &trigger;
        async move {
            trigger
                .handle(event.payload, &platform::now_rfc3339())
                .await
        }
    }))
    .await
}
