//! Mail through Amazon SES (v2).

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use platform::SdkConfig;

use super::service_error;
use crate::ports::{Mailer, ServiceError};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(sdk: &SdkConfig, from: String) -> Self {
        SesMailer {
            client: aws_sdk_sesv2::Client::new(sdk),
            from,
        }
    }
}

impl Mailer for SesMailer {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), ServiceError> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|err| ServiceError::Refused(err.to_string()))
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(Body::builder().text(content(text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(service_error)
    }
}
