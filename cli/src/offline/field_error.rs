//! The API server's field errors, worded as it words them (`k8s.io/apimachinery`'s
//! `field.Error`): `spec.jurisdiction: Invalid value: "sv": must be …`. Offline refusals use the
//! same words, so a CI log reads the same whether `soberana evaluate` or `kubectl apply` refused.

use std::fmt;

use serde_json::Value;

/// What kind of problem a field has; each prints as the API server prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Required,
    Forbidden,
    Invalid,
    /// The value is not of the schema's type (the API server prints it as `Invalid value`).
    TypeInvalid,
    /// Not one of the schema's `enum` values.
    NotSupported,
    TooLong,
    TooMany,
    Duplicate,
}

impl Reason {
    fn words(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Forbidden => "Forbidden",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Duplicate => "Duplicate value",
        }
    }

    /// Whether the API server prints the offending value after the words.
    fn shows_value(self) -> bool {
        !matches!(self, Self::Required | Self::Forbidden | Self::TooLong)
    }
}

/// One thing the API server would refuse in an object.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The field's path (`spec.zones[0]`); `None` for what concerns the object as a whole (the
    /// API server prints those as `<nil>`).
    pub field: Option<String>,
    pub reason: Reason,
    /// The offending value; `None` where the API server leaves it out (objects and lists a CEL
    /// rule refused).
    pub value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        field: &str,
        reason: Reason,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            field: Some(field.to_owned()),
            reason,
            value,
            detail: detail.into(),
        }
    }

    /// `Required value` at `field`.
    pub fn required(field: &str) -> Self {
        Self::new(field, Reason::Required, None, "")
    }

    /// `Invalid value` at `field`, showing `value`.
    pub fn invalid(field: &str, value: Value, detail: impl Into<String>) -> Self {
        Self::new(field, Reason::Invalid, Some(value), detail)
    }

    /// The API server's message without the field path: what it puts in a status cause.
    pub fn body(&self) -> String {
        let words = self.reason.words();
        let mut body = match &self.value {
            Some(value) if self.reason.shows_value() => format!("{words}: {}", go_value(value)),
            _ => words.to_owned(),
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(formatter, "{field}: {}", self.body()),
            None => formatter.write_str(&self.body()),
        }
    }
}

/// A value as Go's `field.Error` prints it: strings quoted, numbers and booleans bare, anything
/// else as JSON.
pub fn go_value(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() => go_float(float),
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// A string quoted as Go's `%q` quotes it (printable characters kept, control characters
/// escaped).
pub fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            control if u32::from(control) < 0x20 || control == '\u{7f}' => {
                quoted.push_str(&format!("\\x{:02x}", u32::from(control)));
            }
            control if control.is_control() => {
                quoted.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            printable => quoted.push(printable),
        }
    }
    quoted.push('"');
    quoted
}

/// A float as Go's `%v` prints it: the shortest digits, with an exponent below 1e-4 or from 1e6
/// on (`100`, `0.5`, `1e+06`).
pub fn go_float(float: f64) -> String {
    let scientific = format!("{float:e}");
    let exponent: i32 = scientific
        .split_once('e')
        .and_then(|(_, exponent)| exponent.parse().ok())
        .unwrap_or(0);
    if float == 0.0 || (-4..6).contains(&exponent) {
        return format!("{float}");
    }
    let (mantissa, _) = scientific.split_once('e').unwrap_or((&scientific, ""));
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errors_read_as_the_api_server_writes_them() {
        let cases = [
            (
                FieldError::invalid("spec.jurisdiction", json!("sv"), "must be an ISO code"),
                r#"spec.jurisdiction: Invalid value: "sv": must be an ISO code"#,
            ),
            (
                FieldError::required("spec.provider"),
                "spec.provider: Required value",
            ),
            (
                FieldError::new(
                    "spec.provider",
                    Reason::TooLong,
                    None,
                    "may not be more than 128 bytes",
                ),
                "spec.provider: Too long: may not be more than 128 bytes",
            ),
            (
                FieldError::new(
                    "spec.zones",
                    Reason::TooMany,
                    Some(json!(17)),
                    "must have at most 16 items",
                ),
                "spec.zones: Too many: 17: must have at most 16 items",
            ),
            (
                FieldError::new(
                    "spec.tier",
                    Reason::NotSupported,
                    Some(json!("Offshore")),
                    r#"supported values: "A", "B""#,
                ),
                r#"spec.tier: Unsupported value: "Offshore": supported values: "A", "B""#,
            ),
            (
                FieldError::new(
                    "spec.spread",
                    Reason::Invalid,
                    None,
                    "minimumSites must not exceed maximumSites",
                ),
                "spec.spread: Invalid value: minimumSites must not exceed maximumSites",
            ),
            (
                FieldError::new(
                    "spec.taints[1]",
                    Reason::Duplicate,
                    Some(json!({"key": "k"})),
                    "",
                ),
                r#"spec.taints[1]: Duplicate value: {"key":"k"}"#,
            ),
            (
                FieldError {
                    field: None,
                    reason: Reason::Invalid,
                    value: Some(Value::Null),
                    detail: "some rules were not checked".to_owned(),
                },
                "Invalid value: null: some rules were not checked",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(go_value(&json!(-1)), "-1");
        assert_eq!(go_value(&json!(1.5)), "1.5");
        assert_eq!(go_value(&json!(100.0)), "100");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!(["a"])), r#"["a"]"#);
        assert_eq!(go_float(123_456.0), "123456");
        assert_eq!(go_float(1_234_567.0), "1.234567e+06");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(
            go_quote("tab\there \"q\" \u{1} ñ"),
            r#""tab\there \"q\" \x01 ñ""#
        );
    }
}
