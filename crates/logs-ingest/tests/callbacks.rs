//! Handler tests of the ad-network callbacks: requests as networks send them (GET query
//! parameters, POST JSON, gzip) into the bridge, with in-memory fakes of the broker and the
//! schema registry.

use std::io::Write;
use std::sync::Mutex;

use bytes::Bytes;
use events::registry::{RegisteredVersion, RegistryError, SchemaRegistry, Schemas};
use events::schema::Catalog;
use events::wire;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use logs_ingest::api::{LogRequest, LogsApi};
use logs_ingest::auth::Authenticator;
use logs_ingest::callbacks::{Callbacks, NetworkKeys};
use logs_ingest::config::{Limits, Routes};
use logs_ingest::ports::{Delivery, LogPublisher, PublishError};
use logs_ingest::record::OutRecord;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2026-12-03 10:00:00 UTC);

struct Broker {
    produced: Mutex<Vec<(String, OutRecord)>>,
    outcome: Delivery,
}

impl LogPublisher for Broker {
    async fn publish(&self, topic: &str, records: Vec<OutRecord>) -> Vec<Delivery> {
        let mut produced = self.produced.lock().unwrap();
        records
            .into_iter()
            .map(|record| {
                if !matches!(self.outcome, Delivery::NotSent(_)) {
                    produced.push((topic.to_owned(), record));
                }
                self.outcome.clone()
            })
            .collect()
    }
}

/// A registry where every compiled-in version is registered under an id derived from its
/// kind and version, or that is down.
struct Registry {
    down: bool,
}

fn id_of(schema_name: &str, definition: &str) -> Uuid {
    let catalog = Catalog::new().unwrap();
    let schema = catalog
        .iter()
        .find(|s| s.kind.schema_name() == schema_name && s.definition == definition)
        .unwrap();
    Uuid::from_u128(u128::from(schema.version) << 8 | schema.kind as u128)
}

impl SchemaRegistry for Registry {
    async fn version_id(&self, schema_name: &str, definition: &str) -> Result<Uuid, RegistryError> {
        if self.down {
            return Err(RegistryError::Unavailable("down".into()));
        }
        Ok(id_of(schema_name, definition))
    }

    async fn version(&self, _: Uuid) -> Result<RegisteredVersion, RegistryError> {
        Err(RegistryError::NotFound("unused".into()))
    }
}

fn api(outcome: Delivery, registry_down: bool) -> LogsApi<Broker, Registry> {
    LogsApi {
        publisher: Broker {
            produced: Mutex::new(Vec::new()),
            outcome,
        },
        auth: Authenticator::new(&["app-key".into()], None).unwrap(),
        routes: Routes::parse("app=mobile-logs").unwrap(),
        limits: Limits::default(),
        mask_mobile_number: true,
        callbacks: Some(Callbacks {
            topic: "ad-events".into(),
            networks: NetworkKeys::parse(&"adnet:net-key,adnet:rotated-key,other:k2".into())
                .unwrap(),
            catalog: Catalog::new().unwrap(),
            schemas: Schemas::new(Registry {
                down: registry_down,
            }),
        }),
    }
}

fn get(path: &str, query: &str) -> LogRequest {
    LogRequest {
        method: Method::GET,
        path: path.into(),
        query: Some(query.into()),
        headers: HeaderMap::new(),
        body: Bytes::new(),
        client_ip: Some("198.51.100.4".into()),
        request_id: "req".into(),
    }
}

fn post(path: &str, query: &str, body: Vec<u8>, gzip: bool) -> LogRequest {
    let mut request = get(path, query);
    request.method = Method::POST;
    request
        .headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    if gzip {
        request
            .headers
            .insert("content-encoding", HeaderValue::from_static("gzip"));
    }
    request.body = body.into();
    request
}

const INSTALL: &str = "version=1&event_id=ev-1&app_id=com.example.game\
    &occurred_at=2026-12-03T09%3A59%3A00Z&device_id=6D92078A-8246&campaign=winter+sale";

async fn answer(api: &LogsApi<Broker, Registry>, request: LogRequest) -> (StatusCode, Value) {
    let response = api.handle_at(request, NOW).await;
    let status = response.status();
    (status, serde_json::from_slice(response.body()).unwrap())
}

fn decoded(api: &LogsApi<Broker, Registry>) -> Vec<(String, Uuid, apache_avro::types::Value)> {
    let catalog = Catalog::new().unwrap();
    api.publisher
        .produced
        .lock()
        .unwrap()
        .iter()
        .map(|(topic, record)| {
            let (id, datum) = wire::decode(&record.value).unwrap();
            let schema = catalog
                .iter()
                .find(|s| id_of(s.kind.schema_name(), s.definition) == id)
                .unwrap();
            let value =
                apache_avro::from_avro_datum(&schema.schema, &mut datum.as_slice(), None).unwrap();
            assert_eq!(topic, "ad-events");
            (record.key.clone().unwrap(), id, value)
        })
        .collect()
}

fn field<'v>(record: &'v apache_avro::types::Value, name: &str) -> &'v apache_avro::types::Value {
    let apache_avro::types::Value::Record(fields) = record else {
        panic!("not a record")
    };
    &fields.iter().find(|(n, _)| n == name).unwrap().1
}

