//! Durations as people write them: "5s", "500ms", "2m", "1h". The unit is required: a
//! bare "5" could mean seconds or milliseconds, so it is refused with the fix.

use std::time::Duration;

/// Parse a duration with its unit (ms, s, m or h).
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (examples: 5s, 500ms, 2m, 1h)"))?;
    let secs = match unit.trim() {
        "" => {
            return Err(format!(
                "'{s}' has no unit; write {num}s for seconds (or {num}ms, {num}m, {num}h)"
            ))
        }
        "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(format!("unknown unit '{u}' in '{s}' (use ms, s, m or h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse(" 5 s ").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("0.5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert!(parse("5 parsecs").is_err());
        assert!(parse("").is_err());
        assert!(parse("s").is_err());
    }

    #[test]
    fn a_bare_number_asks_for_a_unit() {
        for bare in ["5", "0", "1.5", "300"] {
            let e = parse(bare).unwrap_err();
            assert!(e.contains("has no unit"), "{e}");
            assert!(e.contains(&format!("{bare}s")), "{e}");
        }
    }
}
