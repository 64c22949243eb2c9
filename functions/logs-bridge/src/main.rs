use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    let api = logs::bridge::from_env(logs::config::Serving::OneRequestAtATime).await?;
    lambda_http::run(service_fn(|request| logs::lambda::handle(&api, request))).await
}
