//! How the end-to-end tests reach the local stack: the endpoints `make up` wrote, a plain HTTP
//! client for the function URL, and the AWS SDK for reading DynamoDB back.

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

#[path = "local.rs"]
mod local;
pub use local::{endpoints, unique};

pub struct LocalStack {
    http: reqwest::Client,
    records_url: String,
    table: String,
    dynamodb: aws_sdk_dynamodb::Client,
    sfn: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl LocalStack {
    pub async fn connect() -> Self {
        let endpoints = endpoints();
        let get = |key: &str| {
            endpoints
                .get(key)
                .unwrap_or_else(|| panic!("{key} missing from endpoints.env"))
                .clone()
        };
        let sdk = local::sdk_config(&endpoints).await;
        Self {
            http: local::http_client(),
            records_url: get("RECORDS_URL"),
            table: get("RECORDS_TABLE"),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sfn: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::config::Builder::from(&sdk)
                    .interceptor(platform::StripEndpointPrefix)
                    .build(),
            ),
            state_machine_arn: get("INGEST_STATE_MACHINE_ARN"),
        }
    }

    pub async fn raw(&self, method: Method, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .request(method, format!("{}/", self.records_url))
            .query(query)
            .send()
            .await
            .expect("the records function URL answers")
    }

    pub async fn call(&self, method: Method, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self.raw(method, query).await;
        let status = response.status();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    /// Runs the ingest-record state machine directly and returns its output; panics unless it
    /// succeeded.
    pub async fn execute_ingest(&self, input: &Value) -> Value {
        let execution = self
            .sfn
            .start_sync_execution()
            .state_machine_arn(&self.state_machine_arn)
            .input(input.to_string())
            .send()
            .await
            .expect("StartSyncExecution");
        assert_eq!(
            execution.status().as_str(),
            "SUCCEEDED",
            "{:?} {:?}",
            execution.error(),
            execution.cause()
        );
        serde_json::from_str(execution.output().unwrap_or("null")).expect("JSON output")
    }

    /// The stored item, as the API would show it.
    pub async fn stored(&self, id: &str) -> Option<Value> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item?;
        let mut record = Map::new();
        for (name, value) in item {
            record.insert(
                name,
                Value::String(value.as_s().expect("string attribute").clone()),
            );
        }
        Some(Value::Object(record))
    }

    pub async fn count(&self) -> usize {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("Scan");
            total += usize::try_from(page.count).unwrap();
            start = page.last_evaluated_key;
            if start.is_none() {
                return total;
            }
        }
    }

    pub async fn empty_table(&self) {
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .send()
                .await
                .expect("Scan");
            let items = page.items.unwrap_or_default();
            if items.is_empty() {
                return;
            }
            for item in items {
                self.dynamodb
                    .delete_item()
                    .table_name(&self.table)
                    .key("id", item["id"].clone())
                    .send()
                    .await
                    .expect("DeleteItem");
            }
        }
    }
}
