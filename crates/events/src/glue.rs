//! The schema registry's AWS Glue adapter: Glue Schema Registry, asked by definition for a
//! version's id (the bridge) and by id for a version's definition (the sink).

use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_glue::types::{SchemaId, SchemaVersionStatus};
use uuid::Uuid;

use crate::registry::{RegisteredVersion, RegistryError, SchemaRegistry};

/// AWS Glue Schema Registry.
#[derive(Clone)]
pub struct GlueRegistry {
    client: aws_sdk_glue::Client,
    registry_name: String,
}

impl GlueRegistry {
    pub fn new(sdk: &aws_config::SdkConfig, registry_name: impl Into<String>) -> GlueRegistry {
        GlueRegistry {
            client: aws_sdk_glue::Client::new(sdk),
            registry_name: registry_name.into(),
        }
    }

    pub fn from_client(client: aws_sdk_glue::Client, registry_name: impl Into<String>) -> Self {
        GlueRegistry {
            client,
            registry_name: registry_name.into(),
        }
    }
}

impl SchemaRegistry for GlueRegistry {
    async fn version_id(&self, schema_name: &str, definition: &str) -> Result<Uuid, RegistryError> {
        let found = self
            .client
            .get_schema_by_definition()
            .schema_id(
                SchemaId::builder()
                    .registry_name(&self.registry_name)
                    .schema_name(schema_name)
                    .build(),
            )
            .schema_definition(definition)
            .send()
            .await
            .map_err(registry_error)?;
        if found.status() != Some(&SchemaVersionStatus::Available) {
            return Err(RegistryError::NotFound(format!(
                "its version in {} is {}",
                self.registry_name,
                found.status().map_or("without a status", |s| s.as_str())
            )));
        }
        let id = found.schema_version_id().unwrap_or_default();
        Uuid::parse_str(id).map_err(|_| {
            RegistryError::Unavailable(format!("the registry answered a version id '{id}'"))
        })
    }

    async fn version(&self, id: Uuid) -> Result<RegisteredVersion, RegistryError> {
        let found = self
            .client
            .get_schema_version()
            .schema_version_id(id.to_string())
            .send()
            .await
            .map_err(registry_error)?;
        if found.status() != Some(&SchemaVersionStatus::Available) {
            return Err(RegistryError::NotFound(format!(
                "schema version {id} is {}",
                found.status().map_or("without a status", |s| s.as_str())
            )));
        }
        let schema_name = found
            .schema_arn()
            .and_then(|arn| arn.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        Ok(RegisteredVersion {
            schema_name,
            version_number: found.version_number().unwrap_or_default(),
            definition: found.schema_definition().unwrap_or_default().to_owned(),
        })
    }
}

fn registry_error<E, R>(err: SdkError<E, R>) -> RegistryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some("EntityNotFoundException") => RegistryError::NotFound(
            err.as_service_error()
                .and_then(|e| e.message())
                .unwrap_or("not found")
                .to_owned(),
        ),
        _ => RegistryError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Schemas;
    use crate::schema::{Catalog, Kind};
    use aws_sdk_glue::operation::get_schema_by_definition::GetSchemaByDefinitionOutput;
    use aws_sdk_glue::operation::get_schema_version::GetSchemaVersionOutput;
    use platform::mocks::{mock, service_error};

    const ID: &str = "5b0a9a3e-7d3b-4c1e-9f00-0123456789ab";

    async fn glue(rules: &[&platform::mocks::Rule]) -> GlueRegistry {
        GlueRegistry::from_client(platform::mocked_client!(aws_sdk_glue, rules), "ads")
    }

    #[tokio::test]
    async fn a_versions_id_is_found_by_its_definition_once_per_process() {
        let catalog = Catalog::new().unwrap();
        let v2 = catalog.get(Kind::Install, 2).unwrap();
        let definition = v2.definition;
        let rule = mock!(aws_sdk_glue::Client::get_schema_by_definition)
            .match_requests(move |req| {
                req.schema_definition() == Some(definition)
                    && req.schema_id().and_then(|s| s.schema_name()) == Some("ad-install")
                    && req.schema_id().and_then(|s| s.registry_name()) == Some("ads")
            })
            .then_output(|| {
                GetSchemaByDefinitionOutput::builder()
                    .schema_version_id(ID)
                    .status(SchemaVersionStatus::Available)
                    .build()
            });
        let schemas = Schemas::new(glue(&[&rule]).await);
        for _ in 0..3 {
            assert_eq!(schemas.version_id(v2).await.unwrap().to_string(), ID);
        }
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_unregistered_or_failed_version_is_not_found_and_an_outage_unavailable() {
        let catalog = Catalog::new().unwrap();
        let v1 = catalog.get(Kind::Event, 1).unwrap();
        let missing = mock!(aws_sdk_glue::Client::get_schema_by_definition)
            .then_http_response(|| service_error(400, "EntityNotFoundException"));
        let err = Schemas::new(glue(&[&missing]).await).version_id(v1).await;
        assert!(
            matches!(&err, Err(RegistryError::NotFound(m)) if m.starts_with("event v1 is not registered")),
            "{err:?}"
        );
        let failed = mock!(aws_sdk_glue::Client::get_schema_by_definition).then_output(|| {
            GetSchemaByDefinitionOutput::builder()
                .schema_version_id(ID)
                .status(SchemaVersionStatus::Failure)
                .build()
        });
        let err = Schemas::new(glue(&[&failed]).await).version_id(v1).await;
        assert!(
            matches!(&err, Err(RegistryError::NotFound(m)) if m.contains("FAILURE")),
            "{err:?}"
        );
        let down = platform::mocks::always(
            mock!(aws_sdk_glue::Client::get_schema_by_definition),
            || service_error(500, "InternalServiceException"),
        );
        let err = Schemas::new(glue(&[&down]).await).version_id(v1).await;
        assert!(matches!(err, Err(RegistryError::Unavailable(_))), "{err:?}");
    }

    #[tokio::test]
    async fn a_writer_is_read_by_id_and_must_be_an_ad_event_schema() {
        let catalog = Catalog::new().unwrap();
        let definition = catalog.get(Kind::Install, 1).unwrap().definition;
        let rule = mock!(aws_sdk_glue::Client::get_schema_version)
            .match_requests(|req| req.schema_version_id() == Some(ID))
            .then_output(move || {
                GetSchemaVersionOutput::builder()
                    .schema_version_id(ID)
                    .schema_arn("arn:aws:glue:us-east-1:123456789012:schema/ads/ad-install")
                    .schema_definition(definition)
                    .version_number(1)
                    .status(SchemaVersionStatus::Available)
                    .build()
            });
        let schemas = Schemas::new(glue(&[&rule]).await);
        let id = Uuid::parse_str(ID).unwrap();
        let writer = schemas.writer(id).await.unwrap();
        assert_eq!((writer.kind, writer.version), (Kind::Install, 1));
        schemas.writer(id).await.unwrap();
        assert_eq!(rule.num_calls(), 1);

        let other = mock!(aws_sdk_glue::Client::get_schema_version).then_output(|| {
            GetSchemaVersionOutput::builder()
                .schema_arn("arn:aws:glue:us-east-1:123456789012:schema/ads/orders")
                .schema_definition("\"string\"")
                .version_number(4)
                .status(SchemaVersionStatus::Available)
                .build()
        });
        let err = Schemas::new(glue(&[&other]).await).writer(id).await;
        assert!(
            matches!(&err, Err(RegistryError::NotFound(m)) if m.contains("'orders'")),
            "{err:?}"
        );
    }
}
