use events::schema::Catalog;
use exports::aws::ledger::DynamoLedger;
use exports::aws::stored::StoredEvents;
use exports::aws::upload::S3Upload;
use exports::worker::{ExportWorker, PART_SIZE, QueueEvent, Queued, columns};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("EXPORTS_TABLE")?;
    let events_table = platform::required_env("AD_EVENTS_TABLE")?;
    let bucket = platform::required_env("EXPORTS_BUCKET")?;
    let dead_letters = platform::required_env("EXPORTS_DEAD_LETTERS_ARN")?;
    let aws = platform::aws_config().await;
    let worker = ExportWorker {
        ledger: DynamoLedger::new(&aws, table),
        events: StoredEvents::new(&aws, events_table),
        store: S3Upload::new(&aws, bucket),
        columns: columns(&Catalog::new()?),
        part_size: PART_SIZE,
    };
    let (worker, dead_letters) = (&worker, dead_letters.as_str());
    lambda_runtime::run(service_fn(|event: LambdaEvent<QueueEvent>| async move {
        // One message per invocation (BatchSize 1): an error has the queue deliver it again.
        for record in event.payload.records {
            let Ok(queued) = serde_json::from_str::<Queued>(&record.body) else {
                tracing::warn!(message_id = %record.message_id, "not an export message; dropped");
                continue;
            };
            let outcome = if record.event_source_arn == dead_letters {
                worker.abandon(&queued.export_id).await?
            } else {
                let deadline = platform::invocation_deadline(event.context.deadline);
                worker.run_until(&queued.export_id, deadline).await?
            };
            tracing::info!(export_id = %queued.export_id, ?outcome, "export done");
        }
        Ok::<(), Error>(())
    }))
    .await
}
