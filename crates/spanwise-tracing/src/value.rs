//! A `tracing` field's value as the bridge sees it, and the readings the GenAI mapping makes
//! of it (text, a count, JSON).

use serde_json::Value;
use spanwise_core::Scalar;

/// One field's value, as `tracing` hands it over.
#[derive(Debug)]
pub(crate) enum FieldValue<'a> {
    Str(&'a str),
    /// A `?value` / `%value` field (or any other type), formatted.
    Text(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue<'_> {
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A count: a non-negative integer, or a string of one (MLflow reads `"26"` as 26).
    pub(crate) fn count(&self) -> Option<u64> {
        match self {
            FieldValue::U64(n) => Some(*n),
            FieldValue::I64(n) => u64::try_from(*n).ok(),
            _ => self.text()?.trim().parse().ok(),
        }
    }

    /// The value a JSON text encodes; `None` when it is not a JSON text.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_str(self.text()?).ok()
    }

    /// The value a JSON text encodes, or the text itself; numbers and booleans as they are.
    pub(crate) fn json_or_text(&self) -> Option<Value> {
        Some(match self {
            FieldValue::Str(_) | FieldValue::Text(_) => {
                let t = self.text()?;
                serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned()))
            }
            FieldValue::I64(n) => Value::from(*n),
            FieldValue::U64(n) => Value::from(*n),
            FieldValue::F64(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::from(*b),
        })
    }

    /// The value as a scalar attribute value (all of them are).
    pub(crate) fn scalar(&self) -> Scalar<'_> {
        match self {
            FieldValue::Str(s) => Scalar::Str(s),
            FieldValue::Text(s) => Scalar::Str(s),
            FieldValue::I64(n) => Scalar::I64(*n),
            FieldValue::U64(n) => Scalar::U64(*n),
            FieldValue::F64(n) => Scalar::F64(*n),
            FieldValue::Bool(b) => Scalar::Bool(*b),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            FieldValue::Str(s) => Value::from(*s),
            FieldValue::Text(s) => Value::from(s.as_str()),
            FieldValue::I64(n) => Value::from(*n),
            FieldValue::U64(n) => Value::from(*n),
            FieldValue::F64(n) => Value::from(*n),
            FieldValue::Bool(b) => Value::from(*b),
        }
    }
}
