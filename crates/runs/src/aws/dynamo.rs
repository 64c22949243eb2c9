//! The run ledger in DynamoDB: one item per run, every transition a conditional write.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use platform::SdkConfig;

use crate::ports::{
    AlertLedger, LedgerError, ListPosition, Recorded, RunCatalog, RunLedger, RunListing, RunPage,
    RunQuery,
};
use crate::run::{
    AttemptFailure, Engine, InputObject, InputPart, ObjectVersion, ReportLocation, Run, RunId,
    RunStatus,
};

type Item = HashMap<String, AttributeValue>;

/// Every run carries this in `ledger`, the partition key of the `by-created` index, which lists
/// all runs newest first; `by-status` lists the runs of one status newest first.
const LEDGER: &str = "runs";
const BY_CREATED: &str = "by-created";
const BY_STATUS: &str = "by-status";

pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(sdk: &SdkConfig, table: String) -> Self {
        Self::from_client(Client::new(sdk), table)
    }

    pub fn from_client(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn key(run_id: &RunId) -> Item {
    HashMap::from([("run_id".to_owned(), s(run_id.as_str()))])
}

fn ledger_error<E, R>(err: SdkError<E, R>) -> LedgerError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => LedgerError::Throttled,
        Some("InternalServerError" | "ServiceUnavailable") => {
            LedgerError::Unavailable(super::describe(&err))
        }
        // Anything else DynamoDB answered (access denied, no such table, a bad request) is
        // not fixed by trying again.
        Some(_) => LedgerError::Refused(super::describe(&err)),
        _ => LedgerError::Unavailable(super::describe(&err)),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

pub fn item_from_run(run: &Run) -> Item {
    let mut item = key(&run.run_id);
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put("ledger", s(LEDGER));
    put("bucket", s(&run.input.bucket));
    put("key", s(&run.input.key));
    match &run.input.version {
        ObjectVersion::VersionId(id) => put("version_id", s(id)),
        ObjectVersion::Etag(etag) => put("etag", s(etag)),
        ObjectVersion::Unknown => {}
    }
    put("size", n(run.input.size));
    put("engine", s(run.engine.as_str()));
    put("status", s(run.status.as_str()));
    put("attempts", n(run.attempts));
    put("created_at", s(&run.created_at));
    put("report_bucket", s(&run.report.bucket));
    put("report_key", s(&run.report.key));
    let optional = [
        ("started_at", &run.started_at),
        ("finished_at", &run.finished_at),
        ("summary", &run.summary),
        ("execution_arn", &run.execution_arn),
        ("glue_job_run_id", &run.glue_job_run_id),
        ("skipped_reason", &run.skipped_reason),
        ("alerted_at", &run.alerted_at),
        ("downloaded_at", &run.downloaded_at),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            put(name, s(value));
        }
    }
    if !run.files_to_process.is_empty() {
        put(
            "files_to_process",
            AttributeValue::L(
                run.files_to_process
                    .iter()
                    .map(|part| {
                        let mut file = HashMap::from([
                            ("key".to_owned(), s(&part.key)),
                            ("size".to_owned(), n(part.size)),
                        ]);
                        match &part.version {
                            ObjectVersion::VersionId(id) => file.insert("version_id".into(), s(id)),
                            ObjectVersion::Etag(etag) => file.insert("etag".into(), s(etag)),
                            ObjectVersion::Unknown => None,
                        };
                        AttributeValue::M(file)
                    })
                    .collect(),
            ),
        );
    }
    if !run.failures.is_empty() {
        put(
            "failures",
            AttributeValue::L(
                run.failures
                    .iter()
                    .map(|f| {
                        AttributeValue::M(HashMap::from([
                            ("attempt".to_owned(), n(f.attempt)),
                            ("error".to_owned(), s(&f.error)),
                            ("cause".to_owned(), s(&f.cause)),
                            ("at".to_owned(), s(&f.at)),
                        ]))
                    })
                    .collect(),
            ),
        );
    }
    item
}

