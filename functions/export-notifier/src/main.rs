use exports::aws::ledger::DynamoLedger;
use exports::aws::mail::SesMailer;
use exports::aws::presign::S3Presigner;
use exports::notify::{ExportNotifier, ObjectCreated};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("EXPORTS_TABLE")?;
    let bucket = platform::required_env("EXPORTS_BUCKET")?;
    let sender = platform::required_env("EXPORTS_SENDER")?;
    let aws = platform::aws_config().await;
    let notifier = ExportNotifier {
        ledger: DynamoLedger::new(&aws, table),
        presigner: S3Presigner::new(&aws, bucket),
        mailer: SesMailer::new(&aws, sender),
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(|event: LambdaEvent<ObjectCreated>| async move {
        let outcome = notifier.handle(&event.payload).await?;
        tracing::info!(?outcome, "export notification");
        Ok::<(), Error>(())
    }))
    .await
}
