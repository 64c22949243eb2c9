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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Engine, InputObject, ObjectVersion, Run};
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_types::DateTime;
    use platform::mocks::{Rule, always, mock, service_error};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:process";

    async fn starter(rules: &[&Rule]) -> SfnStarter {
        SfnStarter {
            client: platform::mocked_client!(aws_sdk_sfn, rules),
            state_machine_arn: MACHINE.into(),
        }
    }

    fn run() -> Run {
        Run::queued(
            InputObject {
                bucket: "in".into(),
                key: "k.tsv".into(),
                version: ObjectVersion::VersionId("v".into()),
                size: 1,
            },
            Engine::Lambda,
            "out",
            "2026-11-23T10:00:00.000Z",
        )
    }

    #[tokio::test]
    async fn the_execution_is_named_after_the_run_so_a_second_start_is_the_same_one() {
        let run = run();
        let name = run.run_id.as_str().to_owned();
        let started = mock!(Client::start_execution)
            .match_requests(move |req| {
                req.name() == Some(name.as_str()) && req.state_machine_arn() == Some(MACHINE)
            })
            .then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn("arn:x")
                    .start_date(DateTime::from_secs(0))
                    .build()
                    .unwrap()
            });
        assert_eq!(
            starter(&[&started]).await.start(&run.request()).await,
            Ok(())
        );
        assert_eq!(started.num_calls(), 1);

        let exists = mock!(Client::start_execution)
            .then_http_response(|| service_error(400, "ExecutionAlreadyExists"));
        assert_eq!(
            starter(&[&exists]).await.start(&run.request()).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn throttling_past_the_retries_and_refusals_are_start_errors() {
        let throttled = always(mock!(Client::start_execution), || {
            service_error(400, "ThrottlingException")
        });
        assert_eq!(
            starter(&[&throttled]).await.start(&run().request()).await,
            Err(StartError::Throttled)
        );
        let missing = mock!(Client::start_execution)
            .then_http_response(|| service_error(400, "StateMachineDoesNotExist"));
        assert!(matches!(
            starter(&[&missing]).await.start(&run().request()).await,
            Err(StartError::Unavailable(why)) if why.contains("StateMachineDoesNotExist")
        ));
    }

    #[tokio::test]
    async fn an_execution_is_looked_up_by_the_run_and_may_not_exist() {
        let run = run();
        let expected = format!(
            "arn:aws:states:us-east-1:123456789012:execution:process:{}",
            run.run_id
        );
        let wanted = expected.clone();
        let described = mock!(Client::describe_execution)
            .match_requests(move |req| req.execution_arn() == Some(wanted.as_str()))
            .then_output(|| {
                DescribeExecutionOutput::builder()
                    .execution_arn("arn:x")
                    .state_machine_arn(MACHINE)
                    .status(ExecutionStatus::Failed)
                    .error("States.TaskFailed")
                    .start_date(DateTime::from_secs(0))
                    .build()
                    .unwrap()
            });
        let view = starter(&[&described])
            .await
            .execution(&run.run_id)
            .await
            .unwrap()
            .expect("an execution");
        assert_eq!(
            (
                view.arn.as_str(),
                view.status.as_str(),
                view.error.as_deref()
            ),
            (expected.as_str(), "FAILED", Some("States.TaskFailed"))
        );

        let absent = mock!(Client::describe_execution)
            .then_http_response(|| service_error(400, "ExecutionDoesNotExist"));
        assert_eq!(
            starter(&[&absent]).await.execution(&run.run_id).await,
            Ok(None)
        );
    }
}
