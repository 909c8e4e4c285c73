//! Payload decoding for locally evaluated flags (flags.md §11).

use serde_json::Value;

/// A stored payload as the evaluator returns it: JSON text is decoded (invalid text, `""`,
/// `NaN`/`Infinity` → none), other JSON values are kept, `null` is none.
pub(crate) fn decode(raw: &Value) -> Option<Value> {
    match raw {
        Value::Null => None,
        Value::String(text) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| !v.is_null()),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::decode;
    use serde_json::json;

    #[test]
    fn decodes_text_and_keeps_values() {
        assert_eq!(decode(&json!(" [1] ")), Some(json!([1])));
        assert_eq!(decode(&json!("{\"a\": NaN}")), None);
        assert_eq!(decode(&json!("")), None);
        assert_eq!(decode(&json!("null")), None);
        assert_eq!(decode(&json!("not json")), None);
        assert_eq!(decode(&json!(7)), Some(json!(7)));
    }
}
