//! events-sink handler tests: MSK events of framed Avro messages, as the bridge produces them,
//! into the sink, with in-memory fakes of the table and the schema registry.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use events::callback::{self, Arrival, Raw};
use events::registry::{RegisteredVersion, RegistryError, SchemaRegistry, Schemas};
use events::schema::Catalog;
use events::{Kind, wire};
use events_store::item::{Attr, EventItem, ItemKey};
use events_store::ports::{EventTable, PARKED_VALUE_LIMIT, Parked, TableError};
use events_store::sink::{Backoff, EventsSink};
use platform::msk::{BatchItemFailure, BatchResponse, ItemIdentifier, KafkaEvent, KafkaRecord};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Uuid;

fn id_of(kind: Kind, version: u32) -> Uuid {
    Uuid::from_u128(u128::from(version) << 8 | kind as u128)
}

/// Every compiled-in version registered under an id derived from its kind and version.
struct Registry {
    down: bool,
    asked: Mutex<usize>,
}

impl SchemaRegistry for Registry {
    async fn version_id(&self, _: &str, _: &str) -> Result<Uuid, RegistryError> {
        unreachable!("the sink only reads versions by id")
    }

    async fn version(&self, id: Uuid) -> Result<RegisteredVersion, RegistryError> {
        *self.asked.lock().unwrap() += 1;
        if self.down {
            return Err(RegistryError::Unavailable("connection refused".into()));
        }
        let catalog = Catalog::new().unwrap();
        catalog
            .iter()
            .find(|s| id_of(s.kind, s.version) == id)
            .map(|s| RegisteredVersion {
                schema_name: s.kind.schema_name().into(),
                version_number: i64::from(s.version),
                definition: s.definition.into(),
            })
            .ok_or_else(|| RegistryError::NotFound(format!("no schema version {id}")))
    }
}

/// A table that leaves the first `unprocessed` items of each of its first `stingy` calls
/// unprocessed, fails the first `failing` calls, and refuses any call holding a refused key.
#[derive(Default)]
struct Table {
    items: Mutex<BTreeMap<ItemKey, EventItem>>,
    calls: Mutex<Vec<Vec<ItemKey>>>,
    parked: Mutex<Vec<Parked>>,
    stingy: usize,
    unprocessed: usize,
    failing: usize,
    refused: Option<String>,
}

impl EventTable for Table {
    async fn write_batch(&self, items: &[EventItem]) -> Result<Vec<ItemKey>, TableError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(items.iter().map(|i| i.key.clone()).collect());
        let call = calls.len();
        if call <= self.failing {
            return Err(TableError::Throttled("slow down".into()));
        }
        if let Some(refused) = &self.refused
            && items.iter().any(|i| &i.key.sk == refused)
        {
            return Err(TableError::Refused("item too large".into()));
        }
        let skip = if call <= self.stingy {
            self.unprocessed.min(items.len())
        } else {
            0
        };
        let mut stored = self.items.lock().unwrap();
        for item in &items[skip..] {
            stored.insert(item.key.clone(), item.clone());
        }
        Ok(items[..skip].iter().map(|i| i.key.clone()).collect())
    }

    async fn park(&self, parked: &Parked) -> Result<(), TableError> {
        // DynamoDB's item limit.
        let size = parked.key.as_ref().map_or(0, String::len)
            + parked.value.as_ref().map_or(0, String::len)
            + parked.reason.len();
        if size > 400 * 1024 {
            return Err(TableError::Refused(
                "Item size has exceeded the maximum".into(),
            ));
        }
        self.parked.lock().unwrap().push(parked.clone());
        Ok(())
    }
}

fn sink(table: Table, registry_down: bool) -> EventsSink<Table, Registry> {
    EventsSink {
        table,
        schemas: Schemas::new(Registry {
            down: registry_down,
            asked: Mutex::new(0),
        }),
        backoff: Backoff {
            first: Duration::ZERO,
            max: Duration::ZERO,
            attempts: 4,
        },
    }
}

/// A message as the bridge produces it for a callback of `kind` following `version`.
fn message(kind: Kind, version: u32, network: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let catalog = Catalog::new().unwrap();
    let mut given = vec![("version".to_owned(), Raw::Text(version.to_string()))];
    given.extend(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), Raw::Text(v.to_string()))),
    );
    let arrival = Arrival {
        network,
        received_at: datetime!(2026-12-03 10:00:00.250 UTC),
    };
    let accepted = callback::check(&catalog, kind, given, arrival).unwrap();
    let datum = apache_avro::to_avro_datum(&accepted.schema.schema, accepted.record).unwrap();
    wire::encode(id_of(kind, version), &datum)
}

