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

use crate::approval::Submission;
use crate::ports::{CatalogError, IngestError, IngestOutcome, Page, RecordCatalog, RecordWorkflow};
use crate::record::{Record, RecordId, RecordInput};
use crate::rules::FieldProblems;

/// The error name the state machine's Fail state gives a refused record; its cause is the JSON
/// object of field problems.
pub const VALIDATION_FAILED: &str = "ValidationFailed";
/// The error name it gives a half-valid record; its cause is the validation verdict, which
/// carries the record and its problems.
pub const NEEDS_APPROVAL: &str = "NeedsApproval";

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
            SyncExecutionStatus::Failed if execution.error() == Some(NEEDS_APPROVAL) => {
                let cause = execution.cause().unwrap_or("null");
                serde_json::from_str::<Submission>(cause)
                    .map(IngestOutcome::NeedsApproval)
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_sdk_sfn::operation::start_sync_execution::StartSyncExecutionOutput;
    use aws_smithy_types::DateTime;
    use platform::mocks::{
        ATTEMPTS, Rule, always, dynamodb_error, http_response, mock, service_error,
    };

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:ingest";

    async fn workflow(rules: &[&Rule]) -> SfnWorkflow {
        SfnWorkflow {
            client: platform::mocked_client!(aws_sdk_sfn, rules),
            state_machine_arn: ARN.into(),
        }
    }

    async fn catalog(rules: &[&Rule]) -> DynamoCatalog {
        DynamoCatalog {
            client: platform::mocked_client!(aws_sdk_dynamodb, rules),
            table_name: "records".into(),
        }
    }

    fn input() -> RecordInput {
        RecordInput {
            user_name: Some("Asha".into()),
            email: Some("asha@example.com".into()),
            pincode: Some("560001".into()),
        }
    }

    fn execution(
        status: SyncExecutionStatus,
    ) -> aws_sdk_sfn::operation::start_sync_execution::builders::StartSyncExecutionOutputBuilder
    {
        StartSyncExecutionOutput::builder()
            .execution_arn(format!("{ARN}:x"))
            .start_date(DateTime::from_secs(0))
            .stop_date(DateTime::from_secs(1))
            .status(status)
    }

    fn record(n: usize) -> HashMap<String, AttributeValue> {
        let id = RecordId::for_fields(&format!("user {n}"), "a@b.com", "1234");
        HashMap::from([
            ("id".to_owned(), AttributeValue::S(id.to_string())),
            (
                "user_name".to_owned(),
                AttributeValue::S(format!("user {n}")),
            ),
            ("email".to_owned(), AttributeValue::S("a@b.com".into())),
            ("pincode".to_owned(), AttributeValue::S("1234".into())),
            (
                "created_at".to_owned(),
                AttributeValue::S("2026-01-01T00:00:00Z".into()),
            ),
        ])
    }

    #[tokio::test]
    async fn the_submission_goes_to_the_state_machine_and_its_record_comes_back() {
        let stored = Record {
            id: RecordId::for_fields("Asha", "asha@example.com", "560001"),
            user_name: "Asha".into(),
            email: "asha@example.com".into(),
            pincode: "560001".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let output = serde_json::to_string(&stored).unwrap();
        let rule = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .match_requests(|req| {
                req.state_machine_arn() == Some(ARN)
                    && req.input().is_some_and(|i| {
                        serde_json::from_str::<RecordInput>(i).ok() == Some(input())
                    })
            })
            .then_output(move || {
                execution(SyncExecutionStatus::Succeeded)
                    .output(output.clone())
                    .build()
                    .unwrap()
            });
        let outcome = workflow(&[&rule]).await.ingest(&input()).await;
        assert_eq!(outcome, Ok(IngestOutcome::Stored(stored)));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_validation_failure_is_the_refused_fields() {
        let rule = mock!(aws_sdk_sfn::Client::start_sync_execution).then_output(|| {
            execution(SyncExecutionStatus::Failed)
                .error(VALIDATION_FAILED)
                .cause(r#"{"pincode":"must be 4 to 6 digits"}"#)
                .build()
                .unwrap()
        });
        let outcome = workflow(&[&rule]).await.ingest(&input()).await;
        assert_eq!(
            outcome,
            Ok(IngestOutcome::Rejected(FieldProblems::from([(
                "pincode".into(),
                "must be 4 to 6 digits".into()
            )])))
        );
    }

    #[tokio::test]
    async fn a_half_valid_record_comes_back_with_its_problems_for_approval() {
        let verdict = crate::rules::validate(
            &RecordInput {
                pincode: Some("56-001".into()),
                ..input()
            },
            "2026-01-01T00:00:00.000Z",
        );
        let cause = serde_json::to_string(&verdict).unwrap();
        let rule = mock!(aws_sdk_sfn::Client::start_sync_execution).then_output(move || {
            execution(SyncExecutionStatus::Failed)
                .error(NEEDS_APPROVAL)
                .cause(cause.clone())
                .build()
                .unwrap()
        });
        let Ok(IngestOutcome::NeedsApproval(submission)) =
            workflow(&[&rule]).await.ingest(&input()).await
        else {
            panic!("expected a submission for approval")
        };
        assert_eq!(submission.record.pincode, "56-001");
        assert_eq!(
            submission.fields,
            FieldProblems::from([("pincode".into(), crate::rules::PINCODE_MALFORMED.into())])
        );
    }

    #[tokio::test]
    async fn other_failures_and_odd_outputs_are_errors_naming_what_happened() {
        let failed = mock!(aws_sdk_sfn::Client::start_sync_execution).then_output(|| {
            execution(SyncExecutionStatus::Failed)
                .error("States.Timeout")
                .build()
                .unwrap()
        });
        assert_eq!(
            workflow(&[&failed]).await.ingest(&input()).await,
            Err(IngestError::WorkflowFailed {
                error: "States.Timeout".into()
            })
        );
        let odd = mock!(aws_sdk_sfn::Client::start_sync_execution).then_output(|| {
            execution(SyncExecutionStatus::Succeeded)
                .output(r#"{"not":"a record"}"#)
                .build()
                .unwrap()
        });
        assert!(matches!(
            workflow(&[&odd]).await.ingest(&input()).await,
            Err(IngestError::UnexpectedOutput(_))
        ));
    }

    #[tokio::test]
    async fn throttling_is_retried_and_reported_only_when_it_outlasts_the_retries() {
        let once = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .sequence()
            .http_response(|| service_error(400, "ThrottlingException"))
            .output(|| {
                execution(SyncExecutionStatus::Failed)
                    .error(VALIDATION_FAILED)
                    .cause("{}")
                    .build()
                    .unwrap()
            })
            .build();
        assert_eq!(
            workflow(&[&once]).await.ingest(&input()).await,
            Ok(IngestOutcome::Rejected(FieldProblems::new()))
        );
        assert_eq!(once.num_calls(), 2);

        let throttled = always(mock!(aws_sdk_sfn::Client::start_sync_execution), || {
            service_error(400, "ThrottlingException")
        });
        assert_eq!(
            workflow(&[&throttled]).await.ingest(&input()).await,
            Err(IngestError::Throttled)
        );
        assert_eq!(throttled.num_calls(), ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_refused_start_is_a_workflow_failure_and_a_dead_service_is_unavailable() {
        let missing = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .then_http_response(|| service_error(400, "StateMachineDoesNotExist"));
        assert_eq!(
            workflow(&[&missing]).await.ingest(&input()).await,
            Err(IngestError::WorkflowFailed {
                error: "StateMachineDoesNotExist".into()
            })
        );
        let down = always(mock!(aws_sdk_sfn::Client::start_sync_execution), || {
            http_response(503, String::new())
        });
        assert!(matches!(
            workflow(&[&down]).await.ingest(&input()).await,
            Err(IngestError::WorkflowFailed { .. } | IngestError::Unavailable(_))
        ));
        assert_eq!(down.num_calls(), ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_page_asks_for_one_item_more_to_know_whether_another_follows() {
        let items: Vec<_> = (0..4).map(record).collect();
        let fourth = RecordId::parse(items[2]["id"].as_s().unwrap()).unwrap();
        let rule = mock!(aws_sdk_dynamodb::Client::scan)
            .match_requests(|req| req.limit() == Some(4) && req.table_name() == Some("records"))
            .then_output(move || ScanOutput::builder().set_items(Some(items.clone())).build());
        let page = catalog(&[&rule]).await.list(3, None).await.unwrap();
        assert_eq!(page.records.len(), 3);
        assert_eq!(page.next_after, Some(fourth));
    }

    #[tokio::test]
    async fn a_short_page_with_a_continuation_key_still_has_a_next_page() {
        let items: Vec<_> = (0..2).map(record).collect();
        let last = RecordId::parse(items[1]["id"].as_s().unwrap()).unwrap();
        let after = RecordId::for_fields("before", "a@b.com", "1234");
        let expected_start = after.to_string();
        let rule = mock!(aws_sdk_dynamodb::Client::scan)
            .match_requests(move |req| {
                req.exclusive_start_key()
                    .and_then(|k| k.get("id"))
                    .and_then(|v| v.as_s().ok())
                    == Some(&expected_start)
            })
            .then_output(move || {
                ScanOutput::builder()
                    .set_items(Some(items.clone()))
                    .last_evaluated_key("id", AttributeValue::S("x".into()))
                    .build()
            });
        let page = catalog(&[&rule]).await.list(5, Some(&after)).await.unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.next_after, Some(last));

        let end = mock!(aws_sdk_dynamodb::Client::scan).then_output(|| {
            ScanOutput::builder()
                .set_items(Some(vec![record(9)]))
                .build()
        });
        assert_eq!(
            catalog(&[&end])
                .await
                .list(5, None)
                .await
                .unwrap()
                .next_after,
            None
        );
    }

    #[tokio::test]
    async fn listing_throttled_past_the_retries_is_throttled_and_bad_items_are_corrupt() {
        let throttled = always(mock!(aws_sdk_dynamodb::Client::scan), || {
            dynamodb_error("ProvisionedThroughputExceededException")
        });
        assert_eq!(
            catalog(&[&throttled]).await.list(5, None).await,
            Err(CatalogError::Throttled)
        );
        for broken in [
            {
                let mut item = record(1);
                item.remove("email");
                item
            },
            {
                let mut item = record(1);
                item.insert("pincode".into(), AttributeValue::N("1234".into()));
                item
            },
            {
                let mut item = record(1);
                item.insert("id".into(), AttributeValue::S("not an id".into()));
                item
            },
        ] {
            let rule = mock!(aws_sdk_dynamodb::Client::scan).then_output(move || {
                ScanOutput::builder()
                    .set_items(Some(vec![broken.clone()]))
                    .build()
            });
            assert!(matches!(
                catalog(&[&rule]).await.list(5, None).await,
                Err(CatalogError::Corrupt(_))
            ));
        }
    }
}
