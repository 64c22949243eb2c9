//! The validate-record step: the state machine's input in, a [`Verdict`] out.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use thiserror::Error;

use crate::record::RecordInput;
use crate::rules::{self, Verdict};

/// Failures Step Functions can tell apart by `error_type`; a refused record is not one of them,
/// it is a verdict.
#[derive(Debug, Error)]
pub enum ValidateError {
    #[error("the step input is not an object of string fields: {0}")]
    MalformedInput(String),
}

impl From<ValidateError> for Diagnostic {
    fn from(err: ValidateError) -> Self {
        let error_type = match err {
            ValidateError::MalformedInput(_) => "MalformedInput",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

pub async fn handle(event: LambdaEvent<Value>) -> Result<Verdict, ValidateError> {
    let input: RecordInput = serde_json::from_value(event.payload)
        .map_err(|e| ValidateError::MalformedInput(e.to_string()))?;
    Ok(rules::validate(&input, &platform::now_rfc3339()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::Context;
    use serde_json::json;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, Context::default())
    }

    #[tokio::test]
    async fn valid_input_yields_a_record_stamped_now() {
        let verdict = handle(event(
            json!({"user_name": "A", "email": "a@b.com", "pincode": "1234"}),
        ))
        .await
        .unwrap();
        let Verdict::Valid { record, .. } = verdict else {
            panic!("expected valid")
        };
        let stamped = OffsetDateTime::parse(&record.created_at, &Rfc3339).unwrap();
        assert!((OffsetDateTime::now_utc() - stamped).whole_seconds().abs() < 60);
    }

    #[tokio::test]
    async fn invalid_input_is_a_verdict_not_an_error() {
        let verdict = handle(event(
            json!({"user_name": "A", "email": "x", "pincode": "1"}),
        ))
        .await
        .unwrap();
        assert!(
            matches!(verdict, Verdict::Invalid { ref fields, .. } if fields.contains_key("email"))
        );
    }

    #[tokio::test]
    async fn non_string_fields_are_a_typed_error() {
        let err = handle(event(json!({"user_name": 7}))).await.unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "MalformedInput");
    }
}
