//! Adapters from the approval ports to AWS: DynamoDB keeps the approvals, Step Functions runs
//! the approve-record workflow. The item layout lives here, once, for the records API that reads
//! it and the approval-notify function that writes it.
//!
//! An approval item is keyed by `approval_id`. While it is pending it also carries
//! `queue = "pending"`, the partition key of the sparse `pending` index (sorted by
//! `requested_at`), so the pending approvals are one query and a decided one drops out of it.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_types::error::display::DisplayErrorContext;
use platform::{SdkConfig, Secret};
use serde_json::json;

use crate::approval::{
    Approval, ApprovalId, ApprovalPage, ApprovalStatus, ApprovalStore, ApprovalWorkflow, Decision,
    Delivery, Opening, Outcome, PendingPosition, Recorded, Ruling, Started, StoreError,
    StoredApproval, Submission, WorkflowError,
};
use crate::record::{Record, RecordId};
use crate::rules::FieldProblems;

pub const PENDING_INDEX: &str = "pending";
pub const PENDING_QUEUE: &str = "pending";

/// The workflow's input: the submission and the admin's time in whole seconds.
pub fn workflow_input(submission: &Submission, timeout: Duration) -> String {
    json!({
        "record": submission.record,
        "fields": submission.fields,
        "timeout_seconds": timeout.as_secs(),
    })
    .to_string()
}

/// A new pending approval, as the approval-notify function writes it.
pub fn pending_item(
    submission: &Submission,
    task_token: &Secret,
    requested_at: &str,
    expires_at: &str,
) -> HashMap<String, AttributeValue> {
    let record = &submission.record;
    let s = |value: &str| AttributeValue::S(value.to_owned());
    HashMap::from([
        ("approval_id".to_owned(), s(record.id.as_str())),
        ("status".to_owned(), s(ApprovalStatus::Pending.as_str())),
        ("queue".to_owned(), s(PENDING_QUEUE)),
        ("requested_at".to_owned(), s(requested_at)),
        ("expires_at".to_owned(), s(expires_at)),
        ("user_name".to_owned(), s(&record.user_name)),
        ("email".to_owned(), s(&record.email)),
        ("pincode".to_owned(), s(&record.pincode)),
        ("created_at".to_owned(), s(&record.created_at)),
        (
            "problems".to_owned(),
            AttributeValue::M(
                submission
                    .fields
                    .iter()
                    .map(|(field, why)| (field.clone(), s(why)))
                    .collect(),
            ),
        ),
        ("task_token".to_owned(), s(task_token.expose())),
    ])
}

/// Reads an item back; every attribute the layout promises must be there.
pub fn approval_from_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<StoredApproval, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> {
        match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(StoreError::Corrupt(format!(
                "attribute {name} is missing or not a string"
            ))),
        }
    };
    let optional = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    let id = RecordId::parse(&text("approval_id")?)
        .ok_or_else(|| StoreError::Corrupt("approval_id is not a record id".into()))?;
    let status = ApprovalStatus::parse(&text("status")?)
        .ok_or_else(|| StoreError::Corrupt("status is not an approval status".into()))?;
    let problems: FieldProblems = match item.get("problems") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(field, why)| match why {
                AttributeValue::S(why) => Ok((field.clone(), why.clone())),
                _ => Err(StoreError::Corrupt(format!(
                    "problem {field} is not a string"
                ))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(StoreError::Corrupt(
                "problems is missing or not a map".into(),
            ));
        }
    };
    let decision = match optional("decision") {
        None => None,
        Some(ruling) => Some(Decision {
            decision: match ruling.as_str() {
                "approve" => Ruling::Approve,
                "reject" => Ruling::Reject,
                _ => {
                    return Err(StoreError::Corrupt(
                        "decision is not approve or reject".into(),
                    ));
                }
            },
            decided_by: text("decided_by")?,
            decided_at: text("decided_at")?,
            note: optional("note"),
        }),
    };
    let outcome = match optional("outcome") {
        None => None,
        Some(outcome) => Some(
            Outcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt("outcome is not stored or discarded".into()))?,
        ),
    };
    Ok(StoredApproval {
        approval: Approval {
            record: Record {
                id: id.clone(),
                user_name: text("user_name")?,
                email: text("email")?,
                pincode: text("pincode")?,
                created_at: text("created_at")?,
            },
            id,
            status,
            problems,
            requested_at: text("requested_at")?,
            expires_at: text("expires_at")?,
            decision,
            outcome,
        },
        task_token: optional("task_token").map(Secret::new),
    })
}

