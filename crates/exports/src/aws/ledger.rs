//! The exports ledger in DynamoDB: one item per export (`export_id`), and one per queued
//! request (`request#<key>` → `points_to`), which makes the same request again find its export.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use platform::SdkConfig;

use super::service_error;
use crate::export::{Export, Status};
use crate::ports::{Created, ExportLedger, ServiceError};

pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(sdk: &SdkConfig, table: String) -> Self {
        DynamoLedger {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table,
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn request_id(request_key: &str) -> String {
    format!("request#{request_key}")
}

fn item_of(export: &Export, request_key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("export_id".to_owned(), s(&export.export_id)),
        ("app_id".to_owned(), s(&export.app_id)),
        ("from".to_owned(), s(&export.from)),
        ("to".to_owned(), s(&export.to)),
        ("email".to_owned(), s(&export.email)),
        ("status".to_owned(), s(export.status.as_str())),
        ("requested_at".to_owned(), s(&export.requested_at)),
        ("request_key".to_owned(), s(request_key)),
    ])
}

fn export_of(item: &HashMap<String, AttributeValue>) -> Result<Export, ServiceError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let required = |name: &str| {
        text(name)
            .ok_or_else(|| ServiceError::Refused(format!("the ledger's export has no {name}")))
    };
    let status = required("status")?;
    Ok(Export {
        export_id: required("export_id")?,
        app_id: required("app_id")?,
        from: required("from")?,
        to: required("to")?,
        email: required("email")?,
        status: Status::parse(&status).ok_or_else(|| {
            ServiceError::Refused(format!("the ledger's status {status} is unknown"))
        })?,
        requested_at: required("requested_at")?,
        started_at: text("started_at"),
        finished_at: text("finished_at"),
        rows: item
            .get("rows")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok()),
        error: text("error"),
    })
}

fn condition_failed<E: aws_smithy_types::error::metadata::ProvideErrorMetadata, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl DynamoLedger {
    async fn item(
        &self,
        id: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, ServiceError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key("export_id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(service_error)?
            .item)
    }

    /// `set` on the export if `condition` holds (by default: if it exists); names in `#name`
    /// form are the attributes of the same name.
    async fn update(
        &self,
        id: &str,
        set: &str,
        values: &[(&str, AttributeValue)],
        condition: Option<&str>,
    ) -> Result<bool, ServiceError> {
        let condition = condition.unwrap_or("attribute_exists(export_id)");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("export_id", s(id))
            .update_expression(set)
            .condition_expression(condition);
        for name in ["status", "rows", "error"] {
            let placeholder = format!("#{name}");
            if set.contains(&placeholder) || condition.contains(&placeholder) {
                update = update.expression_attribute_names(placeholder, name);
            }
        }
        for (name, value) in values {
            update = update.expression_attribute_values(*name, value.clone());
        }
        match update.send().await {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(service_error(err)),
        }
    }
}

impl ExportLedger for DynamoLedger {
    async fn create(&self, export: &Export, request_key: &str) -> Result<Created, ServiceError> {
        let pointer = request_id(request_key);
        for _ in 0..3 {
            let put = |item: HashMap<String, AttributeValue>| {
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(export_id)")
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|err| ServiceError::Refused(err.to_string()))
            };
            let written = self
                .client
                .transact_write_items()
                .transact_items(put(item_of(export, request_key))?)
                .transact_items(put(HashMap::from([
                    ("export_id".to_owned(), s(&pointer)),
                    ("points_to".to_owned(), s(&export.export_id)),
                ]))?)
                .send()
                .await;
            let err = match written {
                Ok(_) => return Ok(Created::New),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                    canceled.cancellation_reasons()
                }
                _ => &[],
            };
            // The same request at the same moment: DynamoDB cancels one of two transactions on
            // the same item as a conflict; tried again, it finds the other's pointer.
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                continue;
            }
            let pointer_taken =
                reasons.get(1).and_then(|reason| reason.code()) == Some("ConditionalCheckFailed");
            if !pointer_taken {
                return Err(service_error(err));
            }
            let Some(points_to) = self
                .item(&pointer)
                .await?
                .and_then(|i| i.get("points_to").and_then(|v| v.as_s().ok()).cloned())
            else {
                continue; // let go meanwhile: try again
            };
            if let Some(item) = self.item(&points_to).await? {
                let existing = export_of(&item)?;
                if existing.status == Status::Queued {
                    return Ok(Created::Existing(Box::new(existing)));
                }
            }
            // The request's export is past queued but still points here: let it go.
            let _ = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("export_id", s(&pointer))
                .condition_expression("points_to = :id")
                .expression_attribute_values(":id", s(&points_to))
                .send()
                .await;
        }
        Err(ServiceError::Unavailable(
            "the request's export kept changing".into(),
        ))
    }

    async fn get(&self, export_id: &str) -> Result<Option<Export>, ServiceError> {
        self.item(export_id)
            .await?
            .as_ref()
            .map(export_of)
            .transpose()
    }

    async fn start(&self, export: &Export, at: &str) -> Result<bool, ServiceError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("export_id", s(&export.export_id))
            .update_expression("SET #status = :running, started_at = :at")
            .condition_expression("#status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(Status::Running.as_str()))
            .expression_attribute_values(":queued", s(Status::Queued.as_str()))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let attributes = match updated {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(err) if condition_failed(&err) => return Ok(false),
            Err(err) => return Err(service_error(err)),
        };
        if let Some(key) = attributes.get("request_key").and_then(|v| v.as_s().ok()) {
            let released = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("export_id", s(&request_id(key)))
                .condition_expression("points_to = :id")
                .expression_attribute_values(":id", s(&export.export_id))
                .send()
                .await;
            if let Err(err) = released
                && !condition_failed(&err)
            {
                return Err(service_error(err));
            }
        }
        Ok(true)
    }

    async fn finish(&self, export_id: &str, rows: u64, at: &str) -> Result<(), ServiceError> {
        self.update(
            export_id,
            "SET #rows = :rows, finished_at = :at",
            &[
                (":rows", AttributeValue::N(rows.to_string())),
                (":at", s(at)),
            ],
            None,
        )
        .await
        .map(|_| ())
    }

    async fn claim_mail(
        &self,
        export_id: &str,
        at: &str,
        stale_before: &str,
    ) -> Result<bool, ServiceError> {
        self.update(
            export_id,
            "SET mail_claimed_at = :at",
            &[
                (":at", s(at)),
                (":stale", s(stale_before)),
                (":running", s(Status::Running.as_str())),
            ],
            Some(
                "#status = :running AND (attribute_not_exists(mail_claimed_at) \
                 OR mail_claimed_at < :stale)",
            ),
        )
        .await
    }

    async fn ready(&self, export_id: &str) -> Result<bool, ServiceError> {
        self.update(
            export_id,
            "SET #status = :ready",
            &[
                (":ready", s(Status::Ready.as_str())),
                (":running", s(Status::Running.as_str())),
            ],
            Some("#status = :running"),
        )
        .await
    }

    async fn fail(&self, export_id: &str, reason: &str, at: &str) -> Result<bool, ServiceError> {
        self.update(
            export_id,
            "SET #status = :failed, #error = :error, finished_at = :at",
            &[
                (":failed", s(Status::Failed.as_str())),
                (":error", s(reason)),
                (":at", s(at)),
                (":queued", s(Status::Queued.as_str())),
                (":running", s(Status::Running.as_str())),
            ],
            Some("#status IN (:queued, :running)"),
        )
        .await
    }
}
