//! Parsers and formatters for the values people type and read: amounts, durations, job ids.

use std::time::Duration;

use alloy::primitives::{B256, U256};

/// Parses an amount: plain wei (`1000`), or a decimal with a unit: `0.01eth`, `0.01ether`,
/// `10gwei`, `5wei`.
pub(crate) fn parse_amount(text: &str) -> Result<U256, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let decimals = match unit {
        "" | "wei" => 0,
        "gwei" => 9,
        "eth" | "ether" => 18,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use wei, gwei or eth, e.g. 0.01eth)"
            ));
        }
    };
    let fraction = number.split_once('.').map_or(0, |(_, f)| f.len());
    if number.is_empty() || fraction > usize::from(decimals) {
        return Err(format!(
            "{text:?} is not an amount (e.g. 0.01eth, 10gwei, 1000; wei are whole)"
        ));
    }
    alloy::primitives::utils::parse_units(number, decimals)
        .ok()
        .map(|v| v.get_absolute())
        .filter(|_| !number.starts_with('-'))
        .ok_or_else(|| format!("{text:?} is not an amount (e.g. 0.01eth, 10gwei, 1000)"))
}

/// Ether without trailing zeros: 10000, 0.5.
pub(crate) fn ether(wei: U256) -> String {
    let text = alloy::primitives::utils::format_ether(wei);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An amount for people: `0.01 ETH`, or wei below a gwei.
pub(crate) fn eth(wei: U256) -> String {
    if wei < U256::from(1_000_000_000u64) && !wei.is_zero() {
        format!("{wei} wei")
    } else {
        format!("{} ETH", ether(wei))
    }
}

/// A duration: `90s`, `10m`, `1h`, `2d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); e.g. 90s, 10m, 1h, 2d"))
}

/// A job id: 0x and 64 hex digits, as `agency job post` prints it.
pub(crate) fn parse_job_id(text: &str) -> Result<B256, String> {
    let t = text.trim();
    if t.len() == 66
        && t.starts_with("0x")
        && let Ok(id) = t.parse::<B256>()
    {
        return Ok(id);
    }
    Err(format!(
        "{text:?} is not a job id (0x and 64 hex digits, as `agency job post` prints)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_units_and_refuse_nonsense() {
        let wei = |v: u128| U256::from(v);
        assert_eq!(parse_amount("1000"), Ok(wei(1000)));
        assert_eq!(parse_amount("5wei"), Ok(wei(5)));
        assert_eq!(parse_amount("10gwei"), Ok(wei(10_000_000_000)));
        assert_eq!(parse_amount("0.01eth"), Ok(wei(10_000_000_000_000_000)));
        assert_eq!(parse_amount("1 ETHER"), Ok(wei(1_000_000_000_000_000_000)));
        for bad in ["", "eth", "1.5", "0.1wei", "-1", "1btc", "1e18", "0x10"] {
            assert!(parse_amount(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