pub struct DynamoApprovals {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
}

impl DynamoApprovals {
    pub fn new(sdk: &SdkConfig, table_name: String) -> Self {
        Self::from_client(aws_sdk_dynamodb::Client::new(sdk), table_name)
    }

    pub fn from_client(client: aws_sdk_dynamodb::Client, table_name: String) -> Self {
        Self { client, table_name }
    }

    fn key(id: &ApprovalId) -> HashMap<String, AttributeValue> {
        HashMap::from([("approval_id".to_owned(), AttributeValue::S(id.to_string()))])
    }
}

fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &err
        && matches!(
            service.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
            )
        )
    {
        return StoreError::Throttled;
    }
    StoreError::Unavailable(DisplayErrorContext(&err).to_string())
}

fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(err, SdkError::ServiceError(service)
        if service.err().code() == Some("ConditionalCheckFailedException"))
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

impl ApprovalStore for DynamoApprovals {
    async fn get(&self, id: &ApprovalId) -> Result<Option<StoredApproval>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.as_ref().map(approval_from_item).transpose()
    }

    async fn list_pending(
        &self,
        limit: usize,
        after: Option<&PendingPosition>,
    ) -> Result<ApprovalPage, StoreError> {
        let fetch = i32::try_from(limit + 1).unwrap_or(i32::MAX);
        let output = self
            .client
            .query()
            .table_name(&self.table_name)
            .index_name(PENDING_INDEX)
            .key_condition_expression("#q = :pending")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_values(":pending", s(PENDING_QUEUE))
            .limit(fetch)
            .set_exclusive_start_key(after.map(|position| {
                HashMap::from([
                    ("approval_id".to_owned(), s(position.id.as_str())),
                    ("queue".to_owned(), s(PENDING_QUEUE)),
                    ("requested_at".to_owned(), s(&position.requested_at)),
                ])
            }))
            .send()
            .await
            .map_err(store_error)?;
        let mut approvals = output
            .items()
            .iter()
            .map(|item| approval_from_item(item).map(|stored| stored.approval))
            .collect::<Result<Vec<_>, _>>()?;
        let more = approvals.len() > limit || output.last_evaluated_key().is_some();
        approvals.truncate(limit);
        let next_after = more
            .then(|| approvals.last())
            .flatten()
            .map(|last| PendingPosition {
                requested_at: last.requested_at.clone(),
                id: last.id.clone(),
            });
        Ok(ApprovalPage {
            approvals,
            next_after,
        })
    }

    async fn record_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> Result<Recorded, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key(id)))
            .condition_expression(
                "#s = :pending AND task_token = :token AND attribute_not_exists(outcome)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_names("#d", "decision")
            .expression_attribute_values(":token", s(token.expose()))
            .expression_attribute_values(":pending", s(ApprovalStatus::Pending.as_str()))
            .expression_attribute_values(":status", s(decision.decision.status().as_str()))
            .expression_attribute_values(":decision", s(decision.decision.as_str()))
            .expression_attribute_values(":by", s(&decision.decided_by))
            .expression_attribute_values(":at", s(&decision.decided_at));
        update = match &decision.note {
            Some(note) => update
                .update_expression(
                    "SET #s = :status, #d = :decision, decided_by = :by, decided_at = :at, \
                     #n = :note REMOVE #q",
                )
                .expression_attribute_names("#n", "note")
                .expression_attribute_values(":note", s(note)),
            None => update.update_expression(
                "SET #s = :status, #d = :decision, decided_by = :by, decided_at = :at REMOVE #q",
            ),
        };
        match update.send().await {
            Ok(_) => Ok(Recorded::Recorded),
            Err(err) if condition_failed(&err) => Ok(Recorded::NotPending),
            Err(err) => Err(store_error(err)),
        }
    }

    async fn withdraw_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key(id)))
            .update_expression(
                "SET #s = :pending, #q = :queue REMOVE #d, decided_by, decided_at, #n",
            )
            .condition_expression(
                "#s = :status AND decided_at = :at AND decided_by = :by \
                 AND task_token = :token AND attribute_not_exists(outcome)",
            )
            .expression_attribute_values(":token", s(token.expose()))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_names("#d", "decision")
            .expression_attribute_names("#n", "note")
            .expression_attribute_values(":pending", s(ApprovalStatus::Pending.as_str()))
            .expression_attribute_values(":queue", s(PENDING_QUEUE))
            .expression_attribute_values(":status", s(decision.decision.status().as_str()))
            .expression_attribute_values(":by", s(&decision.decided_by))
            .expression_attribute_values(":at", s(&decision.decided_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(store_error(err)),
        }
    }
}

