//! Generated values for the variables `MlflowClient::from_env` and `OtlpClient::from_env` read:
//! a value is used or refused with an error naming a variable that was set; nothing panics;
//! no client without its URL variable; well-formed settings always give a client.
//!
//! One test in a binary of its own: it changes the process environment. For a longer run:
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test -p spanwise-otlp --release --test fuzz_env
//! ```

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use proptest::prelude::*;
use spanwise_core::Error;
use spanwise_otlp::{MlflowClient, OtlpClient};

const MLFLOW: [&str; 6] = MlflowClient::ENV_VARS;
const OTLP: [&str; 10] = OtlpClient::ENV_VARS;

/// What a variable sets: `ENDPOINT` for both OTLP endpoint variables, and so on; MLflow's
/// variables by their whole name.
fn setting(key: &str) -> &str {
    key.trim_start_matches("OTEL_EXPORTER_OTLP_TRACES_")
        .trim_start_matches("OTEL_EXPORTER_OTLP_")
}

/// A value that `key` accepts.
fn well_formed(key: &str) -> BoxedStrategy<String> {
    match setting(key) {
        "MLFLOW_TRACKING_URI" | "ENDPOINT" => {
            "(http|https|HTTP)://(127\\.0\\.0\\.1|localhost|[a-z]{1,8}\\.example)(:[0-9]{1,5})?(/[a-z]{0,6}){0,2}"
                .boxed()
        }
        "HEADERS" => "([a-z][a-z0-9-]{0,8}=[A-Za-z0-9%._~-]{0,12})(,[a-z][a-z0-9-]{0,8}=[a-z0-9%]{0,8}){0,3}".boxed(),
        "PROTOCOL" => "(http/protobuf|http/json|HTTP/JSON)".boxed(),
        "COMPRESSION" => "(none|gzip|GZIP|None)".boxed(),
        "TIMEOUT" => "[0-9]{1,9}".boxed(),
        // Experiment ids and names, tokens, users and passwords: any text.
        _ => "[A-Za-z0-9 _./-]{1,16}".boxed(),
    }
}

/// Any value: well-formed, near misses, blank, any text, or bytes that are not UTF-8.
fn any_value(key: &'static str) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => well_formed(key).prop_map(String::into_bytes),
        1 => "(ftp|http|https|file)(:|://|:/)?[a-z0-9.:/%]{0,12}".prop_map(String::into_bytes),
        1 => "[a-z=,% ]{0,12}".prop_map(String::into_bytes),
        1 => "(-?[0-9]{1,22}|1e3|0x10| 5 )".prop_map(String::into_bytes),
        1 => "[ \t]{0,3}".prop_map(String::into_bytes),
        1 => "\\PC{0,16}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 1..10)
            .prop_filter("not UTF-8", |b| std::str::from_utf8(b).is_err()),
    ]
    .prop_map(|v: Vec<u8>| v.into_iter().filter(|&b| b != 0).collect())
    .boxed()
}

/// For each variable of `keys`: unset, or a generated value.
fn settings(keys: &'static [&'static str]) -> BoxedStrategy<Vec<Option<Vec<u8>>>> {
    keys.iter()
        .map(|&k| proptest::option::weighted(0.6, any_value(k)))
        .collect::<Vec<_>>()
        .boxed()
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

/// Whether `value` counts as set (readers trim values and ignore blank ones).
fn is_set(value: &Option<Vec<u8>>) -> bool {
    value
        .as_ref()
        .is_some_and(|v| std::str::from_utf8(v).map_or(true, |t| !t.trim().is_empty()))
}

fn is_well_formed(key: &str, value: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(value) else {
        return false;
    };
    let t = t.trim();
    let lower = t.to_ascii_lowercase();
    match setting(key) {
        "MLFLOW_TRACKING_URI" | "ENDPOINT" => ["http://", "https://"]
            .iter()
            .any(|p| lower.starts_with(p) && t.len() > p.len()),
        "HEADERS" => t.split(',').all(|p| {
            p.trim().is_empty() || p.split_once('=').is_some_and(|(k, _)| !k.trim().is_empty())
        }),
        "PROTOCOL" => matches!(lower.as_str(), "http/protobuf" | "http/json"),
        "COMPRESSION" => matches!(lower.as_str(), "none" | "gzip"),
        "TIMEOUT" => t.parse::<u64>().is_ok(),
        _ => true,
    }
}

/// Checks one reader against what was set: `url_keys` are the variables without which it
/// makes no client.
fn check<T>(
    keys: &[&str],
    values: &[Option<Vec<u8>>],
    url_keys: &[&str],
    result: Result<Option<T>, Error>,
) -> Result<(), TestCaseError> {
    let set_keys: Vec<&str> = keys
        .iter()
        .zip(values)
        .filter(|(_, v)| is_set(v))
        .map(|(k, _)| *k)
        .collect();
    let has_url = url_keys.iter().any(|k| set_keys.contains(k));
    let all_good = keys
        .iter()
        .zip(values)
        .all(|(k, v)| !is_set(v) || v.as_deref().is_some_and(|v| is_well_formed(k, v)));
    match result {
        Ok(Some(_)) => prop_assert!(has_url, "a client with none of {url_keys:?} set"),
        Ok(None) => prop_assert!(!has_url, "no client although {set_keys:?} are set"),
        Err(Error::Config { key, message }) => {
            prop_assert!(
                set_keys.contains(&key.as_str()),
                "the error names {key}, which was not set ({set_keys:?}): {message}"
            );
            prop_assert!(!all_good, "well-formed settings refused: {key}: {message}");
        }
        Err(e) => prop_assert!(false, "not a configuration error: {e:?}"),
    }
    // (Well-formed settings with a URL always make a client: an error with `all_good` fails
    // above, and so does `Ok(None)` with `has_url`.)
    Ok(())
}

proptest! {
    #[test]
    fn every_exporter_variable_is_used_or_refused_by_name(
        mlflow in settings(&MLFLOW),
        otlp in settings(&OTLP),
    ) {
        for (k, v) in MLFLOW.iter().zip(&mlflow).chain(OTLP.iter().zip(&otlp)) {
            set(k, v.as_deref());
        }
        let from_mlflow = MlflowClient::from_env();
        let from_otlp = OtlpClient::from_env();
        for k in MLFLOW.iter().chain(OTLP.iter()) {
            set(k, None);
        }
        check(&MLFLOW, &mlflow, &["MLFLOW_TRACKING_URI"], from_mlflow)?;
        check(
            &OTLP,
            &otlp,
            &["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"],
            from_otlp,
        )?;
    }
}
