use events::registry::{GlueRegistry, Schemas};
use events_store::dynamo::DynamoEvents;
use events_store::sink::{Backoff, EventsSink};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use platform::msk::{BatchResponse, KafkaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let table = platform::required_env("AD_EVENTS_TABLE")?;
    let parked_table = platform::required_env("AD_PARKED_EVENTS_TABLE")?;
    let registry = platform::required_env("AD_SCHEMA_REGISTRY")?;
    let aws = platform::aws_config().await;
    let sink = EventsSink {
        table: DynamoEvents::new(&aws, table, parked_table),
        schemas: Schemas::new(GlueRegistry::new(&aws, registry)),
        backoff: Backoff::default(),
    };
    let sink = &sink;
    lambda_runtime::run(service_fn(|event: LambdaEvent<KafkaEvent>| async move {
        let deadline = platform::invocation_deadline(event.context.deadline);
        Ok::<BatchResponse, Error>(sink.handle_until(event.payload, deadline).await)
    }))
    .await
}
