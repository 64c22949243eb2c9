use lambda_runtime::{Error, LambdaEvent, service_fn};
use runs::Engine;
use runs::aws::dynamo::DynamoLedger;
use runs::aws::sfn::SfnStarter;
use runs::s3_event::S3Notification;
use runs::trigger::{EngineChoice, Trigger, TriggerSettings};

/// Above this size a run goes to Glue (the README explains the figure).
const DEFAULT_LAMBDA_MAX_BYTES: u64 = 20_000_000_000;

/// `ETL_ENGINE`: `auto` (or unset) chooses by size and prefix; `lambda` or `glue` forces one.
fn forced_engine() -> Result<Option<Engine>, platform::ConfigError> {
    match std::env::var("ETL_ENGINE").unwrap_or_default().as_str() {
        "" | "auto" => Ok(None),
        other => Engine::parse(other)
            .map(Some)
            .ok_or_else(|| platform::ConfigError::Invalid {
                name: "ETL_ENGINE",
                reason: format!("{other:?} is not auto, lambda or glue"),
            }),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("RUNS_TABLE")?;
    let state_machine = platform::required_env("ETL_STATE_MACHINE_ARN")?;
    let settings = TriggerSettings {
        suffix: std::env::var("ETL_INPUT_SUFFIX").unwrap_or_default(),
        outbound_bucket: platform::required_env("OUTBOUND_BUCKET")?,
        engines: EngineChoice {
            lambda_max_bytes: platform::env_number(
                "ETL_LAMBDA_MAX_BYTES",
                DEFAULT_LAMBDA_MAX_BYTES,
            )?,
            glue_prefix: std::env::var("ETL_GLUE_PREFIX").unwrap_or_default(),
            forced: forced_engine()?,
        },
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
