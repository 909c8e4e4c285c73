//! [`PropertyValue`]: what the property setters take, and how a float that JSON cannot
//! carry is written.
//!
//! JSON has no NaN or infinity, and serde_json turns them into `null` as a value is built
//! (`Value::from(f64::NAN)` is `null`), so an SDK that took `impl Into<Value>` lost them
//! silently. Every setter of the SDK (event properties, person properties, super
//! properties, context tags, exception properties, flag-evaluation properties) takes a
//! [`PropertyValue`] instead, which writes them as the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`: the same rule as PostHog's logs pipeline (C-LOGS.4), for the whole SDK.
//! A `serde_json::Value` you build yourself (with `json!` or `to_value`) has already lost
//! them before the SDK sees it.
//!
//! ```
//! use posthog_core::Event;
//! let event = Event::new("measured", "user-123")
//!     .property("ratio", f64::NAN)
//!     .property("limit", f64::INFINITY)
//!     .property("samples", vec![1.5, f64::NEG_INFINITY]);
//! assert_eq!(event.properties()["ratio"], "NaN");
//! assert_eq!(event.properties()["limit"], "Infinity");
//! assert_eq!(event.properties()["samples"], serde_json::json!([1.5, "-Infinity"]));
//! ```

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// A value a property setter takes: the types `serde_json::Value` converts from, with
/// non-finite floats written as strings (see the module docs). Any other type converts
/// through `serde_json::Value` first: `.property("k", Value::from(x))`.
///
/// ```
/// // Anything that is a property value: numbers, strings, bools, JSON, options of them.
/// let event = posthog_core::Event::new("order_placed", "user-123")
///     .property("amount", 42)
///     .property("coupon", Option::<&str>::None)
///     .property("items", serde_json::json!(["a", "b"]));
/// assert_eq!(event.properties()["amount"], 42);
/// ```
pub trait PropertyValue {
    /// The JSON value.
    fn into_value(self) -> Value;
}

/// A float as JSON: a number, or `"NaN"`, `"Infinity"` or `"-Infinity"`.
pub fn float(value: f64) -> Value {
    match Number::from_f64(value) {
        Some(number) => Value::Number(number),
        None if value.is_nan() => Value::String("NaN".into()),
        None if value > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

impl PropertyValue for f64 {
    fn into_value(self) -> Value {
        float(self)
    }
}

impl PropertyValue for f32 {
    fn into_value(self) -> Value {
        // Through `Value::from` for finite values, so `0.1f32` stays `0.1`, as before.
        if self.is_finite() {
            Value::from(self)
        } else {
            float(f64::from(self))
        }
    }
}

macro_rules! through_value {
    ($($t:ty),* $(,)?) => {
        $(impl PropertyValue for $t {
            fn into_value(self) -> Value {
                Value::from(self)
            }
        })*
    };
}

through_value!(
    bool,
    i8,
    i16,
    i32,
    i64,
    isize,
    u8,
    u16,
    u32,
    u64,
    usize,
    String,
    &str,
    Cow<'_, str>,
    Number,
    Map<String, Value>,
    (),
);

impl PropertyValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl PropertyValue for &String {
    fn into_value(self) -> Value {
        Value::String(self.clone())
    }
}

impl<T: PropertyValue> PropertyValue for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, PropertyValue::into_value)
    }
}

impl<T: PropertyValue> PropertyValue for Vec<T> {
    fn into_value(self) -> Value {
        Value::Array(self.into_iter().map(PropertyValue::into_value).collect())
    }
}

impl<T: PropertyValue, const N: usize> PropertyValue for [T; N] {
    fn into_value(self) -> Value {
        Value::Array(self.into_iter().map(PropertyValue::into_value).collect())
    }
}

impl<T: PropertyValue + Clone> PropertyValue for &[T] {
    fn into_value(self) -> Value {
        Value::Array(
            self.iter()
                .cloned()
                .map(PropertyValue::into_value)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn non_finite_floats_are_strings_everywhere_a_setter_sees_them() {
        assert_eq!(f64::NAN.into_value(), json!("NaN"));
        assert_eq!(f32::INFINITY.into_value(), json!("Infinity"));
        assert_eq!(f64::NEG_INFINITY.into_value(), json!("-Infinity"));
        assert_eq!(Some(f64::NAN).into_value(), json!("NaN"));
        assert_eq!([1.0, f64::NAN].into_value(), json!([1.0, "NaN"]));
        assert_eq!((&[f32::NAN][..]).into_value(), json!(["NaN"]));
    }

    #[test]
    fn everything_else_is_what_serde_json_makes_of_it() {
        assert_eq!(2.5f64.into_value(), Value::from(2.5f64));
        assert_eq!(0.1f32.into_value(), Value::from(0.1f32));
        assert_eq!(u64::MAX.into_value(), Value::from(u64::MAX));
        assert_eq!("s".into_value(), json!("s"));
        assert_eq!((&"s".to_owned()).into_value(), json!("s"));
        assert_eq!(None::<i32>.into_value(), Value::Null);
        assert_eq!(json!({"a": 1}).into_value(), json!({"a": 1}));
        assert_eq!(vec!["a", "b"].into_value(), json!(["a", "b"]));
    }
}
