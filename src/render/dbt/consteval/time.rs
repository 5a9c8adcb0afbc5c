//! Dates, timestamps and intervals as PostgreSQL reads, adds, truncates
//! and prints them.

use sqlparser::ast::{DateTimeField, Interval};

use super::{as_timestamp, eval, overflow, unsupported, Eval, NotConstant, Scalar};

pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]]`: days since 1970 and microseconds
/// into the day. Other date styles depend on the server's `DateStyle`.
pub(super) fn parse_timestamp(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = digits(parts.next()?, 4)?;
    let month: i64 = digits(parts.next()?, 2)?;
    let day: i64 = digits(parts.next()?, 2)?;
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let micros = match time {
        None | Some("") => 0,
        Some(t) => {
            let mut hms = t.splitn(3, ':');
            let h: i64 = digits(hms.next()?, 2)?;
            let m: i64 = digits(hms.next()?, 2)?;
            let (sec, frac) = match hms.next() {
                None => (0, 0),
                Some(sec) => match sec.split_once('.') {
                    None => (digits(sec, 2)?, 0),
                    Some((whole, frac)) => {
                        if frac.is_empty()
                            || frac.len() > 6
                            || !frac.bytes().all(|b| b.is_ascii_digit())
                        {
                            return None;
                        }
                        let padded = format!("{frac:0<6}");
                        (digits(whole, 2)?, padded.parse().ok()?)
                    }
                },
            };
            if h > 23 || m > 59 || sec > 59 {
                return None;
            }
            ((h * 60 + m) * 60 + sec) * 1_000_000 + frac
        }
    };
    Some((days_from_civil(year, month, day), micros))
}

pub(super) fn digits(s: &str, max: usize) -> Option<i64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `z` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `'1 day'`, `'-3 months 2 hours'`, or a bare number with the unit of
/// `interval '5' day`.
pub(super) fn parse_interval(s: &str, unit: Option<&DateTimeField>) -> Option<Scalar> {
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut words: Vec<&str> = s.split_whitespace().collect();
    // A time of day part: `02:00:00`, `-10:00:00.5`.
    if let Some(i) = words.iter().position(|w| w.contains(':')) {
        let word = words.remove(i);
        let (sign, t) = match word.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, word),
        };
        let (_, time) = parse_timestamp(&format!("1970-01-01 {t}"))?;
        micros = sign * time;
    }
    let pairs: Vec<(&str, String)> = match (words.as_slice(), unit) {
        ([n], Some(u)) => vec![(*n, u.to_string().to_lowercase())],
        ([], None) if micros != 0 || s.contains(':') => Vec::new(),
        (w, None) if !w.is_empty() && w.len() % 2 == 0 => {
            w.chunks(2).map(|c| (c[0], c[1].to_lowercase())).collect()
        }
        _ => return None,
    };
    for (n, unit) in pairs {
        let n: i64 = n.parse().ok()?;
        match unit.as_str() {
            "year" | "years" | "yr" | "yrs" | "y" => {
                months = months.checked_add(n.checked_mul(12)?)?
            }
            "month" | "months" | "mon" | "mons" => months = months.checked_add(n)?,
            "week" | "weeks" | "w" => days = days.checked_add(n.checked_mul(7)?)?,
            "day" | "days" | "d" => days = days.checked_add(n)?,
            "hour" | "hours" | "hr" | "hrs" | "h" => {
                micros = micros.checked_add(n.checked_mul(3_600_000_000)?)?
            }
            "minute" | "minutes" | "min" | "mins" | "m" => {
                micros = micros.checked_add(n.checked_mul(60_000_000)?)?
            }
            "second" | "seconds" | "sec" | "secs" | "s" => {
                micros = micros.checked_add(n.checked_mul(1_000_000)?)?
            }
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => {
                micros = micros.checked_add(n.checked_mul(1_000)?)?
            }
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => {
                micros = micros.checked_add(n)?
            }
            _ => return None,
        }
    }
    Some(Scalar::Interval {
        months,
        days,
        micros,
    })
}

pub(super) fn interval(i: &Interval) -> Eval<Scalar> {
    if i.last_field.is_some() || i.leading_precision.is_some() {
        return unsupported("this interval literal");
    }
    let text = match eval(&i.value)? {
        Scalar::Text(s) => s,
        Scalar::Int(n) if i.leading_field.is_some() => n.to_string(),
        _ => return unsupported("this interval literal"),
    };
    parse_interval(&text, i.leading_field.as_ref())
        .ok_or_else(|| NotConstant::Unsupported(format!("the interval '{text}'")))
}

/// PostgreSQL's `timestamp + interval`: months first (the day of month
/// clamped to the month's last day), then days, then time.
pub(super) fn add_interval(ts: i64, months: i64, days: i64, micros: i64) -> Eval<i64> {
    let day = ts.div_euclid(MICROS_PER_DAY);
    let time = ts.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(day);
    let total = (y * 12 + (m - 1))
        .checked_add(months)
        .ok_or_else(overflow)?;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    if ny < 1 {
        return Err(overflow());
    }
    let nd = d.min(days_in_month(ny, nm));
    let day = days_from_civil(ny, nm, nd)
        .checked_add(days)
        .ok_or_else(overflow)?;
    day.checked_mul(MICROS_PER_DAY)
        .and_then(|v| v.checked_add(time))
        .and_then(|v| v.checked_add(micros))
        .ok_or_else(overflow)
}

pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`: how PostgreSQL prints a timestamp, and
/// how Python prints the `datetime` a driver returns for it.
pub fn format_timestamp(ts: i64) -> String {
    let day = ts.div_euclid(MICROS_PER_DAY);
    let time = ts.rem_euclid(MICROS_PER_DAY);
    let secs = time / 1_000_000;
    let frac = time % 1_000_000;
    let mut out = format!(
        "{} {:02}:{:02}:{:02}",
        format_date(day),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        out.push_str(&format!(".{frac:06}"));
    }
    out
}

