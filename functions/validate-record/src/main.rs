use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    platform::init_tracing();
    lambda_runtime::run(service_fn(records::validate::handle)).await
}
