//! Ad-network callbacks on the bridge: `GET` or `POST /api/v1/events/{network}/{kind}`.
//!
//! A network calls its callback URL with the event's fields as query parameters (GET) or as a
//! JSON object (POST; gzip allowed), with its key as the `key` query parameter or the
//! `X-Network-Key` header. The callback is checked against the version of its kind's schema it
//! names (`version`), encoded with that version in Glue Schema Registry's framing, and produced
//! keyed by `{network}/{event_id}`; the answer waits for the brokers' acknowledgement:
//!
//! - 200 `{"status": "accepted", …}` once acknowledged;
//! - 400 `invalid_callback` with `fields` (each wrong field and why), `unknown_version` with
//!   the versions there are, `invalid_body` for a POST body that is not a JSON object; nothing
//!   is produced;
//! - 403 `invalid_network_key`; 404 `unknown_network` / `unknown_kind`; 405; 415;
//! - 503 with `Retry-After` when nothing can be produced (`broker_unavailable`, `overloaded`,
//!   `schema_registry_unavailable`, `schema_not_registered`), or `delivery_unknown` when the
//!   brokers did not answer in time: the event may have been stored, and sending it again is
//!   safe, because the store keeps one event per network and `event_id`.

use std::collections::BTreeMap;

use events::callback::{self, Arrival, Raw, Refusal};
use events::registry::{RegistryError, SchemaRegistry, Schemas};
use events::schema::Catalog;
use events::{Kind, wire};
use http::{HeaderValue, Method, Response, StatusCode, header};
use platform::Secret;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api::{LogRequest, error, error_with, json_response, retry_later};
use crate::auth::StaticKeys;
use crate::config::Limits;
use crate::entry::{self, BodyError};
use crate::ports::{Delivery, LogPublisher, PublishError};
use crate::record::OutRecord;

pub const ROUTE_PREFIX: &str = "/api/v1/events/";
/// The query parameter that may carry the network's key.
pub const KEY_PARAMETER: &str = "key";
pub const KEY_HEADER: &str = "x-network-key";

/// Each network's accepted keys (several during a rotation), kept as digests.
pub struct NetworkKeys(BTreeMap<String, StaticKeys>);