pub fn run_from_item(item: &Item) -> Result<Run, LedgerError> {
    let corrupt = |what: &str| LedgerError::Corrupt(what.to_owned());
    let text = |name: &str| -> Option<String> { item.get(name)?.as_s().ok().cloned() };
    let required = |name: &str| text(name).ok_or_else(|| corrupt(&format!("{name} is missing")));
    let number = |name: &str| -> Result<u64, LedgerError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt(&format!("{name} is not a number")))
    };
    let run_id = RunId::parse(&required("run_id")?).ok_or_else(|| corrupt("run_id"))?;
    let version = match (text("version_id"), text("etag")) {
        (Some(id), _) => ObjectVersion::VersionId(id),
        (None, Some(etag)) => ObjectVersion::Etag(etag),
        (None, None) => ObjectVersion::Unknown,
    };
    let engine = Engine::parse(&required("engine")?).ok_or_else(|| corrupt("engine"))?;
    let status = RunStatus::parse(&required("status")?).ok_or_else(|| corrupt("status"))?;
    let failures = match item.get("failures") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| corrupt("failures is not a list"))?
            .iter()
            .map(|entry| {
                let map = entry
                    .as_m()
                    .map_err(|_| corrupt("a failure is not a map"))?;
                let field = |name: &str| {
                    map.get(name)
                        .and_then(|v| v.as_s().ok().or_else(|| v.as_n().ok()))
                        .cloned()
                        .unwrap_or_default()
                };
                Ok(AttemptFailure {
                    attempt: field("attempt").parse().unwrap_or(0),
                    error: field("error"),
                    cause: field("cause"),
                    at: field("at"),
                })
            })
            .collect::<Result<_, LedgerError>>()?,
    };
    let files_to_process = match item.get("files_to_process") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| corrupt("files_to_process is not a list"))?
            .iter()
            .map(|entry| {
                let file = entry.as_m().map_err(|_| corrupt("a file is not a map"))?;
                let text = |name: &str| file.get(name).and_then(|v| v.as_s().ok()).cloned();
                Ok(InputPart {
                    key: text("key").ok_or_else(|| corrupt("a file has no key"))?,
                    version: match (text("version_id"), text("etag")) {
                        (Some(id), _) => ObjectVersion::VersionId(id),
                        (None, Some(etag)) => ObjectVersion::Etag(etag),
                        (None, None) => ObjectVersion::Unknown,
                    },
                    size: file
                        .get("size")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| corrupt("a file has no size"))?,
                })
            })
            .collect::<Result<_, LedgerError>>()?,
    };
    Ok(Run {
        files_to_process,
        run_id,
        input: InputObject {
            bucket: required("bucket")?,
            key: required("key")?,
            version,
            size: number("size")?,
        },
        engine,
        status,
        attempts: u32::try_from(number("attempts")?).map_err(|_| corrupt("attempts"))?,
        created_at: required("created_at")?,
        started_at: text("started_at"),
        finished_at: text("finished_at"),
        report: ReportLocation {
            bucket: required("report_bucket")?,
            key: required("report_key")?,
        },
        summary: text("summary"),
        failures,
        execution_arn: text("execution_arn"),
        glue_job_run_id: text("glue_job_run_id"),
        skipped_reason: text("skipped_reason"),
        alerted_at: text("alerted_at"),
        downloaded_at: text("downloaded_at"),
    })
}

impl RunLedger for DynamoLedger {
    async fn record(&self, run: &Run) -> Result<Recorded, LedgerError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_from_run(run)))
            .condition_expression("attribute_not_exists(run_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match written {
            Ok(_) => Ok(Recorded::New),
            Err(err) if is_condition_failure(&err) => {
                let existing = match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item(),
                    _ => None,
                };
                match existing {
                    Some(item) => Ok(Recorded::Existing(Box::new(run_from_item(item)?))),
                    // The old item did not come back with the failure: read it.
                    None => self
                        .get(&run.run_id)
                        .await?
                        .map(|r| Recorded::Existing(Box::new(r)))
                        .ok_or_else(|| {
                            LedgerError::Corrupt("a run both exists and does not".into())
                        }),
                }
            }
            Err(err) => Err(ledger_error(err)),
        }
    }
}