fn install(version: u32, event_id: &str, day: u32) -> Vec<u8> {
    let occurred = format!("2026-11-{day:02}T23:59:59.5Z");
    let mut fields = vec![
        ("event_id", event_id),
        ("app_id", "com.example.game"),
        ("occurred_at", occurred.as_str()),
        ("device_id", "6D92078A-8246"),
        ("campaign", "winter sale"),
    ];
    if version == 2 {
        fields.push(("ad_set", "set-7"));
    }
    message(Kind::Install, version, "adnet", &fields)
}

/// Offset and value of each record of a partition.
type Records = Vec<(i64, Vec<u8>)>;

fn event(partitions: &[(&str, Records)]) -> KafkaEvent {
    let mut event = KafkaEvent::default();
    for (partition, values) in partitions {
        let records = values
            .iter()
            .map(|(offset, value)| KafkaRecord {
                topic: Some("ad-events".into()),
                partition: 0,
                offset: *offset,
                key: Some(STANDARD.encode(b"adnet/ev")),
                value: Some(STANDARD.encode(value)),
            })
            .collect();
        event.records.insert(partition.to_string(), records);
    }
    event
}

/// The partitions and offsets a response reports, in order.
fn reported(response: BatchResponse) -> Vec<(String, i64)> {
    let mut failures: Vec<(String, i64)> = response
        .batch_item_failures
        .into_iter()
        .map(|f| (f.item_identifier.partition, f.item_identifier.offset))
        .collect();
    failures.sort();
    failures
}

fn key(day: &str, sk: &str) -> ItemKey {
    ItemKey {
        pk: format!("com.example.game#{day}"),
        sk: sk.into(),
    }
}

fn text(value: &str) -> Attr {
    Attr::S(value.into())
}

#[tokio::test]
async fn v1_and_v2_messages_on_one_topic_are_stored_per_app_and_day_and_redelivery_changes_nothing()
{
    let sink = sink(Table::default(), false);
    let batch = || {
        event(&[(
            "ad-events-0",
            vec![(7, install(1, "ev-1", 20)), (8, install(2, "ev-2", 21))],
        )])
    };

    let response = sink.handle(batch()).await;
    assert!(response.batch_item_failures.is_empty());
    let stored = sink.table.items.lock().unwrap().clone();
    assert_eq!(
        stored.keys().cloned().collect::<Vec<_>>(),
        [
            key("2026-11-20", "adnet#ev-1"),
            key("2026-11-21", "adnet#ev-2")
        ]
    );
    let v1 = &stored[&key("2026-11-20", "adnet#ev-1")].attributes;
    assert_eq!(v1["kind"], text("install"));
    assert_eq!(v1["schema_version"], Attr::N("1".into()));
    assert_eq!(v1["occurred_at"], text("2026-11-20T23:59:59.500Z"));
    assert_eq!(v1["received_at"], text("2026-12-03T10:00:00.250Z"));
    assert_eq!(v1["network"], text("adnet"));
    assert_eq!(v1["campaign"], text("winter sale"));
    assert!(!v1.contains_key("ad_set") && !v1.contains_key("country"));
    let v2 = &stored[&key("2026-11-21", "adnet#ev-2")].attributes;
    assert_eq!(v2["schema_version"], Attr::N("2".into()));
    assert_eq!(v2["ad_set"], text("set-7"));

    assert!(sink.handle(batch()).await.batch_item_failures.is_empty());
    assert_eq!(*sink.table.items.lock().unwrap(), stored);
    assert_eq!(
        *sink.schemas.registry().asked.lock().unwrap(),
        2,
        "each writer asked once"
    );
}

#[tokio::test]
async fn a_big_batch_goes_25_to_a_call_with_each_event_once_per_call() {
    let sink = sink(Table::default(), false);
    // 60 messages of 40 events: the last 20 are a network sending ev-0..ev-19 again.
    let values: Records = (0..60)
        .map(|n| (n, install(1, &format!("ev-{}", n % 40), 20)))
        .collect();
    assert!(
        sink.handle(event(&[("ad-events-1", values)]))
            .await
            .batch_item_failures
            .is_empty()
    );

    let calls = sink.table.calls.lock().unwrap();
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [25, 15]);
    for call in calls.iter() {
        assert_eq!(
            call.iter().collect::<HashSet<_>>().len(),
            call.len(),
            "no key twice in a call"
        );
    }
    assert_eq!(sink.table.items.lock().unwrap().len(), 40);
}

