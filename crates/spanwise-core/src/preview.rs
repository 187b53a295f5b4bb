//! The trace-level copies of the root's inputs and outputs that MLflow keeps in the trace
//! metadata (`mlflow.traceInputs`, `mlflow.traceOutputs`): the JSON in Python's `json.dumps`
//! form, cut to 250 characters (the first 247 and `...`), or `""` when there is none, as
//! MLflow's span processor writes them.

/// The most characters MLflow keeps in one of these metadata values.
const MAX_CHARS: usize = 250;

/// The metadata value for the root's inputs or outputs (already in Python's form).
pub(crate) fn metadata_value(json: Option<&str>) -> String {
    let Some(json) = json.filter(|j| !j.is_empty()) else {
        return String::new();
    };
    match json.char_indices().nth(MAX_CHARS) {
        None => json.to_owned(),
        Some(_) => {
            let cut = json
                .char_indices()
                .nth(MAX_CHARS - 3)
                .map_or(json.len(), |(i, _)| i);
            format!("{}...", &json[..cut])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_to_250_characters() {
        assert_eq!(metadata_value(None), "");
        assert_eq!(metadata_value(Some("{\"x\": 4}")), "{\"x\": 4}");
        let exact = "é".repeat(250);
        assert_eq!(metadata_value(Some(&exact)), exact);
        let long = "é".repeat(251);
        let cut = metadata_value(Some(&long));
        assert_eq!(cut.chars().count(), 250);
        assert!(cut.starts_with(&"é".repeat(247)) && cut.ends_with("..."));
    }
}
