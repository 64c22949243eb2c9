//! What the approvals suite needs beyond the records harness: the admin's calls on the records
//! URL, the approvals table read back, the admins' SNS messages read back from their SQS
//! subscription, and the approve-record workflow started directly.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::local::{self, endpoints};

pub struct Admin {
    http: reqwest::Client,
    pub records_url: String,
    pub key: String,
    table: String,
    records_table: String,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    sfn: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
}

impl Admin {
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
            key: get("RECORDS_ADMIN_KEY"),
            table: get("APPROVALS_TABLE"),
            records_table: get("RECORDS_TABLE"),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            queue_url: get("APPROVALS_QUEUE_URL"),
            sfn: aws_sdk_sfn::Client::from_conf(
                aws_sdk_sfn::config::Builder::from(&sdk)
                    .interceptor(platform::StripEndpointPrefix)
                    .build(),
            ),
            state_machine_arn: get("APPROVAL_STATE_MACHINE_ARN"),
        }
    }

    /// An approvals call with the given key (`None`: no Authorization header) and form fields.
    pub async fn call_as(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.records_url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.expect("the records URL answers");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.call_as(Some(&self.key.clone()), method, path, form)
            .await
    }

    /// The approval once `ready` holds for it, polling the API; panics after 30 s.
    pub async fn approval_when(&self, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self
                .call(Method::GET, &format!("/approvals/{id}"), &[])
                .await;
            if status == StatusCode::OK && ready(&body["approval"]) {
                return body["approval"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "approval {id} never got there: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A submission through the records URL, as any caller sends it.
    pub async fn submit(&self, user_name: &str, email: &str, pincode: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/", self.records_url))
            .query(&[
                ("user_name", user_name),
                ("email", email),
                ("pincode", pincode),
            ])
            .send()
            .await
            .expect("the records URL answers");
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    /// The stored record of this id, straight from the records table.
    pub async fn record(&self, id: &str) -> Option<Value> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.records_table)
            .key("id", AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item?;
        Some(Value::Object(
            item.into_iter()
                .map(|(k, v)| (k, Value::String(v.as_s().cloned().unwrap_or_default())))
                .collect(),
        ))
    }

    /// Waits until the workflow's first step has written the approval (until then the API
    /// shows it from the execution and defers decisions); panics after 30 s.
    pub async fn written(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.stored_token(id).await.is_none() {
            assert!(Instant::now() < deadline, "approval {id} was never written");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The task token kept for the approval, straight from the table.
    pub async fn stored_token(&self, id: &str) -> Option<String> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("approval_id", AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item?;
        item.get("task_token")?.as_s().ok().cloned()
    }

    /// The admins' message about approval `id`, read from the topic's SQS subscription (other
    /// approvals' messages are left on the queue, hidden for a minute so that each receive reads
    /// further); panics after 30 s.
    pub async fn message_about(&self, id: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(60)
                .send()
                .await
                .expect("ReceiveMessage");
            for message in received.messages() {
                let envelope: Value =
                    serde_json::from_str(message.body().unwrap_or("{}")).expect("an SNS envelope");
                let text = envelope["Message"].as_str().unwrap_or("").to_owned();
                if text.contains(id) {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(message.receipt_handle().unwrap_or(""))
                        .send()
                        .await
                        .expect("DeleteMessage");
                    return format!("{}\n{text}", envelope["Subject"].as_str().unwrap_or(""));
                }
            }
            assert!(Instant::now() < deadline, "no admin message about {id}");
        }
    }

    /// Starts the workflow as the records API does, with a timeout of the test's choosing.
    pub async fn start_workflow(&self, id: &str, input: &Value) {
        self.sfn
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(id)
            .input(input.to_string())
            .send()
            .await
            .expect("StartExecution");
    }
}
