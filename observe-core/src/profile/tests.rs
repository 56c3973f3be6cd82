use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn line(function: &str, file: &str, line: u32) -> Line {
    Line {
        function: function.into(),
        system_name: format!("_ZN{function}E"),
        file: file.into(),
        line,
    }
}

fn sample_profile() -> CpuProfile {
    let handler = vec![line("shop::handler", "src/shop.rs", 10)];
    // `hash` inlined into `lookup`: one frame, two lines.
    let lookup = vec![
        line("shop::hash", "src/hash.rs", 3),
        line("shop::lookup", "src/shop.rs", 40),
    ];
    let main = vec![line("main", "src/main.rs", 1)];
    CpuProfile {
        stacks: vec![
            Stack {
                frames: vec![lookup.clone(), handler.clone(), main.clone()],
                thread: "tokio-runtime-worker".into(),
                count: 7,
            },
            Stack {
                frames: vec![handler, main],
                thread: "tokio-runtime-worker".into(),
                count: 3,
            },
        ],
        frequency: 100,
        start: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        duration: Duration::from_secs(2),
        cpu_seconds: Some(0.2),
    }
}

/// A protobuf message's fields: (field number, varint or bytes).
#[derive(Debug)]
enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[0];
        *bytes = &bytes[1..];
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

fn fields(mut bytes: &[u8]) -> Vec<(u32, Value<'_>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => out.push((field, Value::Int(varint(&mut bytes)))),
            2 => {
                let len = varint(&mut bytes) as usize;
                out.push((field, Value::Bytes(&bytes[..len])));
                bytes = &bytes[len..];
            }
            other => panic!("unexpected wire type {other}"),
        }
    }
    out
}

fn ints(fields: &[(u32, Value<'_>)], number: u32) -> Vec<u64> {
    fields
        .iter()
        .filter(|(f, _)| *f == number)
        .flat_map(|(_, v)| match *v {
            Value::Int(i) => vec![i],
            Value::Bytes(packed) => {
                let mut packed = packed;
                let mut out = Vec::new();
                while !packed.is_empty() {
                    out.push(varint(&mut packed));
                }
                out
            }
        })
        .collect()
}

fn messages<'a>(fields: &[(u32, Value<'a>)], number: u32) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter(|(f, _)| *f == number)
        .map(|(_, v)| match v {
            Value::Bytes(b) => *b,
            Value::Int(_) => panic!("field {number} is not a message"),
        })
        .collect()
}

#[test]
fn the_pprof_encoding_holds_stacks_lines_and_values() {
    let profile = sample_profile();
    let raw = encode::profile(&profile);
    let top = fields(&raw);
    let strings: Vec<String> = messages(&top, 6)
        .iter()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect();
    assert_eq!(
        strings[0], "",
        "the string table starts with the empty string"
    );
    let text = |index: u64| strings[index as usize].as_str();

    let functions: Vec<(u64, String, String)> = messages(&top, 5)
        .iter()
        .map(|m| {
            let f = fields(m);
            (
                ints(&f, 1)[0],
                text(ints(&f, 2)[0]).into(),
                text(ints(&f, 4)[0]).into(),
            )
        })
        .collect();
    assert_eq!(functions.len(), 4, "{functions:?}");
    let function = |id: u64| functions.iter().find(|f| f.0 == id).unwrap().1.clone();

    // Location id -> its lines as "function:line", innermost first.
    let locations: Vec<(u64, Vec<String>)> = messages(&top, 4)
        .iter()
        .map(|m| {
            let l = fields(m);
            let lines = messages(&l, 4)
                .iter()
                .map(|row| {
                    let r = fields(row);
                    format!("{}:{}", function(ints(&r, 1)[0]), ints(&r, 2)[0])
                })
                .collect();
            (ints(&l, 1)[0], lines)
        })
        .collect();
    assert_eq!(locations.len(), 3, "one location per distinct frame");
    let location = |id: u64| locations.iter().find(|l| l.0 == id).unwrap().1.clone();

    let samples = messages(&top, 2);
    assert_eq!(samples.len(), 2);
    let first = fields(samples[0]);
    let stack: Vec<Vec<String>> = ints(&first, 1).into_iter().map(location).collect();
    assert_eq!(
        stack,
        vec![
            vec!["shop::hash:3".to_string(), "shop::lookup:40".into()],
            vec!["shop::handler:10".into()],
            vec!["main:1".into()],
        ],
        "leaf first; inlined lines innermost first"
    );
    // Samples and CPU nanoseconds at 100 Hz.
    assert_eq!(ints(&first, 2), vec![7, 70_000_000]);
    let label = fields(messages(&first, 3)[0]);
    assert_eq!(text(ints(&label, 1)[0]), "thread");
    assert_eq!(text(ints(&label, 2)[0]), "tokio-runtime-worker");

    let types: Vec<(String, String)> = messages(&top, 1)
        .iter()
        .map(|m| {
            let t = fields(m);
            (text(ints(&t, 1)[0]).into(), text(ints(&t, 2)[0]).into())
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("samples".into(), "count".into()),
            ("cpu".into(), "nanoseconds".into())
        ]
    );
    assert_eq!(ints(&top, 9), vec![1_700_000_000_000_000_000]);
    assert_eq!(ints(&top, 10), vec![2_000_000_000]);
    assert_eq!(
        ints(&top, 12),
        vec![10_000_000],
        "the period: 10 ms at 100 Hz"
    );
}

