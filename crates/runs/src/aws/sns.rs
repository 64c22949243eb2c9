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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunId;
    use aws_sdk_sns::operation::publish::PublishOutput;
    use platform::mocks::{Rule, http_response, mock};

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

    async fn publisher(rules: &[&Rule]) -> SnsPublisher {
        SnsPublisher {
            client: platform::mocked_client!(aws_sdk_sns, rules),
            topic_arn: TOPIC.into(),
        }
    }

    fn alert() -> Alert {
        Alert {
            subject: "sluice: run failed".into(),
            message: "the run failed twice".into(),
            run_id: RunId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            state: "failed".into(),
        }
    }

    #[tokio::test]
    async fn an_alert_carries_its_run_and_state_as_attributes() {
        let rule = mock!(Client::publish)
            .match_requests(|req| {
                let attribute = |name: &str| {
                    req.message_attributes()
                        .and_then(|a| a.get(name))
                        .and_then(|v| v.string_value())
                        .map(str::to_owned)
                };
                req.topic_arn() == Some(TOPIC)
                    && req.subject() == Some("sluice: run failed")
                    && attribute("run_id").as_deref() == Some("0123456789abcdef0123456789abcdef")
                    && attribute("state").as_deref() == Some("failed")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        assert_eq!(publisher(&[&rule]).await.publish(&alert()).await, Ok(()));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_publish_is_an_error_naming_why() {
        let rule = mock!(Client::publish).then_http_response(|| {
            http_response(
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>\
                 <Message>Subject too long</Message></Error></ErrorResponse>"
                    .into(),
            )
        });
        let err = publisher(&[&rule])
            .await
            .publish(&alert())
            .await
            .unwrap_err();
        assert!(err.0.contains("InvalidParameter"), "{err}");
    }
}
