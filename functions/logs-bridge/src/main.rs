use lambda_http::{Error, service_fn};
use logs_ingest::config::Serving;

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let api = logs_ingest::bridge::from_env(Serving::OneRequestAtATime).await?;
    lambda_http::run(service_fn(|request| {
        logs_ingest::lambda::handle(&api, request)
    }))
    .await
}
