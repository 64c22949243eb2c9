//! The engine as a whole: the same report whatever the thread count, block size or input path,
//! and clear failures for bad input.

use hitdata::generate::{generate, generate_browsing};
use hitdata::{EngineError, Options, analyze, analyze_bytes, report};

fn rendered(result: Result<hitdata::Report, EngineError>) -> String {
    let report = result.expect("the engine accepts the input");
    let mut out = Vec::new();
    report::render(&report.rows, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn data(bytes: u64, seed: u64) -> Vec<u8> {
    let mut data = Vec::new();
    generate(&mut data, bytes, seed).unwrap();
    data
}

/// Every combination of thread count and block size.
fn layouts(threads: &[usize], block_sizes: &[usize]) -> Vec<Options> {
    threads
        .iter()
        .flat_map(|&threads| {
            block_sizes.iter().map(move |&block_bytes| Options {
                threads,
                block_bytes,
                ..Options::default()
            })
        })
        .collect()
}

#[test]
fn threads_and_block_boundaries_do_not_change_the_report() {
    let data = data(1_500_000, 3);
    let reference = rendered(analyze_bytes(
        &data,
        Options {
            threads: 1,
            ..Options::default()
        },
    ));
    assert!(reference.lines().count() > 20);

    for options in layouts(&[1, 2, 3], &[1, 4096, 65_536, 1 << 22]) {
        let Options {
            threads,
            block_bytes,
            ..
        } = options;
        assert_eq!(
            rendered(analyze(&data[..], options)),
            reference,
            "stream, {threads} threads, {block_bytes} B blocks"
        );
        assert_eq!(
            rendered(analyze_bytes(&data, options)),
            reference,
            "bytes, {threads} threads, {block_bytes} B blocks"
        );
    }
}

#[test]
fn a_crowd_of_visitors_gives_one_report_whatever_the_threads_and_blocks() {
    let mut data = Vec::new();
    generate_browsing(&mut data, 3_000_000, 11, 2_000).unwrap();
    let report = analyze_bytes(
        &data,
        Options {
            threads: 1,
            ..Options::default()
        },
    )
    .unwrap();
    // Every one of the people browsing from the first line is seen, besides those who follow.
    assert!(
        report.summary.peak_open_visitors >= 2_000,
        "{} open visitors",
        report.summary.peak_open_visitors
    );
    let reference = rendered(Ok(report));
    let rows = reference.lines().count();
    assert!(rows > 20, "keywords credited: {rows} rows");
    for options in layouts(&[2, 3], &[4096, 1 << 22]) {
        assert_eq!(
            rendered(analyze(&data[..], options)),
            reference,
            "{} threads, {} B blocks",
            options.threads,
            options.block_bytes
        );
    }
    // A wider window holds hits longer and buckets them coarser; the input is within either.
    for threads in [1, 2] {
        let options = Options {
            threads,
            max_disorder_seconds: 30 * 86_400,
            ..Options::default()
        };
        assert_eq!(
            rendered(analyze_bytes(&data, options)),
            reference,
            "{threads} threads, a 30-day window"
        );
    }
}

#[test]
fn rows_and_rejections_are_counted_across_blocks() {
    let data = b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer\n\
        1\t1.1.1.1\tUA\t\t\t\thttp://www.google.com/?q=a\n\
        short\n\
        x\t1.1.1.1\tUA\t\t\t\t\n\
        2\t1.1.1.1\tUA\t1\t\tA;B;1;2.5;,A;C;1;oops\t\n\
        3\t1.1.1.1\tUA\t\t\t\t";
    let options = Options {
        threads: 2,
        block_bytes: 8,
        ..Options::default()
    };

    let report = analyze(&data[..], options).unwrap();

    let summary = &report.summary;
    assert_eq!(
        (
            summary.rows_read,
            summary.rejected_too_few_fields,
            summary.rejected_bad_hit_time
        ),
        (5, 1, 1)
    );
    assert_eq!((summary.purchases, summary.warnings), (1, 1));
    assert_eq!(summary.warning_examples[0].line, 5);
    assert_eq!(summary.attributed_revenue, "2.50");
}

#[test]
fn a_line_too_far_out_of_order_names_its_line() {
    let data = b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer\n\
        10000\t1.1.1.1\tUA\t\t\t\t\n\
        20000\t2.2.2.2\tUA\t\t\t\t\n\
        100\t3.3.3.3\tUA\t\t\t\t\n";
    let options = Options {
        max_disorder_seconds: 600,
        block_bytes: 16,
        ..Options::default()
    };

    let err = analyze(&data[..], options).err().expect("refused");

    assert!(
        matches!(err, EngineError::OutOfOrder(ref late) if late.line == 4),
        "{err}"
    );
}

#[test]
fn a_header_without_the_needed_columns_is_refused() {
    let err = analyze(&b"hit_time_gmt\tip\n1\t2\n"[..], Options::default())
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "the header lacks the column(s) user_agent, event_list, page_url, product_list, referrer"
    );
    assert!(matches!(
        analyze(&b""[..], Options::default()),
        Err(EngineError::Header(_))
    ));
}

#[test]
fn user_agents_are_compared_as_decoded_wherever_their_bytes_fall() {
    // Two user agents whose bytes differ only in an invalid byte decode to the same text: the
    // same visitor. Other fields around them hold valid non-ASCII text of every length, so the
    // invalid bytes fall at every place in a line, and the fields beside them too.
    let mut data =
        "hit_time_gmt\tgeo_city\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer\n"
            .as_bytes()
            .to_vec();
    let mut expected = Vec::new();
    for pad in 0..130u32 {
        let time = 1000 + 4000 * i64::from(pad);
        let city = "é".repeat(pad as usize);
        let agent = format!("Agent {pad} ");
        data.extend_from_slice(format!("{time}\t{city}\t1.1.1.1\t{agent}").as_bytes());
        data.extend_from_slice(b"\xff\t\t\t\t");
        data.extend_from_slice(format!("http://www.bing.com/?q=k{pad}+caf\u{e9}\n").as_bytes());
        data.extend_from_slice(format!("{}\t{city}\t1.1.1.1\t{agent}", time + 1).as_bytes());
        data.extend_from_slice(b"\xfe\t1\t\tA;B;1;1\t\n");
        expected.push(format!("bing.com\tk{pad} caf\u{e9}\t1.00\n"));
    }
    expected.sort();

    let report = rendered(analyze(&data[..], Options::default()));

    let mut rows: Vec<String> = report
        .lines()
        .skip(1)
        .map(|row| format!("{row}\n"))
        .collect();
    rows.sort();
    assert_eq!(rows, expected);
}

#[test]
fn invalid_utf8_is_decoded_lossily_not_fatal() {
    let mut data =
        b"hit_time_gmt\tip\tuser_agent\tevent_list\tpage_url\tproduct_list\treferrer\n".to_vec();
    data.extend_from_slice(
        b"1\t1.1.1.1\tUA\xff\xfe\t\t\t\thttp://www.bing.com/?q=caf\xc3\xa9+\xff\n",
    );
    data.extend_from_slice(b"2\t1.1.1.1\tUA\xff\xfe\t1\t\tA;B;1;3\t\n");

    let report = rendered(analyze(&data[..], Options::default()));

    assert_eq!(
        report,
        "Search Engine Domain\tSearch Keyword\tRevenue\nbing.com\tcafé \u{fffd}\t3.00\n"
    );
}
