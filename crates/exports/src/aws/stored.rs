//! The stored ad events, a page of one app's day at a time.

use aws_sdk_dynamodb::types::AttributeValue;
use platform::SdkConfig;
use time::Date;

use super::service_error;
use crate::ports::{DayPage, EventDays, Row, ServiceError};

pub struct StoredEvents {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl StoredEvents {
    pub fn new(sdk: &SdkConfig, table: String) -> Self {
        StoredEvents {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table,
        }
    }
}

impl EventDays for StoredEvents {
    async fn page(
        &self,
        app_id: &str,
        day: Date,
        after: Option<String>,
    ) -> Result<DayPage, ServiceError> {
        let pk = format!("{app_id}#{day}");
        let start = after.map(|sk| {
            [
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(sk)),
            ]
            .into()
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(service_error)?;
        let rows = output
            .items()
            .iter()
            .map(|item| {
                item.iter()
                    .filter_map(|(name, value)| {
                        let text = match value {
                            AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
                            AttributeValue::Bool(b) => b.to_string(),
                            _ => return None,
                        };
                        Some((name.clone(), text))
                    })
                    .collect::<Row>()
            })
            .collect();
        let next = output
            .last_evaluated_key()
            .and_then(|key| key.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .cloned();
        Ok(DayPage { rows, next })
    }
}
