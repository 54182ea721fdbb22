//! The OpenAPI `format`s the API server checks in a CRD schema, as it checks them: integer
//! `int32`/`int64` and number `float` ranges, and string `date-time`. It ignores every other
//! format (it strips them when the CRD is installed), and so does offline validation; a test
//! keeps Soberana's CRDs to the formats handled here.

use serde_json::Value;

/// The `format` the API server keeps for a schema of type `schema_type`: `int32`/`int64` on
/// integers, `float`/`double` on numbers, `date-time` on strings; anything else is dropped.
pub fn effective_format<'a>(schema_type: &str, format: &'a str) -> &'a str {
    let kept = match schema_type {
        "integer" => matches!(format, "int32" | "int64"),
        "number" => matches!(format, "float" | "double"),
        "" | "string" => STRING_FORMATS.contains(&format),
        _ => false,
    };
    if kept { format } else { "" }
}

/// String formats the offline validation checks (of those the API server checks, the ones
/// Soberana's CRDs use).
pub const STRING_FORMATS: [&str; 1] = ["date-time"];

/// Whether `text` is a valid string of `format` (one of [`STRING_FORMATS`]).
pub fn string_matches(format: &str, text: &str) -> bool {
    match format {
        "date-time" => is_date_time(text),
        _ => true,
    }
}

/// The API server's `Checked value …` complaint when the number `value` does not fit the range
/// of `schema_type` with `format` (`int32`, `int64` or none for integers, `float` for numbers).
pub fn range_error(value: &Value, schema_type: &str, format: &str, path: &str) -> Option<String> {
    let fits = match (schema_type, format) {
        ("integer", "int32") => {
            whole_number(value).is_some_and(|whole| i32::try_from(whole).is_ok())
        }
        ("integer", _) => whole_number(value).is_some(),
        ("number", "float") => value
            .as_f64()
            .is_some_and(|float| float.abs() <= f64::from(f32::MAX)),
        _ => true,
    };
    if fits {
        None
    } else if format.is_empty() {
        Some(format!(
            "Checked value must be of type {schema_type} (default format) in {path}"
        ))
    } else {
        Some(format!(
            "Checked value must be of type {schema_type} with format {format} in {path}"
        ))
    }
}

/// `value` as an `i64` if it is one, or a float Go would print without a fraction or exponent
/// that parses as one.
fn whole_number(value: &Value) -> Option<i64> {
    if let Some(whole) = value.as_i64() {
        return Some(whole);
    }
    let float = value.as_f64()?;
    let printed = format!("{float}");
    printed.parse().ok()
}

/// kube-openapi's `IsDateTime`: a calendar date, `T`, then `hh:mm:ss`, optional fraction and a
/// zone (`Z` or `±hh:mm`), case-insensitive.
fn is_date_time(text: &str) -> bool {
    let lower = text.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    text.len() >= 4 && is_date(date) && is_time(time)
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|byte| byte.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `hh:mm:ss(.fraction)?(z|±hh:mm)` with hours to 23 and minutes and seconds to 59.
fn is_time(text: &str) -> bool {
    let digits = |part: Option<&str>| {
        part.is_some_and(|part| part.len() == 2 && part.bytes().all(|byte| byte.is_ascii_digit()))
    };
    let (clock, zone) = match text.find(['z', '+', '-']) {
        Some(index) => text.split_at(index),
        None => return false,
    };
    let zone_ok = zone == "z" || {
        let mut zone_parts = zone[1..].split(':');
        digits(zone_parts.next()) && digits(zone_parts.next()) && zone_parts.next().is_none()
    };
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    let fraction_ok = fraction.is_none_or(|fraction| {
        !fraction.is_empty() && fraction.bytes().all(|byte| byte.is_ascii_digit())
    });
    let parts: Vec<&str> = clock.split(':').collect();
    let [hours, minutes, seconds] = parts.as_slice() else {
        return false;
    };
    zone_ok
        && fraction_ok
        && [hours, minutes, seconds]
            .iter()
            .all(|part| digits(Some(part)))
        && *hours <= "23"
        && *minutes <= "59"
        && *seconds <= "59"
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integer_formats_bound_the_value() {
        assert_eq!(
            range_error(&json!(2_147_483_647), "integer", "int32", "spec.priority"),
            None
        );
        assert_eq!(
            range_error(
                &json!(3_000_000_000_i64),
                "integer",
                "int32",
                "spec.priority"
            )
            .as_deref(),
            Some("Checked value must be of type integer with format int32 in spec.priority")
        );
        assert_eq!(
            range_error(&json!(2.0), "integer", "", "spec.replicas"),
            None
        );
        assert_eq!(
            range_error(&json!(1.5), "integer", "", "spec.replicas").as_deref(),
            Some("Checked value must be of type integer (default format) in spec.replicas")
        );
        assert_eq!(range_error(&json!(1.5), "number", "", "spec.ratio"), None);
    }

    #[test]
    fn only_the_formats_the_api_server_keeps_count() {
        assert_eq!(effective_format("integer", "int32"), "int32");
        assert_eq!(effective_format("integer", "uint32"), "");
        assert_eq!(effective_format("string", "date-time"), "date-time");
        assert_eq!(effective_format("object", "int32"), "");
    }

    #[test]
    fn date_times_are_rfc_3339() {
        for valid in ["2026-11-22T00:00:00Z", "2024-02-29t23:59:59.123+01:00"] {
            assert!(string_matches("date-time", valid), "{valid}");
        }
        for invalid in [
            "2026-11-22",
            "2026-02-30T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T00:00:00",
            "22/11/2026 10:00",
        ] {
            assert!(!string_matches("date-time", invalid), "{invalid}");
        }
    }
}