#[tokio::test]
async fn a_get_callback_with_the_key_in_the_url_is_produced_in_the_registrys_framing() {
    let api = api(Delivery::Acknowledged, false);
    let (status, body) = answer(
        &api,
        get(
            "/api/v1/events/adnet/install",
            &format!("{INSTALL}&key=net-key"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["event_id"], "ev-1");
    let produced = decoded(&api);
    assert_eq!(produced.len(), 1);
    let (key, _, record) = &produced[0];
    assert_eq!(key, "adnet/ev-1");
    assert_eq!(
        field(record, "network"),
        &apache_avro::types::Value::String("adnet".into())
    );
    assert_eq!(
        field(record, "campaign"),
        &apache_avro::types::Value::Union(
            1,
            Box::new(apache_avro::types::Value::String("winter sale".into()))
        )
    );
}

#[tokio::test]
async fn a_gzip_json_post_with_the_key_in_a_header_follows_version_two() {
    let api = api(Delivery::Acknowledged, false);
    let json = br#"{"version": 2, "event_id": "ev-2", "app_id": "shop", "occurred_at": 1796291940,
        "device_id": "d-1", "ad_set": "set-7"}"#;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(json).unwrap();
    let mut request = post(
        "/api/v1/events/adnet/install",
        "",
        gzip.finish().unwrap(),
        true,
    );
    request
        .headers
        .insert("x-network-key", HeaderValue::from_static("rotated-key"));
    let (status, body) = answer(&api, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    let produced = decoded(&api);
    assert_eq!(
        field(&produced[0].2, "ad_set"),
        &apache_avro::types::Value::Union(
            1,
            Box::new(apache_avro::types::Value::String("set-7".into()))
        )
    );
}

#[tokio::test]
async fn wrong_keys_unknown_routes_and_bad_fields_are_refused_before_anything_is_produced() {
    let api = api(Delivery::Acknowledged, false);
    let cases = [
        (
            get("/api/v1/events/adnet/install", INSTALL),
            403,
            "invalid_network_key",
        ),
        (
            get(
                "/api/v1/events/other/install",
                &format!("{INSTALL}&key=net-key"),
            ),
            403,
            "invalid_network_key",
        ),
        (
            get("/api/v1/events/nobody/install", "key=x"),
            404,
            "unknown_network",
        ),
        (
            get("/api/v1/events/adnet/purchase", "key=net-key"),
            404,
            "unknown_kind",
        ),
        (get("/api/v1/events/adnet", "key=net-key"), 404, "not_found"),
        (
            get(
                "/api/v1/events/adnet/install",
                &format!("{}&key=net-key", INSTALL.replace("version=1", "version=7")),
            ),
            400,
            "unknown_version",
        ),
        (
            get(
                "/api/v1/events/adnet/install",
                "key=net-key&version=1&event_id=e&app_id=a/b",
            ),
            400,
            "invalid_callback",
        ),
        (
            post(
                "/api/v1/events/adnet/event",
                "key=net-key",
                b"[1,2]".to_vec(),
                false,
            ),
            400,
            "invalid_body",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = answer(&api, request).await;
        assert_eq!(
            (got.as_u16(), body["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let (_, body) = answer(
        &api,
        get(
            "/api/v1/events/adnet/install",
            "key=net-key&version=1&event_id=e&app_id=a/b",
        ),
    )
    .await;
    assert_eq!(
        body["fields"]["app_id"],
        "must be 1-64 letters, digits, '.', '_' or '-'"
    );
    assert_eq!(body["fields"]["device_id"], "required");
    let mut put = get("/api/v1/events/adnet/install", "key=net-key");
    put.method = Method::PUT;
    let response = api.handle_at(put, NOW).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let mut form = post(
        "/api/v1/events/adnet/install",
        "key=net-key",
        b"a=1".to_vec(),
        false,
    );
    form.headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert_eq!(
        answer(&api, form).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert!(api.publisher.produced.lock().unwrap().is_empty());
}

#[tokio::test]
async fn outages_answer_503_and_say_whether_the_event_may_have_been_stored() {
    let query = format!("{INSTALL}&key=net-key");
    for (outcome, registry_down, code, produced) in [
        (
            Delivery::Acknowledged,
            true,
            "schema_registry_unavailable",
            0,
        ),
        (
            Delivery::NotSent(PublishError::Unavailable("down".into())),
            false,
            "broker_unavailable",
            0,
        ),
        (
            Delivery::NotSent(PublishError::Backpressure),
            false,
            "overloaded",
            0,
        ),
        (
            Delivery::Unknown(PublishError::Unavailable("timed out".into())),
            false,
            "delivery_unknown",
            1,
        ),
    ] {
        let api = api(outcome, registry_down);
        let response = api
            .handle_at(get("/api/v1/events/adnet/install", &query), NOW)
            .await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"], code);
        assert_eq!(api.publisher.produced.lock().unwrap().len(), produced);
        if code == "delivery_unknown" {
            assert_eq!(body["event"]["event_id"], "ev-1");
        }
    }
}

#[tokio::test]
async fn a_bridge_without_callbacks_answers_404_and_logs_still_work() {
    let mut api = api(Delivery::Acknowledged, false);
    api.callbacks = None;
    let (status, _) = answer(&api, get("/api/v1/events/adnet/install", INSTALL)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
