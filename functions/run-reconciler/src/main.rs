use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use runs::aws::dynamo::DynamoLedger;
use runs::aws::sfn::SfnStarter;
use runs::aws::sns::SnsPublisher;
use runs::notify::{Alerts, NotifierSettings};
use runs::reconcile::{Reconciler, ReconcilerSettings};
use serde_json::Value;

/// A run open this long is looked at: past the engine's limits and one retry.
const DEFAULT_STALE_AFTER_SECONDS: u64 = 3 * 3600;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let state_machine = platform::required_env("ETL_STATE_MACHINE_ARN")?;
    let topic = platform::required_env("ALERTS_TOPIC_ARN")?;
    let stale_after = Duration::from_secs(platform::env_number(
        "ETL_STALE_AFTER_SECONDS",
        DEFAULT_STALE_AFTER_SECONDS,
    )?);
    let settings = NotifierSettings {
        status_url: platform::required_env("RUNS_URL")?,
        glue_job_name: platform::required_env("GLUE_JOB_NAME")?,
    };
    let aws = platform::aws_config().await;
    let region = aws.region().map(ToString::to_string).unwrap_or_default();
    let reconciler = Reconciler {
        alerts: Alerts {
            ledger: DynamoLedger::new(&aws, table),
            publisher: SnsPublisher::new(&aws, topic),
            settings,
        },
        workflow: SfnStarter::new(&aws, state_machine),
        settings: ReconcilerSettings {
            page: 50,
            max_runs: 200,
            region,
        },
    };
    lambda_runtime::run(service_fn(|_scheduled: LambdaEvent<Value>| {
        let reconciler = &reconciler;
        async move {
            let stale_before = platform::rfc3339_before_now(stale_after);
            reconciler
                .handle(&stale_before, &platform::now_rfc3339())
                .await
        }
    }))
    .await
}
