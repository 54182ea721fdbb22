//! Jurisdictions are ISO 3166-1 alpha-2 country codes. The API server checks them with a CEL rule
//! generated from the list below, so a typo such as `UK` (the code is `GB`) is rejected on apply.

/// Every officially assigned ISO 3166-1 alpha-2 code.
pub const ISO_3166_ALPHA_2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code.
pub fn is_jurisdiction(code: &str) -> bool {
    ISO_3166_ALPHA_2.binary_search(&code).is_ok()
}

/// The CEL expression that accepts exactly the codes above, for a string field (`self`).
pub fn jurisdiction_rule() -> String {
    let codes: Vec<String> = ISO_3166_ALPHA_2
        .iter()
        .map(|code| format!("'{code}'"))
        .collect();
    format!("self in [{}]", codes.join(","))
}

/// The message the API server returns when the rule above fails.
pub const JURISDICTION_MESSAGE: &str =
    "must be an ISO 3166-1 alpha-2 country code in capitals, e.g. 'CR', 'DO', 'UY'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_sorted_and_unique_so_lookup_works() {
        assert!(ISO_3166_ALPHA_2.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn latin_american_codes_are_known_and_lookalikes_are_not() {
        for code in ["CR", "DO", "UY", "BR", "MX", "JM", "TT", "US"] {
            assert!(is_jurisdiction(code), "{code}");
        }
        for code in ["UK", "cr", "CRI", "", "EU"] {
            assert!(!is_jurisdiction(code), "{code}");
        }
    }
}
