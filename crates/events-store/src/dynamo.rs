//! The ad events table and its parked records in DynamoDB. The only module that sees SDK types.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use platform::SdkConfig;

use crate::item::{Attr, EventItem, ItemKey, PK, SK};
use crate::ports::{EventTable, Parked, TableError};

pub struct DynamoEvents {
    client: aws_sdk_dynamodb::Client,
    table: String,
    parked_table: String,
}

impl DynamoEvents {
    pub fn new(sdk: &SdkConfig, table: String, parked_table: String) -> Self {
        Self::from_client(aws_sdk_dynamodb::Client::new(sdk), table, parked_table)
    }

    pub fn from_client(
        client: aws_sdk_dynamodb::Client,
        table: String,
        parked_table: String,
    ) -> Self {
        DynamoEvents {
            client,
            table,
            parked_table,
        }
    }
}

/// An item as DynamoDB takes it.
pub fn to_dynamo(item: &EventItem) -> HashMap<String, AttributeValue> {
    let mut values: HashMap<String, AttributeValue> = item
        .attributes
        .iter()
        .map(|(name, attr)| (name.clone(), to_value(attr)))
        .collect();
    values.insert(PK.into(), AttributeValue::S(item.key.pk.clone()));
    values.insert(SK.into(), AttributeValue::S(item.key.sk.clone()));
    values
}

fn to_value(attr: &Attr) -> AttributeValue {
    match attr {
        Attr::S(s) => AttributeValue::S(s.clone()),
        Attr::N(n) => AttributeValue::N(n.clone()),
        Attr::Bool(b) => AttributeValue::Bool(*b),
    }
}

fn key_of(item: &HashMap<String, AttributeValue>) -> Option<ItemKey> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(ItemKey {
        pk: text(PK)?,
        sk: text(SK)?,
    })
}

fn table_error<E, R>(err: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => TableError::Throttled(text),
            Some("ValidationException") => TableError::Refused(text),
            _ => TableError::Unavailable(text),
        },
        _ => TableError::Unavailable(text),
    }
}

impl EventTable for DynamoEvents {
    async fn write_batch(&self, items: &[EventItem]) -> Result<Vec<ItemKey>, TableError> {
        let requests = items
            .iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(to_dynamo(item)))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|err| TableError::Refused(err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .map_err(table_error)?;
        Ok(output
            .unprocessed_items()
            .and_then(|tables| tables.get(&self.table))
            .into_iter()
            .flatten()
            .filter_map(|request| request.put_request().and_then(|put| key_of(put.item())))
            .collect())
    }

    async fn park(&self, parked: &Parked) -> Result<(), TableError> {
        let mut item = HashMap::from([
            (
                "partition".to_owned(),
                AttributeValue::S(parked.partition.clone()),
            ),
            (
                "offset".to_owned(),
                AttributeValue::N(parked.offset.to_string()),
            ),
            (
                "reason".to_owned(),
                AttributeValue::S(parked.reason.clone()),
            ),
            (
                "parked_at".to_owned(),
                AttributeValue::S(platform::now_rfc3339()),
            ),
        ]);
        if let Some(key) = &parked.key {
            item.insert("key".into(), AttributeValue::S(key.clone()));
        }
        if let Some(value) = &parked.value {
            item.insert("value".into(), AttributeValue::S(value.clone()));
        }
        if let Some(digest) = &parked.value_sha256 {
            item.insert("value_sha256".into(), AttributeValue::S(digest.clone()));
        }
        if let Some(length) = parked.value_length {
            item.insert("value_length".into(), AttributeValue::N(length.to_string()));
        }
        self.client
            .put_item()
            .table_name(&self.parked_table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(table_error)
    }
}
