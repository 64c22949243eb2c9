//! Reads who started a Glue job run from its arguments.

use aws_sdk_glue::Client;
use platform::SdkConfig;

use crate::ports::{GlueError, GlueRunOrigin, GlueRuns};
use crate::run::RunId;

/// The job argument through which the workflow names the run a Glue job run belongs to.
pub const RUN_ID_ARGUMENT: &str = "--sluice-run-id";

pub struct GlueJobRuns {
    client: Client,
}

impl GlueJobRuns {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
        }
    }
}

impl GlueRuns for GlueJobRuns {
    async fn origin(&self, job_name: &str, job_run_id: &str) -> Result<GlueRunOrigin, GlueError> {
        let output = self
            .client
            .get_job_run()
            .job_name(job_name)
            .run_id(job_run_id)
            .send()
            .await
            .map_err(|err| GlueError(super::describe(&err)))?;
        let arguments = output.job_run().and_then(|run| run.arguments());
        let argument = |name: &str| arguments.and_then(|a| a.get(name)).cloned();
        Ok(
            match argument(RUN_ID_ARGUMENT).as_deref().and_then(RunId::parse) {
                Some(run_id) => GlueRunOrigin::Workflow(run_id),
                None => GlueRunOrigin::Other {
                    input: argument("--input"),
                },
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_glue::operation::get_job_run::GetJobRunOutput;
    use aws_sdk_glue::types::JobRun;
    use platform::mocks::{Rule, mock, service_error};

    async fn runs(rules: &[&Rule]) -> GlueJobRuns {
        GlueJobRuns {
            client: platform::mocked_client!(aws_sdk_glue, rules),
        }
    }

    fn job_run(arguments: &[(&str, &str)]) -> GetJobRunOutput {
        let mut run = JobRun::builder().id("jr_1");
        for (name, value) in arguments {
            run = run.arguments(*name, *value);
        }
        GetJobRunOutput::builder().job_run(run.build()).build()
    }

    #[tokio::test]
    async fn a_job_run_names_its_run_through_the_workflow_argument() {
        let run_id = "0123456789abcdef0123456789abcdef";
        let rule = mock!(Client::get_job_run)
            .match_requests(|req| req.job_name() == Some("hits") && req.run_id() == Some("jr_1"))
            .then_output(move || job_run(&[(RUN_ID_ARGUMENT, run_id), ("--input", "s3://in/k")]));
        assert_eq!(
            runs(&[&rule]).await.origin("hits", "jr_1").await,
            Ok(GlueRunOrigin::Workflow(RunId::parse(run_id).unwrap()))
        );
    }

    #[tokio::test]
    async fn a_job_run_started_elsewhere_is_other_with_its_input() {
        for arguments in [
            vec![("--input", "s3://in/k")],
            vec![(RUN_ID_ARGUMENT, "not a run id"), ("--input", "s3://in/k")],
        ] {
            let rule = mock!(Client::get_job_run).then_output(move || job_run(&arguments));
            assert_eq!(
                runs(&[&rule]).await.origin("hits", "jr_1").await,
                Ok(GlueRunOrigin::Other {
                    input: Some("s3://in/k".into())
                })
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_job_run_is_an_error_naming_why() {
        let rule = mock!(Client::get_job_run)
            .then_http_response(|| service_error(400, "EntityNotFoundException"));
        let err = runs(&[&rule])
            .await
            .origin("hits", "jr_9")
            .await
            .unwrap_err();
        assert!(err.0.contains("EntityNotFoundException"), "{err}");
    }
}