impl DynamoApprovals {
    /// Moves a recorded decision, not yet acted on, to the task waiting on `token` (a retried
    /// first step's), so that task can be handed it. `false`: the decision was withdrawn or
    /// acted on meanwhile.
    pub async fn claim_decision(
        &self,
        id: &ApprovalId,
        decision: &Decision,
        token: &Secret,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key(id)))
            .update_expression("SET task_token = :token")
            .condition_expression(
                "#s = :status AND decided_at = :at AND decided_by = :by \
                 AND attribute_not_exists(outcome)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":token", s(token.expose()))
            .expression_attribute_values(":status", s(decision.decision.status().as_str()))
            .expression_attribute_values(":by", s(&decision.decided_by))
            .expression_attribute_values(":at", s(&decision.decided_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(store_error(err)),
        }
    }
}

pub struct SfnApprovals {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

/// A Step Functions client; locally, one that the local stack's endpoint accepts.
pub fn sfn_client(sdk: &SdkConfig) -> aws_sdk_sfn::Client {
    let mut config = aws_sdk_sfn::config::Builder::from(sdk);
    if platform::is_local_endpoint() {
        config = config.interceptor(platform::StripEndpointPrefix);
    }
    aws_sdk_sfn::Client::from_conf(config.build())
}

/// Hands a decision to the task waiting on `token`.
pub async fn send_decision(
    client: &aws_sdk_sfn::Client,
    token: &Secret,
    decision: &Decision,
) -> Result<Delivery, WorkflowError> {
    let output = serde_json::to_string(decision).unwrap_or_else(|_| "{}".into());
    let result = client
        .send_task_success()
        .task_token(token.expose())
        .output(output)
        // No retry inside the SDK: a retried call whose first attempt landed answers that the
        // task no longer waits, or is throttled, and the caller could not tell either from a
        // call that never landed. The caller decides what a retry means.
        .customize()
        .config_override(
            aws_sdk_sfn::config::Builder::default()
                .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(Delivery::Delivered),
        Err(err)
            if matches!(
                code_of(&err),
                Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist")
            ) =>
        {
            Ok(Delivery::NoLongerWaiting)
        }
        Err(err) => Err(workflow_error(err)),
    }
}

impl SfnApprovals {
    pub fn new(sdk: &SdkConfig, state_machine_arn: String) -> Self {
        Self {
            client: sfn_client(sdk),
            state_machine_arn,
        }
    }

    /// Executions are named by approval id, so their ARNs follow from the state machine's.
    fn execution_arn(&self, id: &ApprovalId) -> String {
        format!(
            "{}:{id}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

fn workflow_error<E>(err: SdkError<E, HttpResponse>) -> WorkflowError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        // A server error does not say the call did not land: it is not a refusal.
        SdkError::ServiceError(service) if service.raw().status().is_server_error() => {
            WorkflowError::Unavailable(DisplayErrorContext(&err).to_string())
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException" | "TooManyRequestsException") => WorkflowError::Throttled,
            code => WorkflowError::Refused(code.unwrap_or("unknown").to_owned()),
        },
        _ => WorkflowError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

impl ApprovalWorkflow for SfnApprovals {
    async fn start(
        &self,
        submission: &Submission,
        timeout: Duration,
    ) -> Result<Started, WorkflowError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(submission.record.id.as_str())
            .input(workflow_input(submission, timeout))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::Started),
            Err(err) if code_of(&err) == Some("ExecutionAlreadyExists") => {
                Ok(Started::AlreadyExists)
            }
            Err(err) => Err(workflow_error(err)),
        }
    }

    async fn opening(&self, id: &ApprovalId) -> Result<Option<Opening>, WorkflowError> {
        let result = self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(id))
            .send()
            .await;
        let execution = match result {
            Ok(execution) => execution,
            Err(err) if code_of(&err) == Some("ExecutionDoesNotExist") => return Ok(None),
            Err(err) => return Err(workflow_error(err)),
        };
        if execution.status() != &ExecutionStatus::Running {
            return Ok(None);
        }
        #[derive(serde::Deserialize)]
        struct Input {
            #[serde(flatten)]
            submission: Submission,
            timeout_seconds: u64,
        }
        let Some(input) = execution
            .input()
            .and_then(|text| serde_json::from_str::<Input>(text).ok())
        else {
            return Ok(None);
        };
        let start = execution.start_date();
        let timeout = i64::try_from(input.timeout_seconds).unwrap_or(i64::MAX);
        Ok(Some(Opening {
            submission: input.submission,
            started_at: platform::rfc3339_from_unix(start.secs(), start.subsec_nanos()),
            expires_at: platform::rfc3339_from_unix(
                start.secs().saturating_add(timeout),
                start.subsec_nanos(),
            ),
        }))
    }

