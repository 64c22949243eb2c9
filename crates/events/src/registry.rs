//! The schema registry: the port, and the cache the bridge and the sink put in front of it
//! (its AWS Glue adapter is the `glue` module) (a version's id and definition never change once registered, so each is
//! asked for once per process).
//!
//! The bridge finds the id of the version it writes by the version's definition (what AWS's
//! serializers do); the sink finds the writer's definition by the id each message carries.
//! Registering is not done here: versions are registered at deploy time, where the registry
//! checks their compatibility (`infra/register_schemas.py`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use apache_avro::Schema;
use thiserror::Error;
use uuid::Uuid;

#[cfg(feature = "glue")]
pub use crate::glue::GlueRegistry;
use crate::schema::{EventSchema, Kind};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry answered: no such version (or not usable). Asking again will not help
    /// until someone registers it.
    #[error("{0}")]
    NotFound(String),
    /// The registry could not be asked (network, throttling, its own failure).
    #[error("the schema registry is unavailable: {0}")]
    Unavailable(String),
}

/// A version as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredVersion {
    pub schema_name: String,
    pub version_number: i64,
    pub definition: String,
}

/// What the bridge and the sink ask the registry.
pub trait SchemaRegistry: Send + Sync {
    /// The id of the AVAILABLE version of `schema_name` whose definition is `definition`.
    fn version_id(
        &self,
        schema_name: &str,
        definition: &str,
    ) -> impl Future<Output = Result<Uuid, RegistryError>> + Send;

    /// The version with this id.
    fn version(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<RegisteredVersion, RegistryError>> + Send;
}

/// The writer's schema of a message, parsed.
#[derive(Debug, Clone)]
pub struct WriterSchema {
    pub kind: Kind,
    pub version: i64,
    pub schema: Schema,
}

/// The registry with what it answered kept for the life of the process. Failures are not
/// kept: the next message asks again.
pub struct Schemas<R> {
    registry: R,
    ids: Mutex<HashMap<(Kind, u32), Uuid>>,
    writers: Mutex<HashMap<Uuid, Arc<WriterSchema>>>,
}

impl<R: SchemaRegistry> Schemas<R> {
    pub fn new(registry: R) -> Schemas<R> {
        Schemas {
            registry,
            ids: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
        }
    }

    pub fn registry(&self) -> &R {
        &self.registry
    }

    /// The registry's id of one of the compiled-in versions.
    pub async fn version_id(&self, schema: &EventSchema) -> Result<Uuid, RegistryError> {
        let key = (schema.kind, schema.version);
        if let Some(id) = self.ids.lock().expect("not poisoned").get(&key) {
            return Ok(*id);
        }
        let id = self
            .registry
            .version_id(schema.kind.schema_name(), schema.definition)
            .await
            .map_err(|err| match err {
                RegistryError::NotFound(reason) => RegistryError::NotFound(format!(
                    "{} v{} is not registered: {reason}",
                    schema.kind, schema.version
                )),
                other => other,
            })?;
        self.ids.lock().expect("not poisoned").insert(key, id);
        Ok(id)
    }

    /// The schema a message was written with, by the id it carries.
    pub async fn writer(&self, id: Uuid) -> Result<Arc<WriterSchema>, RegistryError> {
        if let Some(writer) = self.writers.lock().expect("not poisoned").get(&id) {
            return Ok(Arc::clone(writer));
        }
        let version = self.registry.version(id).await?;
        let kind = Kind::from_schema_name(&version.schema_name).ok_or_else(|| {
            RegistryError::NotFound(format!(
                "schema version {id} belongs to '{}', not to an ad event schema",
                version.schema_name
            ))
        })?;
        let schema = Schema::parse_str(&version.definition).map_err(|err| {
            RegistryError::NotFound(format!("schema version {id} is not valid Avro: {err}"))
        })?;
        let writer = Arc::new(WriterSchema {
            kind,
            version: version.version_number,
            schema,
        });
        self.writers
            .lock()
            .expect("not poisoned")
            .insert(id, Arc::clone(&writer));
        Ok(writer)
    }
}
