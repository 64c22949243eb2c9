//! Validation throughput in-process: the work of the validate-record step (rules, canonical form,
//! content id) over a realistic mix of valid and invalid inputs. Prints records/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use records::RecordInput;
use records::rules::validate;

const RECORDS: usize = 1_000_000;
const ROUNDS: usize = 5;
const NOW: &str = "2026-11-22T09:00:00.000Z";

fn inputs() -> Vec<RecordInput> {
    (0..RECORDS)
        .map(|i| {
            let (user_name, email, pincode) = match i % 10 {
                0 => (
                    String::from("  "),
                    format!("user{i}@example.com"),
                    "1234".into(),
                ),
                1 => (
                    format!("User {i}"),
                    format!("{i}user@example.com"),
                    "56001".into(),
                ),
                2 => (
                    format!("User {i}"),
                    format!("user{i}@example.org"),
                    "56001".into(),
                ),
                3 => (
                    format!("User {i}"),
                    format!("user{i}@example.com"),
                    "12a".into(),
                ),
                _ => (
                    format!("User Number {i}"),
                    format!("User{i}@Example{}.COM", i % 97),
                    format!("{}", 1000 + i % 900_000),
                ),
            };
            RecordInput {
                user_name: Some(user_name),
                email: Some(email),
                pincode: Some(pincode),
            }
        })
        .collect()
}

fn main() {
    let inputs = inputs();
    let mut timings: Vec<Duration> = Vec::with_capacity(ROUNDS);
    let mut valid = 0;
    for _ in 0..ROUNDS {
        valid = 0;
        let started = Instant::now();
        for input in &inputs {
            if matches!(
                black_box(validate(black_box(input), NOW)),
                records::Verdict::Valid { .. }
            ) {
                valid += 1;
            }
        }
        timings.push(started.elapsed());
    }
    timings.sort();
    let rate = |d: Duration| RECORDS as f64 / d.as_secs_f64();
    println!(
        "validation: {RECORDS} records ({valid} valid) per round, {ROUNDS} rounds, 1 thread: \
         median {:.2} M records/s, best {:.2} M records/s (target >= 1 M/s)",
        rate(timings[ROUNDS / 2]) / 1e6,
        rate(timings[0]) / 1e6
    );
}