    async fn deliver(
        &self,
        token: &Secret,
        decision: &Decision,
    ) -> Result<Delivery, WorkflowError> {
        send_decision(&self.client, token, decision).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_smithy_types::DateTime;
    use platform::mocks::{Rule, always, dynamodb_error, mock, service_error};

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:approve";

    fn submission(name: &str) -> Submission {
        Submission {
            record: Record {
                id: RecordId::for_fields(name, "a@b.com", "12"),
                user_name: name.into(),
                email: "a@b.com".into(),
                pincode: "12".into(),
                created_at: "2026-12-01T10:00:00.000Z".into(),
            },
            fields: FieldProblems::from([("pincode".into(), "must be 4 to 6 digits".into())]),
        }
    }

    fn item(name: &str, requested_at: &str) -> HashMap<String, AttributeValue> {
        pending_item(
            &submission(name),
            &Secret::new("token"),
            requested_at,
            "2026-12-08T10:00:00.000Z",
        )
    }

    async fn store(rules: &[&Rule]) -> DynamoApprovals {
        DynamoApprovals {
            client: platform::mocked_client!(aws_sdk_dynamodb, rules),
            table_name: "approvals".into(),
        }
    }

    async fn workflow(rules: &[&Rule]) -> SfnApprovals {
        SfnApprovals {
            client: platform::mocked_client!(aws_sdk_sfn, rules),
            state_machine_arn: ARN.into(),
        }
    }

    fn decision() -> Decision {
        Decision {
            decision: Ruling::Approve,
            decided_by: "Priya".into(),
            decided_at: "2026-12-01T11:00:00.000Z".into(),
            note: None,
        }
    }

    #[test]
    fn an_item_reads_back_as_the_approval_it_was_written_for() {
        let stored = approval_from_item(&item("Asha", "2026-12-01T10:00:01.000Z")).unwrap();
        assert_eq!(stored.approval.record, submission("Asha").record);
        assert_eq!(stored.approval.problems, submission("Asha").fields);
        assert_eq!(stored.approval.status, ApprovalStatus::Pending);
        assert_eq!(stored.approval.decision, None);
        assert_eq!(stored.task_token, Some(Secret::new("token")));
        let mut broken = item("Asha", "2026-12-01T10:00:01.000Z");
        broken.insert("status".into(), s("maybe"));
        assert!(matches!(
            approval_from_item(&broken),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn get_reads_consistently_and_a_missing_item_is_none() {
        let found = mock!(aws_sdk_dynamodb::Client::get_item)
            .match_requests(|req| req.consistent_read() == Some(true))
            .then_output(|| {
                GetItemOutput::builder()
                    .set_item(Some(item("Asha", "2026-12-01T10:00:01.000Z")))
                    .build()
            });
        let id = submission("Asha").record.id;
        assert!(store(&[&found]).await.get(&id).await.unwrap().is_some());
        let missing = mock!(aws_sdk_dynamodb::Client::get_item)
            .then_output(|| GetItemOutput::builder().build());
        assert_eq!(store(&[&missing]).await.get(&id).await, Ok(None));
    }

    #[tokio::test]
    async fn pending_approvals_are_a_query_of_the_sparse_index_resumed_where_a_page_ended() {
        let items = vec![
            item("a", "2026-12-01T10:00:01.000Z"),
            item("b", "2026-12-01T10:00:02.000Z"),
            item("c", "2026-12-01T10:00:03.000Z"),
        ];
        let after = PendingPosition {
            requested_at: "2026-12-01T10:00:00.000Z".into(),
            id: submission("z").record.id,
        };
        let expected_start = after.id.to_string();
        let rule = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(move |req| {
                req.index_name() == Some(PENDING_INDEX)
                    && req.limit() == Some(3)
                    && req
                        .exclusive_start_key()
                        .and_then(|k| k.get("approval_id"))
                        .and_then(|v| v.as_s().ok())
                        == Some(&expected_start)
            })
            .then_output(move || {
                QueryOutput::builder()
                    .set_items(Some(items.clone()))
                    .build()
            });
        let page = store(&[&rule])
            .await
            .list_pending(2, Some(&after))
            .await
            .unwrap();
        assert_eq!(page.approvals.len(), 2);
        assert_eq!(
            page.next_after,
            Some(PendingPosition {
                requested_at: "2026-12-01T10:00:02.000Z".into(),
                id: submission("b").record.id,
            })
        );
    }

    #[tokio::test]
    async fn a_decision_is_recorded_only_while_pending() {
        let recorded = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|req| {
                req.condition_expression()
                    == Some(
                        "#s = :pending AND task_token = :token AND attribute_not_exists(outcome)",
                    )
                    && req.expression_attribute_values().is_some_and(|values| {
                        values[":token"].as_s().ok().map(String::as_str) == Some("the-token")
                    })
                    && req
                        .update_expression()
                        .is_some_and(|u| u.contains("REMOVE #q"))
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let id = submission("Asha").record.id;
        assert_eq!(
            store(&[&recorded])
                .await
                .record_decision(&id, &decision(), &Secret::new("the-token"))
                .await,
            Ok(Recorded::Recorded)
        );
        let lost = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"));
        assert_eq!(
            store(&[&lost])
                .await
                .record_decision(&id, &decision(), &Secret::new("the-token"))
                .await,
            Ok(Recorded::NotPending)
        );
    }

    #[tokio::test]
    async fn an_execution_is_named_by_its_approval_and_a_second_start_is_reported() {
        let first = mock!(aws_sdk_sfn::Client::start_execution)
            .match_requests(|req| {
                req.name() == Some(submission("Asha").record.id.as_str())
                    && req
                        .input()
                        .is_some_and(|i| i.contains("\"timeout_seconds\":60"))
            })
            .then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn("arn:x")
                    .start_date(DateTime::from_secs(0))
                    .build()
                    .unwrap()
            });
        assert_eq!(
            workflow(&[&first])
                .await
                .start(&submission("Asha"), Duration::from_secs(60))
                .await,
            Ok(Started::Started)
        );
        let again = mock!(aws_sdk_sfn::Client::start_execution)
            .then_http_response(|| service_error(400, "ExecutionAlreadyExists"));
        assert_eq!(
            workflow(&[&again])
                .await
                .start(&submission("Asha"), Duration::from_secs(60))
                .await,
            Ok(Started::AlreadyExists)
        );
    }

    #[tokio::test]
    async fn a_decision_after_the_wait_ended_is_no_longer_waited_for() {
        let delivered = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|req| {
                req.task_token() == Some("token")
                    && req.output().is_some_and(|o| o.contains("\"approve\""))
            })
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let token = Secret::new("token");
        assert_eq!(
            workflow(&[&delivered])
                .await
                .deliver(&token, &decision())
                .await,
            Ok(Delivery::Delivered)
        );
        for code in ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"] {
            let late = mock!(aws_sdk_sfn::Client::send_task_success)
                .then_http_response(move || service_error(400, code));
            assert_eq!(
                workflow(&[&late]).await.deliver(&token, &decision()).await,
                Ok(Delivery::NoLongerWaiting),
                "{code}"
            );
        }
    }

    #[tokio::test]
    async fn a_hand_over_is_tried_once_and_only_a_clear_no_is_a_refusal() {
        // Once: the SDK does not retry it, whatever the error.
        let throttled = always(mock!(aws_sdk_sfn::Client::send_task_success), || {
            service_error(400, "ThrottlingException")
        });
        let token = Secret::new("token");
        assert_eq!(
            workflow(&[&throttled])
                .await
                .deliver(&token, &decision())
                .await,
            Err(WorkflowError::Throttled)
        );
        assert_eq!(throttled.num_calls(), 1);
        // A server error may have landed: unknown, not refused.
        let broken = always(mock!(aws_sdk_sfn::Client::send_task_success), || {
            service_error(500, "InternalFailure")
        });
        assert!(matches!(
            workflow(&[&broken])
                .await
                .deliver(&token, &decision())
                .await,
            Err(WorkflowError::Unavailable(_))
        ));
        let refused = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_http_response(|| service_error(400, "InvalidOutput"));
        assert_eq!(
            workflow(&[&refused])
                .await
                .deliver(&token, &decision())
                .await,
            Err(WorkflowError::Refused("InvalidOutput".into()))
        );
    }

    #[test]
    fn execution_arns_follow_from_the_state_machine() {
        let id = submission("Asha").record.id;
        let arn = format!("arn:aws:states:us-east-1:123456789012:execution:approve:{id}");
        let workflow = SfnApprovals {
            client: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::Config::builder()
                    .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
                    .build(),
            ),
            state_machine_arn: ARN.into(),
        };
        assert_eq!(workflow.execution_arn(&id), arn);
    }
}
