//! Starts the process-hit-file workflow in Step Functions.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use platform::SdkConfig;

use crate::ports::{ExecutionView, StartError, WorkflowInspector, WorkflowStarter};
use crate::run::{RunId, RunRequest};

pub struct SfnStarter {
    client: Client,
    state_machine_arn: String,
}

impl SfnStarter {
    pub fn new(sdk: &SdkConfig, state_machine_arn: String) -> Self {
        Self {
            client: Client::new(sdk),
            state_machine_arn,
        }
    }
}

impl WorkflowStarter for SfnStarter {
    async fn start(&self, run: &RunRequest) -> Result<(), StartError> {
        let input = serde_json::json!({ "run": run }).to_string();
        // A STANDARD execution is idempotent on name and input while it runs; once it has
        // ended, the same name is refused, which means the run was already processed.
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(run.run_id.as_str())
            .input(input)
            .send()
            .await;
        match started {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error().and_then(|e| e.code()) {
                Some("ExecutionAlreadyExists") => Ok(()),
                Some("ThrottlingException" | "TooManyRequestsException") => {
                    Err(StartError::Throttled)
                }
                _ => Err(start_error(err)),
            },
        }
    }
}

impl WorkflowInspector for SfnStarter {
    async fn execution(&self, run_id: &RunId) -> Result<Option<ExecutionView>, StartError> {
        let arn = format!(
            "{}:{run_id}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        );
        match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(execution) => Ok(Some(ExecutionView {
                arn,
                status: execution.status().as_str().to_owned(),
                error: execution.error().map(str::to_owned),
                cause: execution.cause().map(str::to_owned),
            })),
            Err(err) => match err.as_service_error().and_then(|e| e.code()) {
                Some("ExecutionDoesNotExist") => Ok(None),
                Some("ThrottlingException") => Err(StartError::Throttled),
                _ => Err(start_error(err)),
            },
        }
    }
}

fn start_error<E, R>(err: SdkError<E, R>) -> StartError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StartError::Unavailable(super::describe(&err))
}
