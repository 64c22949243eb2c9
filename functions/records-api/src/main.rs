use lambda_http::{Error, service_fn};
use records::api::{Approvals, RecordsApi};
use records::aws::{DynamoCatalog, SfnWorkflow};
use records::aws_approvals::{DynamoApprovals, SfnApprovals};
use records::config::{RecordsConfig, admin_key};
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
        approvals: Approvals {
            store: DynamoApprovals::new(&aws, config.approvals_table.clone()),
            workflow: SfnApprovals::new(&aws, config.approval_state_machine_arn),
            admin_key: admin_key(&aws, &config.admin_key_parameter),
            timeout: config.approval_timeout,
            cursors: CursorCodec::new(&config.approvals_table),
        },
    };
    lambda_http::run(service_fn(|request| api.handle(request))).await
}
