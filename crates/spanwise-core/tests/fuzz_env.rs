//! Generated values for every environment variable `Config::from_env` reads: a value is used or
//! refused with an error naming the variable and quoting the value; nothing panics, in reading
//! or in `init_with` of what was read.
//!
//! One test in a binary of its own: it changes the process environment. For a longer run:
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test -p spanwise-core --release --test fuzz_env
//! ```

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use proptest::prelude::*;
use spanwise_core::{Config, Error};

const VARS: [&str; 11] = [
    "SPANWISE_TRACE_DIR",
    "SPANWISE_DESTINATION",
    "SPANWISE_SAMPLING_RATIO",
    "MLFLOW_TRACE_SAMPLING_RATIO",
    "SPANWISE_MEMORY_CAPACITY",
    "SPANWISE_MEMORY_CAPACITY_BYTES",
    "SPANWISE_TRACE_QUEUE_BYTES",
    "SPANWISE_MAX_VALUE_BYTES",
    "MLFLOW_EXPERIMENT_ID",
    "SPANWISE_SOURCE_NAME",
    "SPANWISE_SPAN_NAME_SUFFIXES",
];

/// Values to try: well-formed, near misses, huge, blank, any text, and bytes that are not UTF-8.
fn a_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9]{1,25}",
        " *-?[0-9]{0,4}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})? *",
        "(?i)(nan|inf|-inf|infinity|none|off|on|yes|no|true|false|jsonl|file|NONE|Jsonl|other)",
        "[ \t]{0,3}",
        "\\PC{0,20}",
    ]
    .prop_map(String::into_bytes)
    .boxed()
    .prop_union(
        proptest::collection::vec(any::<u8>(), 1..12)
            .prop_filter("not UTF-8", |b| std::str::from_utf8(b).is_err())
            .boxed(),
    )
}

/// Whether `value` is a valid setting for `key`, by the rules of the `Config` docs.
fn valid(key: &str, value: &[u8]) -> bool {
    if key == "SPANWISE_TRACE_DIR" {
        return true;
    }
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    match key {
        "SPANWISE_DESTINATION" => {
            matches!(
                t.to_ascii_lowercase().as_str(),
                "none" | "off" | "jsonl" | "file"
            )
        }
        // Any text names an experiment or a program.
        "MLFLOW_EXPERIMENT_ID" | "SPANWISE_SOURCE_NAME" => true,
        "SPANWISE_SPAN_NAME_SUFFIXES" => matches!(
            t.to_ascii_lowercase().as_str(),
            "on" | "true" | "1" | "yes" | "off" | "false" | "0" | "no"
        ),
        "SPANWISE_SAMPLING_RATIO" | "MLFLOW_TRACE_SAMPLING_RATIO" => {
            t.parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r))
        }
        _ => t.parse::<usize>().is_ok(),
    }
}

fn set(key: &str, value: Option<&[u8]>) {
    // SAFETY: the only test of this binary; no other thread reads the environment meanwhile.
    unsafe {
        match value {
            Some(v) => std::env::set_var(key, OsString::from_vec(v.to_vec())),
            None => std::env::remove_var(key),
        }
    }
}

proptest! {
    #[test]
    fn every_variable_is_used_or_refused_by_name(which in 0usize..VARS.len(), value in a_value()) {
        let key = VARS[which];
        for k in VARS {
            set(k, None);
        }
        // The directory is put under a temporary one, wherever the text leads.
        let base = std::env::temp_dir().join(format!("spanwise-fuzz-env-{}", std::process::id()));
        let value = if key == "SPANWISE_TRACE_DIR" {
            let mut dir = base.clone().into_os_string().into_vec();
            dir.push(b'/');
            dir.extend(value.iter().filter(|&&b| b != 0));
            dir
        } else {
            value.into_iter().filter(|&b| b != 0).collect()
        };
        // Traces go under the temporary directory unless the directory is the variable tried.
        let mut default_dir = base.clone().into_os_string().into_vec();
        default_dir.extend_from_slice(b"/default");
        set("SPANWISE_TRACE_DIR", Some(&default_dir));
        set(key, Some(&value));
        let result = Config::from_env();
        for k in VARS {
            set(k, None);
        }
        match result {
            Ok(config) => {
                prop_assert!(valid(key, &value), "{key}={:?} was accepted", String::from_utf8_lossy(&value));
                // What was read can be put in force (and never panics doing so).
                match spanwise_core::init_with(config) {
                    Ok(guard) => drop(guard),
                    Err(Error::Io { path, .. }) => prop_assert!(path.starts_with(&base), "{path:?}"),
                    Err(e) => prop_assert!(false, "{key}: {e}"),
                }
                drop(spanwise_core::start_span("after"));
            }
            Err(e) => {
                prop_assert!(!valid(key, &value), "{key}={:?} was refused: {e}", String::from_utf8_lossy(&value));
                let text = e.to_string();
                prop_assert!(text.contains(key), "{text}");
                let is_config = matches!(e, Error::Config { .. });
                prop_assert!(is_config, "{e:?}");
            }
        }
        std::fs::remove_dir_all(&base).ok();
    }
}
