use lambda_runtime::{Error, LambdaEvent, service_fn};
use runs::aws::dynamo::DynamoLedger;
use runs::aws::glue::GlueJobRuns;
use runs::aws::sns::SnsPublisher;
use runs::notify::{Alerts, FailureEvent, Notifier, NotifierSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let topic = platform::required_env("ALERTS_TOPIC_ARN")?;
    let settings = NotifierSettings {
        status_url: platform::required_env("RUNS_URL")?,
        glue_job_name: platform::required_env("GLUE_JOB_NAME")?,
    };
    let aws = platform::aws_config().await;
    let notifier = Notifier {
        alerts: Alerts {
            ledger: DynamoLedger::new(&aws, table),
            publisher: SnsPublisher::new(&aws, topic),
            settings,
        },
        glue: GlueJobRuns::new(&aws),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<FailureEvent>| {
        let notifier = &notifier;
        async move {
            notifier
                .handle(event.payload, &platform::now_rfc3339())
                .await
        }
    }))
    .await
}
