//! Publishes alerts to the on-call SNS topic.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use platform::SdkConfig;

use crate::ports::{Alert, AlertPublisher, PublishError};

pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(sdk: &SdkConfig, topic_arn: String) -> Self {
        Self {
            client: Client::new(sdk),
            topic_arn,
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError(e.to_string()))
}

impl AlertPublisher for SnsPublisher {
    async fn publish(&self, alert: &Alert) -> Result<(), PublishError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.message)
            // Subscribers can filter on these without parsing the text.
            .message_attributes("run_id", attribute(alert.run_id.as_str())?)
            .message_attributes("state", attribute(&alert.state)?)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| PublishError(super::describe(&err)))
    }
}