impl std::fmt::Debug for NetworkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl NetworkKeys {
    /// Parses `network:key` pairs separated by commas; a network may be listed more than once
    /// (one key each). Names are 1–64 of `a-z 0-9 _ -`.
    pub fn parse(spec: &Secret) -> Result<NetworkKeys, String> {
        let mut keys: BTreeMap<String, Vec<Secret>> = BTreeMap::new();
        for pair in spec
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((network, key)) = pair.split_once(':') else {
                return Err("an entry is not network:key".into());
            };
            let (network, key) = (network.trim(), key.trim());
            if !is_network_name(network) {
                return Err(format!(
                    "'{network}' is not a network name (1-64 of a-z, 0-9, '_', '-')"
                ));
            }
            if key.is_empty() {
                return Err(format!("network '{network}' has an empty key"));
            }
            keys.entry(network.to_owned())
                .or_default()
                .push(Secret::from(key));
        }
        if keys.is_empty() {
            return Err("no network:key pair".into());
        }
        Ok(NetworkKeys(
            keys.into_iter()
                .map(|(network, keys)| (network, StaticKeys::new(&keys)))
                .collect(),
        ))
    }

    pub fn knows(&self, network: &str) -> bool {
        self.0.contains_key(network)
    }

    /// Whether `presented` is one of `network`'s keys (in constant time over its keys).
    pub fn accepts(&self, network: &str, presented: &[u8]) -> bool {
        self.0
            .get(network)
            .is_some_and(|keys| !presented.is_empty() && keys.accepts(presented))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn is_network_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The callback routes, built once per process.
pub struct Callbacks<R> {
    pub topic: String,
    pub networks: NetworkKeys,
    pub catalog: Catalog,
    pub schemas: Schemas<R>,
}

impl<R: SchemaRegistry> Callbacks<R> {
    /// `route` is the path after [`ROUTE_PREFIX`].
    pub async fn handle<P: LogPublisher>(
        &self,
        publisher: &P,
        route: &str,
        request: &LogRequest,
        limits: &Limits,
        now: OffsetDateTime,
    ) -> Response<Vec<u8>> {
        let Some((network, kind)) = route.split_once('/').filter(|(network, kind)| {
            !network.is_empty() && !kind.is_empty() && !kind.contains('/')
        }) else {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Callbacks go to /api/v1/events/{network}/{kind}",
            );
        };
        if !self.networks.knows(network) {
            return error(
                StatusCode::NOT_FOUND,
                "unknown_network",
                &format!("No ad network is named '{network}'"),
            );
        }
        let Some(kind) = Kind::from_path(kind) else {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            return error(
                StatusCode::NOT_FOUND,
                "unknown_kind",
                &format!(
                    "No kind of callback is named '{kind}'; kinds: {}",
                    kinds.join(", ")
                ),
            );
        };
        if request.method != Method::GET && request.method != Method::POST {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Callbacks are GET or POST",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }

        let mut fields: Vec<(String, Raw)> = Vec::new();
        let mut query_key = None;
        for (name, value) in
            form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes())
        {
            if name == KEY_PARAMETER {
                query_key = Some(value.into_owned());
            } else {
                fields.push((name.into_owned(), Raw::Text(value.into_owned())));
            }
        }
        let presented = request
            .headers
            .get(KEY_HEADER)
            .map(|v| v.as_bytes().trim_ascii().to_vec())
            .or(query_key.map(String::into_bytes))
            .unwrap_or_default();
        if !self.networks.accepts(network, &presented) {
            return error(
                StatusCode::FORBIDDEN,
                "invalid_network_key",
                &format!(
                    "The key of network '{network}' is missing or wrong (the `key` query \
                     parameter or the X-Network-Key header)"
                ),
            );
        }
        if request.method == Method::POST
            && let Err(response) = self.body_fields(request, limits, &mut fields)
        {
            return *response;
        }

        let arrival = Arrival {
            network,
            received_at: now,
        };
        let accepted = match callback::check(&self.catalog, kind, fields, arrival) {
            Ok(accepted) => accepted,
            Err(Refusal::UnknownVersion { given, known }) => {
                let known: Vec<String> = known.iter().map(u32::to_string).collect();
                let reason = match given {
                    None => "required".to_owned(),
                    Some(given) => format!("'{given}' is not a version of {kind}"),
                };
                return error_with(
                    StatusCode::BAD_REQUEST,
                    "unknown_version",
                    &format!(
                        "Name the version of the {kind} schema the callback follows: {}",
                        known.join(", ")
                    ),
                    "fields",
                    json!({ callback::VERSION_FIELD: reason }),
                );
            }
            Err(Refusal::Invalid(errors)) => {
                return error_with(
                    StatusCode::BAD_REQUEST,
                    "invalid_callback",
                    &format!("The {kind} callback is invalid; nothing was stored"),
                    "fields",
                    json!(errors),
                );
            }
        };
        let version_id = match self.schemas.version_id(accepted.schema).await {
            Ok(id) => id,
            Err(err) => {
                let code = match err {
                    RegistryError::NotFound(_) => "schema_not_registered",
                    RegistryError::Unavailable(_) => "schema_registry_unavailable",
                };
                tracing::error!(error = %err, kind = %kind, "no schema version id");
                return retry_later(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "The schema registry cannot be read; nothing was stored, retry shortly",
                ));
            }
        };
        let datum = match apache_avro::to_avro_datum(&accepted.schema.schema, accepted.record) {
            Ok(datum) => datum,
            Err(err) => {
                tracing::error!(error = %err, kind = %kind, "a checked callback did not encode");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "The callback could not be encoded; nothing was stored",
                );
            }
        };
        let record = OutRecord {
            key: Some(format!("{network}/{}", accepted.event_id)),
            value: wire::encode(version_id, &datum),
        };
        let delivery = publisher
            .publish(&self.topic, vec![record])
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| Delivery::Unknown(PublishError::Unavailable("no outcome".into())));
        let summary = json!({
            "network": network,
            "kind": kind.as_str(),
            "version": accepted.schema.version,
            "event_id": accepted.event_id,
        });
        match delivery {
            Delivery::Acknowledged => {
                let mut body = summary;
                body["status"] = Value::from("accepted");
                json_response(StatusCode::OK, &body)
            }
            Delivery::NotSent(PublishError::Backpressure) => retry_later(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Too many callbacks are in flight; nothing was stored, retry shortly",
            )),
            Delivery::NotSent(err) => {
                tracing::warn!(error = %err, "callback not produced");
                retry_later(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "broker_unavailable",
                    "The brokers cannot be reached; nothing was stored, retry shortly",
                ))
            }
            Delivery::Unknown(err) => {
                tracing::warn!(error = %err, "callback delivery unknown");
                retry_later(error_with(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "delivery_unknown",
                    "The brokers did not acknowledge in time; the event may have been stored. \
                     Sending it again is safe: one event is stored per network and event_id",
                    "event",
                    summary,
                ))
            }
        }
    }

    /// A POST's JSON object, added to the query's fields.
    fn body_fields(
        &self,
        request: &LogRequest,
        limits: &Limits,
        fields: &mut Vec<(String, Raw)>,
    ) -> Result<(), Box<Response<Vec<u8>>>> {
        let content_type = request
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json")
            && !essence.to_ascii_lowercase().ends_with("+json")
        {
            return Err(Box::new(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "A POST callback is a JSON object (Content-Type: application/json)",
            )));
        }
        let encoding = request
            .headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("(not text)"));
        let body =
            entry::decode_body(&request.body, encoding, limits).map_err(
                |problem| match problem {
                    BodyError::TooLarge { limit } => crate::api::payload_too_large(limit),
                    BodyError::UnsupportedEncoding(encoding) => error(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "unsupported_encoding",
                        &format!("Content-Encoding '{encoding}' is not gzip"),
                    ),
                    _ => error(
                        StatusCode::BAD_REQUEST,
                        "invalid_body",
                        "The body does not decompress",
                    ),
                },
            )?;
        let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(&body) else {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "A POST callback is one JSON object",
            )));
        };
        for (name, value) in members {
            let raw = match value {
                Value::String(text) => Raw::Text(text),
                Value::Number(number) => Raw::Number(number.to_string()),
                Value::Null => Raw::Null,
                _ => Raw::Other,
            };
            fields.push((name, raw));
        }
        Ok(())
    }
}
