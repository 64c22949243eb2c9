//! Adapters from the records ports to AWS: Step Functions for the ingest workflow, DynamoDB for
//! listing. The only module that sees SDK types.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::SyncExecutionStatus;
use aws_smithy_types::error::display::DisplayErrorContext;
use platform::SdkConfig;
use platform::aws::CONNECT_TIMEOUT;

use crate::ports::{CatalogError, IngestError, IngestOutcome, Page, RecordCatalog, RecordWorkflow};
use crate::record::{Record, RecordId, RecordInput};
use crate::rules::FieldProblems;

/// The error name the state machine's Fail state gives a refused record; its cause is the JSON
/// object of field problems.
pub const VALIDATION_FAILED: &str = "ValidationFailed";

/// An express workflow answers within its own time limit; the call waits a little longer.
const SYNC_EXECUTION_TIMEOUT: Duration = Duration::from_secs(25);

pub struct SfnWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnWorkflow {
    pub fn new(sdk: &SdkConfig, state_machine_arn: String) -> Self {
        let timeouts = aws_sdk_sfn::config::timeout::TimeoutConfig::builder()
            .operation_timeout(SYNC_EXECUTION_TIMEOUT)
            .operation_attempt_timeout(SYNC_EXECUTION_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build();
        let mut config = aws_sdk_sfn::config::Builder::from(sdk).timeout_config(timeouts);
        if platform::is_local_endpoint() {
            config = config.interceptor(platform::StripEndpointPrefix);
        }
        Self {
            client: aws_sdk_sfn::Client::from_conf(config.build()),
            state_machine_arn,
        }
    }
}

impl RecordWorkflow for SfnWorkflow {
    async fn ingest(&self, input: &RecordInput) -> Result<IngestOutcome, IngestError> {
        let payload = input.to_json();
        let execution = self
            .client
            .start_sync_execution()
            .state_machine_arn(&self.state_machine_arn)
            .input(payload)
            .send()
            .await
            .map_err(sfn_error)?;
        match execution.status() {
            SyncExecutionStatus::Succeeded => {
                let output = execution.output().unwrap_or("null");
                serde_json::from_str::<Record>(output)
                    .map(IngestOutcome::Stored)
                    .map_err(|e| IngestError::UnexpectedOutput(e.to_string()))
            }
            SyncExecutionStatus::Failed if execution.error() == Some(VALIDATION_FAILED) => {
                let cause = execution.cause().unwrap_or("null");
                serde_json::from_str::<FieldProblems>(cause)
                    .map(IngestOutcome::Rejected)
                    .map_err(|e| IngestError::UnexpectedOutput(e.to_string()))
            }
            other => Err(IngestError::WorkflowFailed {
                error: execution
                    .error()
                    .map(str::to_owned)
                    .unwrap_or_else(|| other.as_str().to_owned()),
            }),
        }
    }
}

fn sfn_error<E, R>(err: SdkError<E, R>) -> IngestError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException" | "TooManyRequestsException") => IngestError::Throttled,
            code => IngestError::WorkflowFailed {
                error: code.unwrap_or("unknown").to_owned(),
            },
        },
        _ => IngestError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

pub struct DynamoCatalog {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
}

impl DynamoCatalog {
    pub fn new(sdk: &SdkConfig, table_name: String) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table_name,
        }
    }
}

impl RecordCatalog for DynamoCatalog {
    async fn list(&self, limit: usize, after: Option<&RecordId>) -> Result<Page, CatalogError> {
        // One item beyond the page tells whether another page exists, so the last page says so.
        let fetch = i32::try_from(limit + 1).unwrap_or(i32::MAX);
        let scan =
            self.client
                .scan()
                .table_name(&self.table_name)
                .limit(fetch)
                .set_exclusive_start_key(after.map(|id| {
                    HashMap::from([("id".to_owned(), AttributeValue::S(id.to_string()))])
                }))
                .send()
                .await
                .map_err(|err| match &err {
                    SdkError::ServiceError(service) => match service.err().code() {
                        Some(
                            "ProvisionedThroughputExceededException"
                            | "ThrottlingException"
                            | "RequestLimitExceeded",
                        ) => CatalogError::Throttled,
                        _ => CatalogError::Unavailable(DisplayErrorContext(&err).to_string()),
                    },
                    _ => CatalogError::Unavailable(DisplayErrorContext(&err).to_string()),
                })?;

        let mut records = scan
            .items()
            .iter()
            .map(record_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_after = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|r| r.id.clone())
        } else if scan.last_evaluated_key().is_some() {
            records.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(Page {
            records,
            next_after,
        })
    }
}

fn record_from_item(item: &HashMap<String, AttributeValue>) -> Result<Record, CatalogError> {
    let text = |name: &str| -> Result<String, CatalogError> {
        match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(CatalogError::Corrupt(format!(
                "attribute {name} is missing or not a string"
            ))),
        }
    };
    let id = text("id")?;
    Ok(Record {
        id: RecordId::parse(&id)
            .ok_or_else(|| CatalogError::Corrupt("attribute id is not a record id".into()))?,
        user_name: text("user_name")?,
        email: text("email")?,
        pincode: text("pincode")?,
        created_at: text("created_at")?,
    })
}
