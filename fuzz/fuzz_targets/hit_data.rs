//! Hit-level data as anyone may drop it in the inbound bucket: never a panic, and the same
//! report whether one thread reads it from memory or two read it as a stream.
#![no_main]

use hitdata::Options;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let one = hitdata::analyze_bytes(
        data,
        Options {
            threads: 1,
            block_bytes: 256,
            ..Options::default()
        },
    );
    let two = hitdata::analyze(
        std::io::Cursor::new(data.to_vec()),
        Options {
            threads: 2,
            block_bytes: 97,
            ..Options::default()
        },
    );
    match (one, two) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{:?}", a.rows), format!("{:?}", b.rows)),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("the readers disagree: {:?} / {:?}", a.map(|r| r.rows), b.map(|r| r.rows)),
    }
});
