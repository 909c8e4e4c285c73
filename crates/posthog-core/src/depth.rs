//! How deep property values nest, measured and torn down without recursion.
//!
//! PostHog's ingestion reads request bodies with serde_json, which refuses JSON nested 128
//! levels deep (127 is the most it takes) and then rejects the whole request. In a `/batch/`
//! or capture-v1 body the properties object is the fourth level (body, `batch` array, event,
//! properties), so a property value may nest at most [`MAX_PROPERTY_DEPTH`] = 123 levels of
//! arrays and objects. Deeper events are refused at capture with
//! [`EventError::TooDeep`](crate::EventError::TooDeep), so one event cannot sink a batch, and
//! nothing here recurses deeper than the limit: a 30,000-level value neither overflows the
//! stack when it is checked (the check stops at the limit, allocating nothing) nor when it is
//! measured ([`nesting`]) or dropped ([`dismantle`]), which use a heap stack.

use serde_json::Value;

use crate::Properties;

/// The deepest a property value may nest: `1` is `[1]` or `{"a": 1}`, `2` is `[[1]]`; a
/// scalar is `0`. Levels of a request body: 127, serde_json's limit, minus the four around
/// the properties.
pub const MAX_PROPERTY_DEPTH: usize = 123;

/// The nesting of the deepest value in `properties` (`0` when every value is a scalar),
/// stopping as soon as `limit` is exceeded (the answer is then `limit + 1`).
pub fn nesting(properties: &Properties, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    for value in properties.values() {
        if is_container(value) {
            stack.push((value, 1));
        }
        while let Some((value, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            if deepest > limit {
                return deepest;
            }
            match value {
                Value::Array(items) => {
                    stack.extend(
                        items
                            .iter()
                            .filter(|v| is_container(v))
                            .map(|v| (v, depth + 1)),
                    );
                }
                Value::Object(map) => {
                    stack.extend(
                        map.values()
                            .filter(|v| is_container(v))
                            .map(|v| (v, depth + 1)),
                    );
                }
                _ => {}
            }
        }
    }
    deepest
}

/// [`EventError::TooDeep`](crate::EventError::TooDeep) when a value of `properties` nests
/// deeper than [`MAX_PROPERTY_DEPTH`]. Runs on every capture, so it allocates nothing: it
/// recurses, but never deeper than the limit (a few kilobytes of stack at most).
pub fn check(properties: &Properties) -> Result<(), crate::EventError> {
    if properties
        .values()
        .any(|value| deeper_than(value, MAX_PROPERTY_DEPTH))
    {
        Err(crate::EventError::TooDeep {
            limit: MAX_PROPERTY_DEPTH,
        })
    } else {
        Ok(())
    }
}

/// Whether `value` nests more than `levels` levels; recurses at most `levels + 1` deep.
fn deeper_than(value: &Value, levels: usize) -> bool {
    match value {
        Value::Array(items) => levels == 0 || items.iter().any(|v| deeper_than(v, levels - 1)),
        Value::Object(map) => levels == 0 || map.values().any(|v| deeper_than(v, levels - 1)),
        _ => false,
    }
}

/// Drops `properties` without recursion (serde_json's `Value` drops its children
/// recursively, which a deep enough value turns into a stack overflow).
pub fn dismantle(properties: Properties) {
    let mut stack: Vec<Value> = properties.into_iter().map(|(_, v)| v).collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value nested `depth` levels (arrays inside objects, alternately), built without
    /// recursion.
    pub(crate) fn nested(depth: usize) -> Value {
        let mut value = json!(1);
        for level in 0..depth {
            value = if level % 2 == 0 {
                Value::Array(vec![value])
            } else {
                // Not `json!({"k": value})`: that serialises `value`, recursively.
                let mut map = Properties::new();
                map.insert("k".into(), value);
                Value::Object(map)
            };
        }
        value
    }

    fn props(value: Value) -> Properties {
        let mut map = Properties::new();
        map.insert("flat".into(), json!("x"));
        map.insert("deep".into(), value);
        map
    }

    #[test]
    fn nesting_counts_levels_of_arrays_and_objects() {
        assert_eq!(nesting(&props(json!(1)), 200), 0);
        assert_eq!(nesting(&props(json!([1])), 200), 1);
        assert_eq!(nesting(&props(json!({"a": [[1], 2]})), 200), 3);
        assert_eq!(nesting(&props(nested(50)), 200), 50);
    }

    #[test]
    fn the_limit_is_what_serde_json_reads_back_in_a_batch_body() {
        for depth in [MAX_PROPERTY_DEPTH, MAX_PROPERTY_DEPTH + 1] {
            let properties = props(nested(depth));
            let body = json!({"batch": [{"event": "e", "properties": properties}]});
            let text = serde_json::to_string(&body).unwrap();
            let parsed = serde_json::from_str::<Value>(&text);
            assert_eq!(parsed.is_ok(), check(&properties).is_ok(), "depth {depth}");
            dismantle(properties);
        }
    }

    #[test]
    fn a_very_deep_value_is_checked_measured_and_dropped_on_a_small_stack() {
        // Run on a small stack (256 KiB): recursion over 100,000 levels would overflow it.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let properties = props(nested(100_000));
                assert!(check(&properties).is_err());
                assert!(check(&props(nested(MAX_PROPERTY_DEPTH))).is_ok());
                assert_eq!(nesting(&properties, usize::MAX), 100_000);
                dismantle(properties);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