pub(super) fn date_trunc(field: &str, ts: i64) -> Eval<i64> {
    let day = ts.div_euclid(MICROS_PER_DAY);
    let time = ts.rem_euclid(MICROS_PER_DAY);
    let (y, m, _) = civil_from_days(day);
    let start = |days: i64| days * MICROS_PER_DAY;
    Ok(match field.to_lowercase().as_str() {
        "microseconds" => ts,
        "milliseconds" => ts - ts.rem_euclid(1_000),
        "second" => ts - ts.rem_euclid(1_000_000),
        "minute" => ts - ts.rem_euclid(60_000_000),
        "hour" => ts - ts.rem_euclid(3_600_000_000),
        "day" => ts - time,
        // ISO weeks start on Monday; 1970-01-01 was a Thursday.
        "week" => start(day - (day + 3).rem_euclid(7)),
        "month" => start(days_from_civil(y, m, 1)),
        "quarter" => start(days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)),
        "year" => start(days_from_civil(y, 1, 1)),
        other => return unsupported(format!("date_trunc('{other}', ...)")),
    })
}

/// ISO 8601 week number and year of a day.
pub(super) fn iso_week(day: i64) -> (i64, i64) {
    let (y, _, _) = civil_from_days(day);
    let monday_of = |year: i64| {
        let jan4 = days_from_civil(year, 1, 4);
        jan4 - (jan4 + 3).rem_euclid(7)
    };
    let mut year = y + 1;
    while day < monday_of(year) {
        year -= 1;
    }
    (year, (day - monday_of(year)) / 7 + 1)
}

/// `date_part`, which returns double precision in PostgreSQL.
pub(super) fn date_part(field: &str, v: &Scalar) -> Eval<Scalar> {
    let field = field.to_lowercase();
    let field = field.trim();
    if let Scalar::Interval {
        months,
        days,
        micros,
    } = v
    {
        let f = |x: i64| Ok(Scalar::Float(x as f64));
        return match field {
            "year" | "years" => f(months / 12),
            "month" | "months" | "mon" => f(months % 12),
            "day" | "days" => f(*days),
            "hour" | "hours" => f(micros / 3_600_000_000),
            "minute" | "minutes" => f(micros / 60_000_000 % 60),
            "epoch" => Ok(Scalar::Float(
                (months / 12) as f64 * 365.25 * 86_400.0
                    + (months % 12) as f64 * 30.0 * 86_400.0
                    + *days as f64 * 86_400.0
                    + *micros as f64 / 1e6,
            )),
            other => unsupported(format!("date_part('{other}', interval)")),
        };
    }
    let ts = as_timestamp(v).ok_or_else(|| {
        NotConstant::Unsupported("date_part of a value that is not a date".into())
    })?;
    let day = ts.div_euclid(MICROS_PER_DAY);
    let time = ts.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(day);
    let secs_micros = time % 60_000_000;
    let value = match field {
        "year" | "years" => y as f64,
        "month" | "months" | "mon" => m as f64,
        "day" | "days" => d as f64,
        "quarter" => ((m - 1) / 3 + 1) as f64,
        "hour" | "hours" => (time / 3_600_000_000) as f64,
        "minute" | "minutes" => (time / 60_000_000 % 60) as f64,
        "second" | "seconds" => secs_micros as f64 / 1e6,
        "millisecond" | "milliseconds" => secs_micros as f64 / 1e3,
        "microsecond" | "microseconds" => secs_micros as f64,
        "dow" => (day + 4).rem_euclid(7) as f64,
        "isodow" => ((day + 3).rem_euclid(7) + 1) as f64,
        "doy" => (day - days_from_civil(y, 1, 1) + 1) as f64,
        "week" => iso_week(day).1 as f64,
        "isoyear" => iso_week(day).0 as f64,
        "epoch" => ts as f64 / 1e6,
        other => return unsupported(format!("date_part('{other}', ...)")),
    };
    Ok(Scalar::Float(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_arithmetic_matches_known_days() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (1900, 3, 1),
            (2024, 12, 31),
            (1, 1, 1),
        ] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(2018, 1, 1), 17_532);
        assert_eq!(iso_week(days_from_civil(2021, 1, 3)), (2020, 53));
        assert_eq!(iso_week(days_from_civil(2018, 12, 31)), (2019, 1));
    }
}
