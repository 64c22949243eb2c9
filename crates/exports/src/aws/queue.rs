//! The exports queue: SQS FIFO, one message group, so that one export runs at a time.

use platform::SdkConfig;

use super::service_error;
use crate::ports::{ExportQueue, ServiceError};

/// Every export is in this group: FIFO delivers a group's next message only once the one
/// before it is done.
pub const MESSAGE_GROUP: &str = "exports";

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(sdk: &SdkConfig, url: String) -> Self {
        SqsQueue {
            client: aws_sdk_sqs::Client::new(sdk),
            url,
        }
    }
}

impl ExportQueue for SqsQueue {
    async fn enqueue(&self, export_id: &str) -> Result<(), ServiceError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::json!({ "export_id": export_id }).to_string())
            .message_group_id(MESSAGE_GROUP)
            .message_deduplication_id(export_id)
            .send()
            .await
            .map(|_| ())
            .map_err(service_error)
    }
}
