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