impl RunListing for DynamoLedger {
    async fn list(&self, query: RunQuery<'_>) -> Result<RunPage, LedgerError> {
        // One item beyond the page tells whether another page exists.
        let fetch = i32::try_from(query.limit + 1).unwrap_or(i32::MAX);
        let (index, partition, value) = match query.status {
            Some(status) => (BY_STATUS, "#status", s(status.as_str())),
            None => (BY_CREATED, "ledger", s(LEDGER)),
        };
        let mut condition = format!("{partition} = :partition");
        if query.created_before.is_some() {
            condition.push_str(" AND created_at < :before");
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .expression_attribute_values(":partition", value.clone())
            .scan_index_forward(query.oldest_first)
            .limit(fetch);
        if query.status.is_some() {
            request = request.expression_attribute_names("#status", "status");
        }
        if let Some(before) = query.created_before {
            request = request.expression_attribute_values(":before", s(before));
        }
        if let Some(after) = query.after {
            let mut start = key(&after.run_id);
            start.insert("created_at".into(), s(&after.created_at));
            start.insert(
                if query.status.is_some() {
                    "status"
                } else {
                    "ledger"
                }
                .into(),
                value,
            );
            request = request.set_exclusive_start_key(Some(start));
        }
        let output = request.send().await.map_err(ledger_error)?;
        let mut runs = output
            .items()
            .iter()
            .map(run_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let more = runs.len() > query.limit || output.last_evaluated_key().is_some();
        runs.truncate(query.limit);
        let next = more
            .then(|| runs.last())
            .flatten()
            .map(|last| ListPosition {
                created_at: last.created_at.clone(),
                run_id: last.run_id.clone(),
            });
        Ok(RunPage { runs, next })
    }
}

impl AlertLedger for DynamoLedger {
    async fn claim_alert(&self, run_id: &RunId, now: &str) -> Result<Option<Run>, LedgerError> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(run_id)))
            .update_expression(
                "SET #status = :failed, alerted_at = :now, finished_at = if_not_exists(finished_at, :now)",
            )
            .condition_expression(
                "attribute_exists(run_id) AND attribute_not_exists(alerted_at) \
                 AND #status IN (:queued, :running, :failed)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match claimed {
            Ok(output) => output
                .attributes()
                .map(run_from_item)
                .transpose()?
                .map(Some)
                .ok_or_else(|| LedgerError::Corrupt("the update returned no run".into())),
            Err(err) if is_condition_failure(&err) => Ok(None),
            Err(err) => Err(ledger_error(err)),
        }
    }

    async fn release_alert(&self, run_id: &RunId, claimed_at: &str) -> Result<(), LedgerError> {
        self.remove_alert_claim(run_id, claimed_at).await
    }
}

impl DynamoLedger {
    async fn remove_alert_claim(
        &self,
        run_id: &RunId,
        claimed_at: &str,
    ) -> Result<(), LedgerError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(run_id)))
            .update_expression("REMOVE alerted_at")
            .condition_expression("alerted_at = :claimed")
            .expression_attribute_values(":claimed", s(claimed_at))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Claimed again since by someone else: theirs to keep.
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(ledger_error(err)),
        }
    }
}

impl RunCatalog for DynamoLedger {
    async fn get(&self, run_id: &RunId) -> Result<Option<Run>, LedgerError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(run_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(ledger_error)?;
        output.item().map(run_from_item).transpose()
    }

