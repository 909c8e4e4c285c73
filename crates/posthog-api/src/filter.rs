//! Property filters for list calls (persons, events): the JSON PostHog reads from the
//! `properties` query parameter (protocol.md §5.3).

use serde::Serialize;
use serde_json::Value;

/// What a filter's key is a property of. PostHog's default is `event`, so person filters must
/// say `person` (the builder always does).
///
/// ```
/// use posthog_api::{PropertyFilter, PropertyType};
/// let in_session = PropertyFilter::of(PropertyType::Session, "$session_duration").gte(60);
/// # let _ = in_session;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PropertyType {
    /// A person property.
    Person,
    /// An event property.
    Event,
    /// A group property.
    Group,
    /// A session property.
    Session,
}

/// The comparison of a filter.
///
/// ```
/// use posthog_api::{Operator, PropertyFilter};
/// let filter = PropertyFilter::event("$browser").compare(Operator::IsNot, Some("Safari".into()));
/// # let _ = filter;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operator {
    /// Equal (to any of the values when given a list).
    Exact,
    /// Not equal.
    IsNot,
    /// Contains, case-insensitively.
    Icontains,
    /// Does not contain, case-insensitively.
    NotIcontains,
    /// Matches a regular expression.
    Regex,
    /// Does not match a regular expression.
    NotRegex,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Has the property.
    IsSet,
    /// Lacks the property.
    IsNotSet,
    /// On this date.
    IsDateExact,
    /// Before this date.
    IsDateBefore,
    /// After this date.
    IsDateAfter,
    /// In a list.
    In,
    /// Not in a list.
    NotIn,
}

/// One property filter: `{key, value, operator, type}`.
///
/// ```
/// use posthog_api::PropertyFilter;
/// let linux = PropertyFilter::person("$initial_os").exact(vec!["Linux"]);
/// assert_eq!(
///     posthog_api::Filter::from(linux).to_json(),
///     r#"[{"key":"$initial_os","value":["Linux"],"operator":"exact","type":"person"}]"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyFilter {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
    operator: Operator,
    #[serde(rename = "type")]
    kind: PropertyType,
}

/// A property key waiting for its comparison (see [`PropertyFilter`]).
///
/// ```
/// let key = posthog_api::PropertyFilter::person("age"); // a FilterKey: pick the comparison
/// let over_40 = key.gt(40);
/// # let _ = over_40;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FilterKey {
    key: String,
    kind: PropertyType,
}

impl PropertyFilter {
    /// A filter on a person property.
    pub fn person(key: impl Into<String>) -> FilterKey {
        FilterKey {
            key: key.into(),
            kind: PropertyType::Person,
        }
    }

    /// A filter on an event property.
    pub fn event(key: impl Into<String>) -> FilterKey {
        FilterKey {
            key: key.into(),
            kind: PropertyType::Event,
        }
    }

    /// A filter on a property of the given type.
    pub fn of(kind: PropertyType, key: impl Into<String>) -> FilterKey {
        FilterKey {
            key: key.into(),
            kind,
        }
    }
}

impl FilterKey {
    /// Compares with `operator` against `value` (`None` for `is_set` / `is_not_set`).
    pub fn compare(self, operator: Operator, value: Option<Value>) -> PropertyFilter {
        PropertyFilter {
            key: self.key,
            value,
            operator,
            kind: self.kind,
        }
    }

    /// Equal to `value`, or to any of a list.
    pub fn exact(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::Exact, Some(value.into()))
    }

    /// Not equal to `value` (nor any of a list).
    pub fn is_not(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::IsNot, Some(value.into()))
    }

    /// Contains `text`, case-insensitively.
    pub fn icontains(self, text: impl Into<String>) -> PropertyFilter {
        self.compare(Operator::Icontains, Some(Value::String(text.into())))
    }

    /// Does not contain `text`, case-insensitively.
    pub fn not_icontains(self, text: impl Into<String>) -> PropertyFilter {
        self.compare(Operator::NotIcontains, Some(Value::String(text.into())))
    }

    /// Matches the regular expression `pattern`.
    pub fn regex(self, pattern: impl Into<String>) -> PropertyFilter {
        self.compare(Operator::Regex, Some(Value::String(pattern.into())))
    }

    /// Greater than `value`.
    pub fn gt(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::Gt, Some(value.into()))
    }

    /// Greater than or equal to `value`.
    pub fn gte(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::Gte, Some(value.into()))
    }

    /// Less than `value`.
    pub fn lt(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::Lt, Some(value.into()))
    }

    /// Less than or equal to `value`.
    pub fn lte(self, value: impl Into<Value>) -> PropertyFilter {
        self.compare(Operator::Lte, Some(value.into()))
    }

    /// The property is set.
    pub fn is_set(self) -> PropertyFilter {
        self.compare(Operator::IsSet, None)
    }

    /// The property is not set.
    pub fn is_not_set(self) -> PropertyFilter {
        self.compare(Operator::IsNotSet, None)
    }

    /// A date before `date` (ISO 8601 or relative such as `-7d`).
    pub fn is_date_before(self, date: impl Into<String>) -> PropertyFilter {
        self.compare(Operator::IsDateBefore, Some(Value::String(date.into())))
    }

    /// A date after `date` (ISO 8601 or relative such as `-7d`).
    pub fn is_date_after(self, date: impl Into<String>) -> PropertyFilter {
        self.compare(Operator::IsDateAfter, Some(Value::String(date.into())))
    }
}