#[tokio::test]
async fn unprocessed_items_are_written_again_until_the_table_takes_them() {
    let table = Table {
        stingy: 2,
        unprocessed: 10,
        ..Table::default()
    };
    let sink = sink(table, false);
    let values = (0..25)
        .map(|n| (n, install(1, &format!("ev-{n}"), 20)))
        .collect();
    let response = sink.handle(event(&[("ad-events-0", values)])).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sink.table.items.lock().unwrap().len(), 25);
    let calls = sink.table.calls.lock().unwrap();
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [25, 10, 10]);
}

#[tokio::test]
async fn a_table_that_keeps_failing_is_reported_from_the_earliest_offset_not_written() {
    let table = Table {
        failing: usize::MAX,
        ..Table::default()
    };
    let sink = sink(table, false);
    let response = sink
        .handle(event(&[
            (
                "ad-events-0",
                vec![(40, install(1, "ev-1", 20)), (41, install(1, "ev-2", 20))],
            ),
            ("ad-events-2", vec![(9, install(1, "ev-3", 20))]),
        ]))
        .await;

    let mut failures = response.batch_item_failures;
    failures.sort_by(|a, b| {
        a.item_identifier
            .partition
            .cmp(&b.item_identifier.partition)
    });
    assert_eq!(
        failures,
        [
            BatchItemFailure {
                item_identifier: ItemIdentifier {
                    partition: "ad-events-0".into(),
                    offset: 40
                }
            },
            BatchItemFailure {
                item_identifier: ItemIdentifier {
                    partition: "ad-events-2".into(),
                    offset: 9
                }
            },
        ]
    );
    assert_eq!(
        sink.table.calls.lock().unwrap().len(),
        4,
        "the backoff's attempts, then reported"
    );
    assert!(
        sink.table.parked.lock().unwrap().is_empty(),
        "a failing table parks nothing"
    );
}

#[tokio::test]
async fn records_that_cannot_be_decoded_are_parked_with_the_reason_and_not_retried() {
    let sink = sink(Table::default(), false);
    let mut unknown_version = install(1, "ev-9", 20);
    unknown_version[2..18].copy_from_slice(Uuid::from_u128(99).as_bytes());
    let mut truncated = install(1, "ev-8", 20);
    truncated.truncate(30);
    let mut batch = event(&[(
        "ad-events-0",
        vec![
            (1, install(1, "ev-1", 20)),
            (2, b"{\"not\":\"avro\"}".to_vec()),
            (3, unknown_version),
            (4, truncated),
            (5, install(1, "ev-5", 20)),
        ],
    )]);
    batch
        .records
        .get_mut("ad-events-0")
        .unwrap()
        .push(KafkaRecord {
            topic: None,
            partition: 0,
            offset: 6,
            key: None,
            value: Some("%%%".into()),
        });

    let response = sink.handle(batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sink.table.items.lock().unwrap().len(), 2);
    let parked = sink.table.parked.lock().unwrap();
    let reasons: Vec<(i64, &str)> = parked
        .iter()
        .map(|p| (p.offset, p.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].0 == 2 && reasons[0].1.contains("header"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == 3 && reasons[1].1.contains("no schema version"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].0 == 4 && reasons[2].1.contains("not a datum of install v1"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].0 == 6 && reasons[3].1.contains("base64"),
        "{reasons:?}"
    );
    assert_eq!(parked[0].partition, "ad-events-0");
    assert_eq!(
        parked[0].value.as_deref(),
        Some(STANDARD.encode(b"{\"not\":\"avro\"}").as_str())
    );
}

#[tokio::test]
async fn an_item_the_table_refuses_is_parked_and_the_rest_of_its_call_written() {
    let table = Table {
        refused: Some("adnet#ev-3".into()),
        ..Table::default()
    };
    let sink = sink(table, false);
    let values = (0..5)
        .map(|n| (n, install(1, &format!("ev-{n}"), 20)))
        .collect();
    let response = sink.handle(event(&[("ad-events-0", values)])).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sink.table.items.lock().unwrap().len(), 4);
    let parked = sink.table.parked.lock().unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].offset, 3);
    assert!(
        parked[0].reason.contains("item too large"),
        "{}",
        parked[0].reason
    );
}

