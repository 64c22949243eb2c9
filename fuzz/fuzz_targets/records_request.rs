//! A records request's query string, as any client may send it: parsed, validated, its cursor
//! decoded. Never a panic; a record the rules accept is canonical (validating it again gives
//! the same record).
#![no_main]

use libfuzzer_sys::fuzz_target;
use records::cursor::CursorCodec;
use records::query::{self, RecordRequest};
use records::rules::{self, Verdict};
use records::RecordInput;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let query = String::from_utf8_lossy(rest);
    match query::parse(Some(&query), flags & 1 == 0) {
        Ok(RecordRequest::Ingest(input)) => {
            if let Verdict::Valid { record, .. } = rules::validate(&input, "2026-01-01T00:00:00Z") {
                let again = RecordInput {
                    user_name: Some(record.user_name.clone()),
                    email: Some(record.email.clone()),
                    pincode: Some(record.pincode.clone()),
                };
                match rules::validate(&again, "2026-01-01T00:00:00Z") {
                    Verdict::Valid { record: same, .. } => assert_eq!(same, record),
                    Verdict::Invalid { fields, .. } | Verdict::NeedsApproval { fields, .. } => {
                        panic!("a stored record fails its own rules: {fields:?}")
                    }
                }
            }
        }
        Ok(RecordRequest::List(list)) => {
            if let Some(cursor) = list.cursor {
                let codec = CursorCodec::new("records");
                if let Ok(id) = codec.decode(&cursor) {
                    assert_eq!(codec.decode(&codec.encode(&id)), Ok(id));
                }
            }
        }
        Err(problems) => assert!(!problems.is_empty()),
    }
});