/// Filters for a list call: a list of property filters (all must match) or a group
/// `{"type": "AND" | "OR", "values": [...]}` of filters and groups.
///
/// ```
/// use posthog_api::{Filter, PropertyFilter};
/// let pro_or_staff = Filter::any([
///     PropertyFilter::person("plan").exact("pro"),
///     PropertyFilter::person("email").icontains("@acme.com"),
/// ]);
/// assert!(pro_or_staff.to_json().contains("\"OR\""));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One property filter.
    Property(PropertyFilter),
    /// Every one matches.
    And(Vec<Filter>),
    /// At least one matches.
    Or(Vec<Filter>),
}

impl From<PropertyFilter> for Filter {
    fn from(filter: PropertyFilter) -> Self {
        Filter::Property(filter)
    }
}

impl From<Vec<PropertyFilter>> for Filter {
    fn from(filters: Vec<PropertyFilter>) -> Self {
        Filter::And(filters.into_iter().map(Filter::Property).collect())
    }
}

impl Filter {
    /// Every one of `filters` matches.
    pub fn all(filters: impl IntoIterator<Item = impl Into<Filter>>) -> Self {
        Filter::And(filters.into_iter().map(Into::into).collect())
    }

    /// At least one of `filters` matches.
    pub fn any(filters: impl IntoIterator<Item = impl Into<Filter>>) -> Self {
        Filter::Or(filters.into_iter().map(Into::into).collect())
    }

    /// The JSON of the `properties` parameter: a top-level AND of plain filters is the flat
    /// array PostHog documents; anything else is a group object. Keys keep the documented
    /// order (`key`, `value`, `operator`, `type`).
    pub fn to_json(&self) -> String {
        let flat: Option<Vec<&PropertyFilter>> = match self {
            Filter::Property(p) => Some(vec![p]),
            Filter::And(items) => items
                .iter()
                .map(|f| match f {
                    Filter::Property(p) => Some(p),
                    _ => None,
                })
                .collect(),
            Filter::Or(_) => None,
        };
        let encoded = match flat {
            Some(list) => serde_json::to_string(&list),
            None => serde_json::to_string(self),
        };
        // Strings, numbers and JSON values always serialise.
        encoded.unwrap_or_default()
    }
}

impl Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (kind, items) = match self {
            Filter::Property(p) => return p.serialize(serializer),
            Filter::And(items) => ("AND", items),
            Filter::Or(items) => ("OR", items),
        };
        let mut group = serializer.serialize_struct("Group", 2)?;
        group.serialize_field("type", kind)?;
        group.serialize_field("values", items)?;
        group.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_nest_and_flat_lists_stay_flat() {
        let flat = Filter::all([
            PropertyFilter::person("plan").exact("pro"),
            PropertyFilter::person("email").is_set(),
        ]);
        assert_eq!(
            flat.to_json(),
            r#"[{"key":"plan","value":"pro","operator":"exact","type":"person"},{"key":"email","operator":"is_set","type":"person"}]"#
        );
        let nested = Filter::any([
            Filter::from(PropertyFilter::person("age").gte(30)),
            Filter::all([PropertyFilter::event("$browser").icontains("fire")]),
        ]);
        let value: Value = serde_json::from_str(&nested.to_json()).unwrap();
        assert_eq!(value["type"], "OR");
        assert_eq!(value["values"][0]["operator"], "gte");
        assert_eq!(value["values"][1]["type"], "AND");
        assert_eq!(value["values"][1]["values"][0]["type"], "event");
    }
}