#[tokio::test]
async fn a_registry_that_cannot_be_asked_reports_the_partition_and_parks_nothing() {
    let sink = sink(Table::default(), true);
    let response = sink
        .handle(event(&[(
            "ad-events-0",
            vec![(12, install(1, "ev-1", 20)), (13, install(2, "ev-2", 20))],
        )]))
        .await;

    assert_eq!(
        response.batch_item_failures,
        [BatchItemFailure {
            item_identifier: ItemIdentifier {
                partition: "ad-events-0".into(),
                offset: 12
            }
        }]
    );
    assert!(sink.table.items.lock().unwrap().is_empty());
    assert!(sink.table.parked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_record_too_large_for_the_table_is_parked_cut_with_its_digest() {
    let sink = sink(Table::default(), false);
    // A megabyte that is not one of ours: MSK delivers records this large.
    let garbage = vec![b'x'; 1024 * 1024];
    let response = sink
        .handle(event(&[("ad-events-0", vec![(7, garbage.clone())])]))
        .await;

    assert!(
        response.batch_item_failures.is_empty(),
        "not retried forever"
    );
    let parked = sink.table.parked.lock().unwrap();
    assert_eq!(parked.len(), 1);
    let whole = STANDARD.encode(&garbage);
    let kept = parked[0].value.as_deref().unwrap();
    assert_eq!(kept.len(), PARKED_VALUE_LIMIT);
    assert!(whole.starts_with(kept));
    assert_eq!(parked[0].value_length, Some(whole.len()));
    let digest: String = Sha256::digest(whole.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(parked[0].value_sha256.as_deref(), Some(digest.as_str()));
}

#[tokio::test]
async fn near_the_invocations_deadline_retries_stop_and_what_is_unwritten_is_reported() {
    let table = Table {
        failing: usize::MAX,
        ..Table::default()
    };
    let sink = EventsSink {
        // Retries that would take far longer than the invocation has left.
        backoff: Backoff {
            first: Duration::from_secs(30),
            max: Duration::from_secs(30),
            attempts: 10,
        },
        ..sink(table, false)
    };
    let deadline = std::time::SystemTime::now() + Duration::from_secs(20);
    let response = sink
        .handle_until(
            event(&[("ad-events-0", vec![(40, install(1, "ev-1", 20))])]),
            Some(deadline),
        )
        .await;

    assert_eq!(
        response.batch_item_failures,
        [BatchItemFailure {
            item_identifier: ItemIdentifier {
                partition: "ad-events-0".into(),
                offset: 40
            }
        }]
    );
    assert_eq!(
        sink.table.calls.lock().unwrap().len(),
        1,
        "one call, no retry past the deadline"
    );
}

#[tokio::test]
async fn the_same_event_on_two_partitions_is_written_once_and_reported_on_both_if_it_fails() {
    let failing = Table {
        failing: usize::MAX,
        ..Table::default()
    };
    let sink = sink(failing, false);
    // The network resent ev-1 after the topic was repartitioned: it sits on both partitions.
    let batch = event(&[
        (
            "ad-events-0",
            vec![(40, install(1, "ev-1", 20)), (41, install(1, "ev-2", 20))],
        ),
        (
            "ad-events-1",
            vec![(5, install(1, "ev-3", 20)), (6, install(1, "ev-1", 20))],
        ),
    ]);

    let response = sink.handle(batch).await;

    let failures = reported(response);
    assert_eq!(
        failures,
        [("ad-events-0".into(), 40), ("ad-events-1".into(), 5)],
        "each partition from its own earliest offset not written"
    );
    let calls = sink.table.calls.lock().unwrap();
    assert_eq!(calls[0].len(), 3, "ev-1 once in the call");
}

#[tokio::test]
async fn an_event_alone_on_two_partitions_reports_both_when_it_is_not_written() {
    // ev-1 and nothing else on each partition: the copy on ad-events-1 makes the item, so
    // ad-events-1 must be reported from offset 9 besides ad-events-0 from 3.
    let failing = Table {
        failing: usize::MAX,
        ..Table::default()
    };
    let sink = sink(failing, false);
    let batch = event(&[
        ("ad-events-0", vec![(3, install(1, "ev-1", 20))]),
        ("ad-events-1", vec![(9, install(1, "ev-1", 20))]),
    ]);

    let response = sink.handle(batch).await;

    let failures = reported(response);
    assert_eq!(
        failures,
        [("ad-events-0".into(), 3), ("ad-events-1".into(), 9)]
    );
}

#[tokio::test]
async fn a_registry_that_is_down_is_asked_once_per_batch_not_once_per_partition() {
    let sink = sink(Table::default(), true);
    let partitions: Vec<(String, Records)> = (0..6)
        .map(|p| {
            (
                format!("ad-events-{p}"),
                vec![(100 + p, install(1, &format!("ev-{p}"), 20))],
            )
        })
        .collect();
    let partitions: Vec<(&str, Records)> = partitions
        .iter()
        .map(|(name, records)| (name.as_str(), records.clone()))
        .collect();

    let response = sink.handle(event(&partitions)).await;

    assert_eq!(
        response.batch_item_failures.len(),
        6,
        "every partition reported"
    );
    assert_eq!(*sink.schemas.registry().asked.lock().unwrap(), 1);
}
