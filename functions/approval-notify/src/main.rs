//! `approval-notify`: the approve-record workflow's first step. It writes the pending approval
//! with the task token the workflow now waits on, then tells the admins (an SNS topic) what was
//! submitted, what is wrong with it, and how to decide. The token stays in the approval store;
//! the message carries only the approval's id.
//!
//! A retried step (the previous attempt failed after writing) finds the approval as it is. If an
//! admin decided it in between, their decision went to the previous attempt's task, which no
//! longer waits: the step hands that recorded decision to its own task, so it is not lost.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use platform::{ConfigError, Secret, required_env};
use records::approval::{
    ApprovalId, ApprovalStatus, ApprovalStore, Delivery, StoreError, Submission,
};
use records::aws_approvals::{DynamoApprovals, pending_item, send_decision, sfn_client};
use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

/// SNS subjects are plain ASCII without line breaks: the submission goes in the message.
const SUBJECT: &str = "Sluice: a record awaits approval";

#[derive(Debug, Deserialize)]
struct AskEvent {
    task_token: String,
    #[serde(flatten)]
    submission: Submission,
    timeout_seconds: u64,
}

#[derive(Debug, Error)]
enum NotifyError {
    #[error("the step input is not an approval request: {0}")]
    MalformedInput(String),
    #[error("could not write the approval: {0}")]
    StoreFailed(String),
    #[error("could not tell the admins: {0}")]
    NotifyFailed(String),
    #[error("could not hand over a decision already recorded: {0}")]
    DeliverFailed(String),
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        let error_type = match err {
            NotifyError::MalformedInput(_) => "MalformedInput",
            NotifyError::StoreFailed(_) => "StoreFailed",
            NotifyError::NotifyFailed(_) => "NotifyFailed",
            NotifyError::DeliverFailed(_) => "DeliverFailed",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

struct Notifier {
    dynamodb: aws_sdk_dynamodb::Client,
    approvals: DynamoApprovals,
    sfn: aws_sdk_sfn::Client,
    sns: aws_sdk_sns::Client,
    table_name: String,
    topic_arn: String,
    records_url: String,
}

impl Notifier {
    fn from_env(sdk: &platform::SdkConfig) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let table_name = required_env("APPROVALS_TABLE")?;
        Ok(Self {
            approvals: DynamoApprovals::from_client(dynamodb.clone(), table_name.clone()),
            dynamodb,
            sfn: sfn_client(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            table_name,
            topic_arn: required_env("APPROVAL_TOPIC_ARN")?,
            records_url: required_env("RECORDS_URL")?,
        })
    }

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, NotifyError> {
        let ask: AskEvent = serde_json::from_value(event.payload)
            .map_err(|e| NotifyError::MalformedInput(e.to_string()))?;
        let requested_at = platform::now_rfc3339();
        let expires_at = platform::rfc3339_after_now(Duration::from_secs(ask.timeout_seconds));
        let token = Secret::new(ask.task_token);
        let item = pending_item(&ask.submission, &token, &requested_at, &expires_at);
        // A retried step replaces the token of an approval still pending; a decided one is
        // left alone.
        let written = self
            .dynamodb
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(approval_id) OR #s = :pending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(
                ":pending",
                aws_sdk_dynamodb::types::AttributeValue::S("pending".into()),
            )
            .send()
            .await;
        let id = ask.submission.record.id.to_string();
        match written {
            Ok(_) => {}
            Err(SdkError::ServiceError(service))
                if service.err().code() == Some("ConditionalCheckFailedException") =>
            {
                let delivered = self.hand_over(&ask.submission.record.id, &token).await?;
                tracing::warn!(%id, delivered, "the approval was already decided; nobody is asked again");
                return Ok(json!({ "approval_id": id, "asked": false, "delivered": delivered }));
            }
            Err(err) => {
                return Err(NotifyError::StoreFailed(
                    aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
                ));
            }
        }
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(SUBJECT)
            .message(message(&ask.submission, &expires_at, &self.records_url))
            .send()
            .await
            .map_err(|err| {
                NotifyError::NotifyFailed(aws_sdk_sns::error::DisplayErrorContext(err).to_string())
            })?;
        tracing::info!(%id, %expires_at, "asked the admins");
        Ok(json!({ "approval_id": id, "asked": true }))
    }
}

impl Notifier {
    /// The decision recorded on an approval the workflow has not acted on yet, moved to this
    /// step's task and handed to it; `false` when the workflow already acted on one. An approval
    /// found pending again (its decision was withdrawn meanwhile) fails the step, so that the
    /// retry writes it with its own token.
    async fn hand_over(&self, id: &ApprovalId, token: &Secret) -> Result<bool, NotifyError> {
        let unavailable = |err: StoreError| NotifyError::DeliverFailed(err.to_string());
        let Some(stored) = self.approvals.get(id).await.map_err(unavailable)? else {
            return Err(NotifyError::StoreFailed("the approval vanished".into()));
        };
        let approval = stored.approval;
        if approval.outcome.is_some() {
            return Ok(false);
        }
        let Some(decision) = approval
            .decision
            .filter(|_| approval.status != ApprovalStatus::Pending)
        else {
            return Err(NotifyError::StoreFailed(
                "the approval became pending again while it was written".into(),
            ));
        };
        if !self
            .approvals
            .claim_decision(id, &decision, token)
            .await
            .map_err(unavailable)?
        {
            return Err(NotifyError::StoreFailed(
                "the decision changed while it was handed over".into(),
            ));
        }
        match send_decision(&self.sfn, token, &decision).await {
            Ok(Delivery::Delivered) => Ok(true),
            Ok(Delivery::NoLongerWaiting) => Ok(false),
            Err(err) => Err(NotifyError::DeliverFailed(err.to_string())),
        }
    }
}

/// What the admins read: the submission, what is wrong with it, and how to decide.
fn message(submission: &Submission, expires_at: &str, records_url: &str) -> String {
    let record = &submission.record;
    let base = records_url.trim_end_matches('/');
    let mut text = format!(
        "A submission to the records API is half valid and waits for an admin's decision.\n\n\
         Approval: {id}\nDecide by: {expires_at} (after that it is discarded)\n\n\
         user_name: {name}\nemail:     {email}\npincode:   {pincode}\n\nWhat is wrong:\n",
        id = record.id,
        name = record.user_name,
        email = record.email,
        pincode = record.pincode,
    );
    for (field, why) in &submission.fields {
        text.push_str(&format!("  {field}: {why}\n"));
    }
    text.push_str(&format!(
        "\nTo decide, with the admin key:\n\
         curl -X POST -H 'Authorization: Bearer <admin key>' \\\n  \
         -d decision=approve -d decided_by='<your name>' -d note='<optional>' \\\n  \
         {base}/approvals/{id}\n\
         Send decision=reject to discard it. Or in a browser, every pending approval with\n\
         approve and reject buttons: {base}/approvals?format=html\n",
        id = record.id,
    ));
    text
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    platform::init_tracing();
    let sdk = platform::aws_config().await;
    let notifier = Notifier::from_env(&sdk)?;
    lambda_runtime::run(service_fn(|event| notifier.handle(event))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
    use aws_sdk_sns::operation::publish::PublishOutput;
    use lambda_runtime::Context;
    use platform::mocks::{Rule, always, dynamodb_error, mock, service_error};

    fn event() -> LambdaEvent<Value> {
        LambdaEvent::new(
            json!({
                "task_token": "secret-token",
                "record": {
                    "id": "0123456789abcdef0123456789abcdef",
                    "user_name": "Asha",
                    "email": "asha@example.com",
                    "pincode": "56-001",
                    "created_at": "2026-12-01T10:00:00.000Z"
                },
                "fields": {"pincode": "must be 4 to 6 digits"},
                "timeout_seconds": 600
            }),
            Context::default(),
        )
    }

    async fn notifier(dynamodb: &[&Rule], sns: &[&Rule]) -> Notifier {
        with_sfn(dynamodb, sns, &[]).await
    }

    async fn with_sfn(dynamodb: &[&Rule], sns: &[&Rule], sfn: &[&Rule]) -> Notifier {
        let client = platform::mocked_client!(aws_sdk_dynamodb, dynamodb);
        Notifier {
            approvals: DynamoApprovals::from_client(client.clone(), "approvals".into()),
            dynamodb: client,
            sfn: platform::mocked_client!(aws_sdk_sfn, sfn),
            sns: platform::mocked_client!(aws_sdk_sns, sns),
            table_name: "approvals".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:admins".into(),
            records_url: "https://records.example/".into(),
        }
    }

    #[tokio::test]
    async fn the_token_goes_to_the_store_and_the_admins_read_everything_but_it() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(|req| {
                let item = req.item().unwrap();
                item["task_token"].as_s().ok().map(String::as_str) == Some("secret-token")
                    && item["status"].as_s().ok().map(String::as_str) == Some("pending")
                    && item["queue"].as_s().ok().map(String::as_str) == Some("pending")
                    && item["pincode"].as_s().ok().map(String::as_str) == Some("56-001")
            })
            .then_output(|| PutItemOutput::builder().build());
        let publish = mock!(aws_sdk_sns::Client::publish)
            .match_requests(|req| {
                let text = req.message().unwrap_or("");
                !text.contains("secret-token")
                    && text.contains("0123456789abcdef0123456789abcdef")
                    && text.contains("pincode: must be 4 to 6 digits")
                    && text.contains("https://records.example/approvals/0123456789abcdef")
                    && req.subject() == Some(SUBJECT)
            })
            .then_output(|| PublishOutput::builder().message_id("m").build());
        let answer = notifier(&[&put], &[&publish])
            .await
            .handle(event())
            .await
            .unwrap();
        assert_eq!(answer["asked"], true);
        assert_eq!((put.num_calls(), publish.num_calls()), (1, 1));
    }

    /// The approval as the store holds it once decided (and, with `outcome`, acted on).
    fn decided(outcome: Option<&str>) -> HashMap<String, AttributeValue> {
        let ask: AskEvent = serde_json::from_value(event().payload).unwrap();
        let mut item = pending_item(
            &ask.submission,
            &Secret::new("first-attempt-token"),
            "2026-12-01T10:00:00.000Z",
            "2026-12-08T10:00:00.000Z",
        );
        item.remove("queue");
        for (name, value) in [
            ("status", "approved"),
            ("decision", "approve"),
            ("decided_by", "Priya"),
            ("decided_at", "2026-12-01T10:00:05.000Z"),
        ]
        .into_iter()
        .chain(outcome.map(|outcome| ("outcome", outcome)))
        {
            item.insert(name.into(), AttributeValue::S(value.into()));
        }
        item
    }

    /// The conditional put of a retried step, refused: the approval is no longer pending.
    fn already_written() -> Rule {
        mock!(aws_sdk_dynamodb::Client::put_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"))
    }

    /// The approval read back as decided (and, with `outcome`, acted on).
    fn read_back(outcome: Option<&'static str>) -> Rule {
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(decided(outcome)))
                .build()
        })
    }

    #[tokio::test]
    async fn a_decided_approval_is_not_asked_about_again() {
        let put = already_written();
        let get = read_back(Some("stored"));
        let publish =
            mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let answer = with_sfn(&[&put, &get], &[&publish], &[&send])
            .await
            .handle(event())
            .await
            .unwrap();
        assert_eq!(
            (answer["asked"].clone(), answer["delivered"].clone()),
            (json!(false), json!(false))
        );
        assert_eq!((publish.num_calls(), send.num_calls()), (0, 0));
    }

    #[tokio::test]
    async fn a_decision_made_while_the_step_was_retried_goes_to_the_new_task() {
        let put = already_written();
        let get = read_back(None);
        // The decision moves to this attempt's token before it is handed over.
        let claim = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|req| {
                req.expression_attribute_values().is_some_and(|values| {
                    values[":token"].as_s().ok().map(String::as_str) == Some("secret-token")
                        && values[":by"].as_s().ok().map(String::as_str) == Some("Priya")
                })
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|req| {
                req.task_token() == Some("secret-token")
                    && req.output().is_some_and(|out| {
                        out.contains("\"decision\":\"approve\"") && out.contains("Priya")
                    })
            })
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let answer = with_sfn(&[&put, &get, &claim], &[], &[&send])
            .await
            .handle(event())
            .await
            .unwrap();
        assert_eq!(answer["delivered"], true);
        assert_eq!((claim.num_calls(), send.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_decision_withdrawn_meanwhile_fails_the_step_so_its_retry_writes_the_approval() {
        let put = already_written();
        let get = read_back(None);
        let lost = mock!(aws_sdk_dynamodb::Client::update_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"));
        let send = mock!(aws_sdk_sfn::Client::send_task_success)
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let err = with_sfn(&[&put, &get, &lost], &[], &[&send])
            .await
            .handle(event())
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "StoreFailed");
        assert_eq!(send.num_calls(), 0, "nothing handed over");
    }

    #[tokio::test]
    async fn failures_are_typed_for_the_workflow_to_retry() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .then_output(|| PutItemOutput::builder().build());
        let down = always(mock!(aws_sdk_sns::Client::publish), || {
            service_error(500, "InternalError")
        });
        let err = notifier(&[&put], &[&down])
            .await
            .handle(event())
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "NotifyFailed");

        let broken = LambdaEvent::new(json!({"record": 1}), Context::default());
        let err = notifier(&[], &[]).await.handle(broken).await.unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "MalformedInput");
    }
}