#[test]
fn the_flame_graph_has_a_box_per_function_with_its_share() {
    let svg = sample_profile().flame_graph();
    assert!(svg.starts_with("<?xml"));
    assert!(
        svg.contains("<title>all (10 samples, 100.00%)</title>"),
        "{svg}"
    );
    assert!(svg.contains("<title>shop::handler (10 samples, 100.00%)</title>"));
    assert!(svg.contains("<title>shop::lookup (7 samples, 70.00%)</title>"));
    // The inlined callee sits above its caller.
    assert!(svg.contains("<title>shop::hash (7 samples, 70.00%)</title>"));
    assert!(svg.ends_with("</svg>\n"));
    assert!(svg.contains("samples cover 50%"), "{svg}");
}

#[test]
fn an_idle_profile_says_so() {
    let mut profile = sample_profile();
    profile.stacks.clear();
    let svg = profile.flame_graph();
    assert!(svg.contains("No samples"), "{svg}");
    assert!(!svg.contains("<rect x="), "{svg}");
}

#[test]
fn markup_in_a_name_is_escaped() {
    let mut profile = sample_profile();
    profile.stacks[0].frames[0][0].function = "<T as Trait>::f&\"x\"".into();
    let svg = profile.flame_graph();
    assert!(svg.contains("&lt;T as Trait&gt;::f&amp;&quot;x&quot;"));
    assert!(!svg.contains("<T as"));
}

#[test]
fn settings_out_of_range_name_the_parameter() {
    assert!(check_settings(30, 99).is_ok());
    let error = check_settings(301, 99).unwrap_err().to_string();
    assert!(error.starts_with("seconds:"), "{error}");
    let error = check_settings(0, 99).unwrap_err().to_string();
    assert!(error.starts_with("seconds:"), "{error}");
    let error = check_settings(30, 251).unwrap_err().to_string();
    assert!(error.starts_with("hz:"), "{error}");
}

#[inline(never)]
fn burn_cpu_in_profile_test(until: std::time::Instant) -> u64 {
    let mut x = 1u64;
    while std::time::Instant::now() < until {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
    x
}

#[tokio::test]
async fn one_profile_runs_at_a_time_and_its_slot_is_released() {
    let until = std::time::Instant::now() + Duration::from_millis(1500);
    let burner = std::thread::Builder::new()
        .name("burner".into())
        .spawn(move || burn_cpu_in_profile_test(until))
        .unwrap();
    let first = tokio::spawn(cpu(Duration::from_secs(1), 199));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(is_running());
    let second = cpu(Duration::from_secs(1), 99).await;
    assert!(matches!(second, Err(ProfileError::Busy)), "{second:?}");
    let profile = first.await.unwrap().unwrap();
    burner.join().unwrap();
    assert!(!is_running(), "the slot is released");
    // The timer's signal goes to any thread of the process, and here most
    // are the test harness's, asleep in libc, where no sample is taken: how
    // many land in the burner varies. tests/tests/profile.rs checks a
    // profile's content on a real service.
    if profile.samples() > 0 {
        assert!(
            !profile.has_function("perf_signal_handler"),
            "the sampler's own frames are dropped"
        );
    }
    let coverage = profile.coverage().unwrap();
    assert!((0.0..=1.0).contains(&coverage), "{coverage}");
    let gz = profile.pprof();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
}
