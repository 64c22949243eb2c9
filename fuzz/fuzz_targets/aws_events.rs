//! The events AWS delivers, as bytes: an S3 notification (keys form-encoded), an EventBridge
//! event for the notifier, and an MSK batch for the log sink (values base64). Never a panic;
//! the sink reports every partition it could not store and writes nothing else.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use logs_archive::ports::{Object, ObjectStore, StoreError};
use logs_archive::sink::LogSink;
use runs::notify::{EXECUTION_STATUS_CHANGE, ExecutionDetail, FailureEvent, GLUE_JOB_STATE_CHANGE, GlueJobDetail};
use runs::s3_event::{S3Notification, decode_key};

#[derive(Default)]
struct Memory {
    objects: Mutex<Vec<Object>>,
}

impl ObjectStore for Memory {
    async fn put(&self, object: Object) -> Result<(), StoreError> {
        self.objects.lock().unwrap().push(object);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(notification) = serde_json::from_slice::<S3Notification>(json) {
                for record in &notification.records {
                    let _ = record.is_object_created();
                    let _ = record.input_object();
                }
            }
            let _ = decode_key(&String::from_utf8_lossy(json));
        }
        1 => {
            if let Ok(event) = serde_json::from_slice::<FailureEvent>(json) {
                match event.detail_type.as_str() {
                    EXECUTION_STATUS_CHANGE => {
                        let _ = serde_json::from_value::<ExecutionDetail>(event.detail);
                    }
                    GLUE_JOB_STATE_CHANGE => {
                        let _ = serde_json::from_value::<GlueJobDetail>(event.detail);
                    }
                    _ => {}
                }
            }
        }
        _ => {
            if let Ok(event) = serde_json::from_slice::<logs_archive::KafkaEvent>(json) {
                let sink = LogSink {
                    store: Memory::default(),
                };
                let response = futures::executor::block_on(sink.handle(event));
                assert!(response.batch_item_failures.is_empty(), "a memory store never fails");
            }
        }
    }
});
