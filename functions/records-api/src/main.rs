use lambda_http::{Error, service_fn};
use records::api::RecordsApi;
use records::aws::{DynamoCatalog, SfnWorkflow};
use records::config::RecordsConfig;
use records::cursor::CursorCodec;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let config = RecordsConfig::from_env()?;
    let aws = platform::aws_config().await;
    let api = RecordsApi {
        workflow: SfnWorkflow::new(&aws, config.state_machine_arn),
        catalog: DynamoCatalog::new(&aws, config.table_name.clone()),
        cursors: CursorCodec::new(&config.table_name),
    };
    lambda_http::run(service_fn(|request| api.handle(request))).await
}