    async fn mark_downloaded(&self, run_id: &RunId, now: &str) -> Result<(), LedgerError> {
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(run_id)))
            .update_expression("SET #status = :downloaded, downloaded_at = :now")
            .condition_expression("#status = :succeeded")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":downloaded", s("downloaded"))
            .expression_attribute_values(":succeeded", s("succeeded"))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        match marked {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Ok(()),
            Err(err) => Err(ledger_error(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use platform::mocks::{self, Rule, always, dynamodb_error, http_response, mock, service_error};
    use serde_json::{Value, json};

    async fn ledger(rules: &[&Rule]) -> DynamoLedger {
        DynamoLedger::from_client(
            platform::mocked_client!(aws_sdk_dynamodb, rules),
            "runs".into(),
        )
    }

    fn queued() -> Run {
        Run::queued(
            InputObject {
                bucket: "in".into(),
                key: "day/2026-11-23.tsv".into(),
                version: ObjectVersion::VersionId("v1".into()),
                size: 42,
            },
            Engine::Lambda,
            "out",
            "2026-11-23T10:00:00.000Z",
        )
    }

    /// An attribute value as DynamoDB's JSON protocol writes it.
    fn wire(value: &AttributeValue) -> Value {
        match value {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::Ss(ss) => json!({ "SS": ss }),
            AttributeValue::L(items) => json!({ "L": items.iter().map(wire).collect::<Vec<_>>() }),
            AttributeValue::M(map) => json!({ "M": wire_item(map) }),
            other => panic!("no wire form for {other:?} in this test"),
        }
    }

    fn wire_item(item: &Item) -> Value {
        Value::Object(item.iter().map(|(k, v)| (k.clone(), wire(v))).collect())
    }

    /// The answer DynamoDB gives a PutItem whose condition failed, with the item already there.
    fn condition_failed_with(item: &Item) -> platform::mocks::Response {
        let body = json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": wire_item(item),
        });
        http_response(400, body.to_string())
    }

    #[tokio::test]
    async fn a_first_delivery_writes_the_run_only_if_absent() {
        let run = queued();
        let put = mock!(Client::put_item)
            .match_requests(|req| {
                req.condition_expression() == Some("attribute_not_exists(run_id)")
                    && req.table_name() == Some("runs")
            })
            .then_output(|| PutItemOutput::builder().build());
        assert_eq!(ledger(&[&put]).await.record(&run).await, Ok(Recorded::New));
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_redelivery_gets_the_run_as_the_ledger_has_it() {
        let mut existing = queued();
        existing.status = RunStatus::Running;
        existing.attempts = 1;
        let item = item_from_run(&existing);
        let put = mock!(Client::put_item).then_http_response(move || condition_failed_with(&item));
        assert_eq!(
            ledger(&[&put]).await.record(&queued()).await,
            Ok(Recorded::Existing(Box::new(existing)))
        );
    }

    #[tokio::test]
    async fn a_condition_failure_without_the_old_item_reads_it() {
        let existing = queued();
        let item = item_from_run(&existing);
        let put = mock!(Client::put_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"));
        let get = mock!(Client::get_item)
            .match_requests(|req| req.consistent_read() == Some(true))
            .then_output(move || {
                GetItemOutput::builder()
                    .set_item(Some(item.clone()))
                    .build()
            });
        assert_eq!(
            ledger(&[&put, &get]).await.record(&existing).await,
            Ok(Recorded::Existing(Box::new(existing.clone())))
        );
        assert_eq!(get.num_calls(), 1);

        let vanished = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
        let put = mock!(Client::put_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"));
        assert!(matches!(
            ledger(&[&put, &vanished]).await.record(&existing).await,
            Err(LedgerError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn throttling_past_the_retries_is_throttled_and_a_refusal_is_not_retried() {
        let throttled = always(mock!(Client::put_item), || {
            dynamodb_error("ProvisionedThroughputExceededException")
        });
        assert_eq!(
            ledger(&[&throttled]).await.record(&queued()).await,
            Err(LedgerError::Throttled)
        );
        assert_eq!(throttled.num_calls(), mocks::ATTEMPTS as usize);

        let denied = always(mock!(Client::put_item), || {
            service_error(400, "AccessDeniedException")
        });
        assert!(matches!(
            ledger(&[&denied]).await.record(&queued()).await,
            Err(LedgerError::Refused(_))
        ));
        assert_eq!(denied.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_alert_is_claimed_once() {
        let mut failed = queued();
        failed.status = RunStatus::Failed;
        failed.alerted_at = Some("2026-11-23T10:05:00Z".into());
        let item = item_from_run(&failed);
        let claim = mock!(Client::update_item)
            .match_requests(|req| {
                req.condition_expression()
                    .is_some_and(|c| c.contains("attribute_not_exists(alerted_at)"))
            })
            .then_output(move || {
                UpdateItemOutput::builder()
                    .set_attributes(Some(item.clone()))
                    .build()
            });
        let ledger_a = ledger(&[&claim]).await;
        assert_eq!(
            ledger_a
                .claim_alert(&failed.run_id, "2026-11-23T10:05:00Z")
                .await,
            Ok(Some(failed.clone()))
        );
        let taken = mock!(Client::update_item)
            .then_http_response(|| dynamodb_error("ConditionalCheckFailedException"));
        assert_eq!(
            ledger(&[&taken])
                .await
                .claim_alert(&failed.run_id, "2026-11-23T10:06:00Z")
                .await,
            Ok(None)
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_run_is_corrupt_not_a_panic() {
        let mut item = item_from_run(&queued());
        item.insert("attempts".into(), AttributeValue::S("two".into()));
        let get = mock!(Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
        assert!(matches!(
            ledger(&[&get]).await.get(&queued().run_id).await,
            Err(LedgerError::Corrupt(_))
        ));
    }

    #[test]
    fn a_run_survives_the_round_trip_through_an_item() {
        let mut run = Run::queued(
            InputObject {
                bucket: "in".into(),
                key: "a b/é.tsv".into(),
                version: ObjectVersion::Etag("abc".into()),
                size: 42,
            },
            Engine::Lambda,
            "out",
            "2026-11-23T10:00:00.000Z",
        );
        run.status = RunStatus::Failed;
        run.attempts = 2;
        run.failures = vec![AttemptFailure {
            attempt: 1,
            error: "InputRefused".into(),
            cause: "{}".into(),
            at: "2026-11-23T10:00:01Z".into(),
        }];
        run.alerted_at = Some("2026-11-23T10:00:05Z".into());
        run.files_to_process = vec![
            InputPart {
                key: "a.tsv".into(),
                version: ObjectVersion::Etag("1".into()),
                size: 3,
            },
            InputPart {
                key: "b.tsv".into(),
                version: ObjectVersion::VersionId("v".into()),
                size: 4,
            },
        ];

        assert_eq!(run_from_item(&item_from_run(&run)), Ok(run));
    }

    #[test]
    fn an_item_without_a_status_is_corrupt() {
        let run = Run::queued(
            InputObject {
                bucket: "in".into(),
                key: "k".into(),
                version: ObjectVersion::VersionId("v".into()),
                size: 1,
            },
            Engine::Lambda,
            "out",
            "2026-11-23T10:00:00.000Z",
        );
        let mut item = item_from_run(&run);
        item.remove("status");
        assert!(matches!(run_from_item(&item), Err(LedgerError::Corrupt(_))));
    }
}
