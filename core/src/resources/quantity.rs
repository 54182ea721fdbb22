//! Kubernetes resource quantities (`250m`, `8`, `1.5Gi`, `64M`, `1e3`) read into the integer base
//! units a [`Capacity`](super::capacity::Capacity) holds, exactly: a quantity is a decimal number
//! times a decimal or binary suffix, so it is a fraction of integers, never a float.

use thiserror::Error;

/// Why a quantity could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{quantity:?} is not a Kubernetes quantity: {problem}")]
pub struct QuantityError {
    pub quantity: String,
    pub problem: &'static str,
}

/// How to round a quantity that is not a whole number of the unit asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Down: what a node offers is never overstated.
    Down,
    /// Up: what a Pod asks for is never understated.
    Up,
}

/// CPU in millicores.
pub fn millicores(quantity: &str, rounding: Rounding) -> Result<u64, QuantityError> {
    let (numerator, denominator) = fraction(quantity)?;
    scaled(
        quantity,
        numerator.checked_mul(1000),
        Some(denominator),
        rounding,
    )
}

/// Memory (or storage) in mebibytes.
pub fn mebibytes(quantity: &str, rounding: Rounding) -> Result<u64, QuantityError> {
    let (numerator, denominator) = fraction(quantity)?;
    scaled(
        quantity,
        Some(numerator),
        denominator.checked_mul(1 << 20),
        rounding,
    )
}

fn scaled(
    quantity: &str,
    numerator: Option<u128>,
    denominator: Option<u128>,
    rounding: Rounding,
) -> Result<u64, QuantityError> {
    let too_large = || QuantityError {
        quantity: quantity.to_owned(),
        problem: "too large",
    };
    let (numerator, denominator) = numerator.zip(denominator).ok_or_else(too_large)?;
    let whole = match rounding {
        Rounding::Down => numerator / denominator,
        Rounding::Up => numerator.div_ceil(denominator),
    };
    u64::try_from(whole).map_err(|_| too_large())
}

/// The quantity as `numerator / denominator`.
fn fraction(quantity: &str) -> Result<(u128, u128), QuantityError> {
    let error = |problem| QuantityError {
        quantity: quantity.to_owned(),
        problem,
    };
    let text = quantity.trim();
    let split = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (whole, fractional) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fractional.is_empty() {
        return Err(error("no number"));
    }
    if fractional.contains('.') || fractional.len() > 9 {
        return Err(error("malformed or too precise decimal"));
    }
    let digits = format!("{whole}{fractional}");
    let mut numerator: u128 = digits.parse().map_err(|_| error("too many digits"))?;
    let mut denominator: u128 = 10u128.pow(u32::try_from(fractional.len()).unwrap_or(9));
    let (multiplier, divisor) = suffix_factor(suffix).ok_or_else(|| error("unknown suffix"))?;
    numerator = numerator
        .checked_mul(multiplier)
        .ok_or_else(|| error("too large"))?;
    denominator = denominator
        .checked_mul(divisor)
        .ok_or_else(|| error("too large"))?;
    Ok((numerator, denominator))
}

/// The suffix as `multiplier / divisor`: binary (`Ki`…`Ei`), decimal (`m`, `k`…`E`) or a
/// decimal exponent (`e3`, `E-2` is not a quantity Kubernetes writes, so it is refused).
fn suffix_factor(suffix: &str) -> Option<(u128, u128)> {
    let binary = |power: u32| Some((1u128 << (10 * power), 1));
    let decimal = |power: u32| Some((10u128.pow(power), 1));
    match suffix {
        "" => decimal(0),
        "m" => Some((1, 1000)),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        exponent => {
            let power: u32 = exponent
                .strip_prefix(['e', 'E'])?
                .parse()
                .ok()
                .filter(|power| *power <= 18)?;
            decimal(power)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_reads_cores_millicores_and_fractions() {
        assert_eq!(millicores("8", Rounding::Down), Ok(8_000));
        assert_eq!(millicores("250m", Rounding::Down), Ok(250));
        assert_eq!(millicores("1.5", Rounding::Down), Ok(1_500));
        assert_eq!(millicores("0.0001", Rounding::Down), Ok(0));
        assert_eq!(millicores("0.0001", Rounding::Up), Ok(1));
        assert_eq!(millicores("1e3", Rounding::Down), Ok(1_000_000));
    }

    #[test]
    fn memory_reads_binary_and_decimal_suffixes() {
        assert_eq!(mebibytes("32Gi", Rounding::Down), Ok(32 * 1024));
        assert_eq!(mebibytes("64Mi", Rounding::Down), Ok(64));
        assert_eq!(mebibytes("1.5Gi", Rounding::Down), Ok(1536));
        // 1 G = 10^9 bytes = 953.67 MiB.
        assert_eq!(mebibytes("1G", Rounding::Down), Ok(953));
        assert_eq!(mebibytes("1G", Rounding::Up), Ok(954));
        assert_eq!(mebibytes("1048576", Rounding::Down), Ok(1));
        assert_eq!(mebibytes("512Ki", Rounding::Up), Ok(1));
    }

    #[test]
    fn what_is_not_a_quantity_is_refused_naming_it() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "5X",
            "1e99",
            "99999999999999999999999999999999999999999",
        ] {
            let error = millicores(bad, Rounding::Down).unwrap_err();
            assert_eq!(error.quantity, bad);
        }
        assert_eq!(
            mebibytes("5X", Rounding::Down).unwrap_err().to_string(),
            "\"5X\" is not a Kubernetes quantity: unknown suffix"
        );
    }
}
