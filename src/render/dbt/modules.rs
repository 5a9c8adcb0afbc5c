//! dbt's `modules`: the parts of Python's `datetime`, `re` and `itertools`
//! that packages call (`dbt_utils.slugify` uses `modules.re.sub`, dbt_date
//! builds dates with `modules.datetime.date`).
//!
//! Deterministic by design: the wall clock (`datetime.now()`, `utcnow()`,
//! `today()`) is E0157, because a compiled artifact must be the same from
//! one compile to the next; a var gives the date instead. Regular
//! expressions are Python's syntax as far as Rust's regex engine shares it
//! (no look-around, no backreferences in the pattern; `\\w`, `\\d` and `\\s`
//! are ASCII, where Python's are Unicode).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

use super::consteval::{civil_from_days, days_from_civil, days_in_month};
use super::context::fail;
use crate::diagnostic::Code;

/// The `modules` global.
#[derive(Debug)]
pub struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "re" => Some(Value::from_object(Re)),
            "itertools" => Some(Value::from_object(Itertools)),
            "datetime" => Some(Value::from_object(DatetimeModule)),
            "pytz" => Some(Value::from_object(super::pytz::Pytz)),
            _ => None,
        }
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A Python pattern in the regex engine's syntax: `\\w`, `\\d`, `\\s`
/// and their negations as ASCII classes (the engine is built without
/// Unicode's class tables, see Cargo.toml; the space is `\\x20`, which
/// verbose mode `(?x)` does not drop), and a `{` that opens no repetition
/// (`{{ ref(...) }}` in dbt-codegen's patterns) as the literal Python reads.
fn python_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    // Verbose mode: a `#` outside a class comments to the end of the line.
    let verbose = pattern
        .strip_prefix("(?")
        .and_then(|rest| rest.split_once(')'))
        .is_some_and(|(flags, _)| {
            flags.chars().all(|c| c.is_ascii_alphabetic()) && flags.contains('x')
        });
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {}
            '#' if verbose && !in_class => {
                out.push(c);
                for (_, c) in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // `[]...]` and `[^]...]`: a first `]` is a literal.
                if let Some((_, '^')) = chars.peek() {
                    out.push('^');
                    chars.next();
                }
                if let Some((_, ']')) = chars.peek() {
                    out.push_str("\\]");
                    chars.next();
                }
                continue;
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
                continue;
            }
            '{' if in_class || !is_repetition(&pattern[i..]) => {
                out.push_str("\\{");
                continue;
            }
            '}' if in_class => {
                out.push_str("\\}");
                continue;
            }
            _ => {
                out.push(c);
                continue;
            }
        }
        match chars.next().map(|(_, c)| c) {
            Some('w') => out.push_str(if in_class {
                "0-9A-Za-z_"
            } else {
                "[0-9A-Za-z_]"
            }),
            Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
            Some('s') => out.push_str(if in_class {
                "\\t\\n\\x0B\\x0C\\r\\x20"
            } else {
                "[\\t\\n\\x0B\\x0C\\r\\x20]"
            }),
            Some('W') if !in_class => out.push_str("[^0-9A-Za-z_]"),
            Some('D') if !in_class => out.push_str("[^0-9]"),
            Some('S') if !in_class => out.push_str("[^\\t\\n\\x0B\\x0C\\r\\x20]"),
            // A negated class inside a class: the engine's own (Unicode's
            // tables are absent, so it may refuse it, with its reason).
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Whether `text` (starting at `{`) is a repetition as Python reads one:
/// `{m}`, `{m,}`, `{,n}`, `{m,n}`.
fn is_repetition(text: &str) -> bool {
    let Some(end) = text.find('}') else {
        return false;
    };
    let inner = &text[1..end];
    let (a, b) = inner.split_once(',').unwrap_or((inner, inner));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !inner.is_empty() && inner != "," && digits(a) && digits(b)
}

fn compile(state: &State, pattern: &str) -> Result<Regex, Error> {
    Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().unicode(true))
        .build(&python_pattern(pattern))
        .map_err(|e| {
            fail(
                state,
                Code::E0157,
                format!(
                    "modules.re cannot use the pattern {pattern:?}: {}",
                    // The engine's reason, without its copy of the pattern.
                    std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), |s| s.to_string())
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                ),
                "stackc's modules.re takes Python patterns without look-around or backreferences, with ASCII classes; simplify the pattern".into(),
            )
        })
}

fn text_arg(args: &[Value], i: usize, what: &str) -> Result<String, Error> {
    args.get(i)
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| bad(format!("modules.re: `{what}` must be a string")))
}

/// Python's `re`: `sub`, `search`, `match`, `fullmatch`, `findall`,
/// `split`, `escape`.
#[derive(Debug)]
struct Re;

impl Object for Re {
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "escape" {
            let s = text_arg(args, 0, "string")?;
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    out.push('\\');
                }
                out.push(c);
            }
            return Ok(Value::from(out));
        }
        let pattern = text_arg(args, 0, "pattern")?;
        let re = compile(state, &pattern)?;
        match method {
            "sub" => {
                let repl = text_arg(args, 1, "repl")?;
                let hay = text_arg(args, 2, "string")?;
                let count = args.get(3).and_then(|v| i64::try_from(v.clone()).ok());
                Ok(Value::from(sub(&re, &repl, &hay, count.unwrap_or(0))))
            }
            "search" | "match" | "fullmatch" => {
                let hay = text_arg(args, 1, "string")?;
                let input = if method == "search" {
                    Input::new(&hay)
                } else {
                    Input::new(&hay).anchored(Anchored::Yes)
                };
                let mut caps = re.create_captures();
                re.search_captures(&input, &mut caps);
                let Some(whole) = caps.get_match() else {
                    return Ok(Value::from(()));
                };
                if method == "fullmatch" && whole.end() != hay.len() {
                    return Ok(Value::from(()));
                }
                let groups: Vec<Option<String>> = (0..caps.group_len())
                    .map(|i| caps.get_group(i).map(|s| hay[s.range()].to_string()))
                    .collect();
                Ok(Value::from_object(Match { groups }))
            }
            "findall" => {
                let hay = text_arg(args, 1, "string")?;
                let mut out = Vec::new();
                for caps in re.captures_iter(&hay) {
                    let text =
                        |i: usize| Value::from(caps.get_group(i).map_or("", |s| &hay[s.range()]));
                    out.push(match caps.group_len() {
                        1 => text(0),
                        2 => text(1),
                        n => Value::from((1..n).map(text).collect::<Vec<_>>()),
                    });
                }
                Ok(Value::from(out))
            }
            "split" => {
                let hay = text_arg(args, 1, "string")?;
                let mut out = Vec::new();
                let mut last = 0;
                for m in re.find_iter(&hay) {
                    out.push(Value::from(&hay[last..m.start()]));
                    last = m.end();
                }
                out.push(Value::from(&hay[last..]));
                Ok(Value::from(out))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `re.sub` with Python's `\1` and `\g<1>` group references.
fn sub(re: &Regex, repl: &str, hay: &str, count: i64) -> String {
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    for (n, caps) in re.captures_iter(hay).enumerate() {
        if count > 0 && n as i64 >= count {
            break;
        }
        let Some(whole) = caps.get_match() else {
            continue;
        };
        out.push_str(&hay[last..whole.start()]);
        let group = |i: usize| caps.get_group(i).map_or("", |s| &hay[s.range()]);
        let mut chars = repl.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let rest = &repl[i + 1..];
            let digits: String = rest
                .chars()
                .take_while(char::is_ascii_digit)
                .take(2)
                .collect();
            if !digits.is_empty() {
                out.push_str(group(digits.parse().unwrap_or(0)));
                for _ in 0..digits.len() {
                    chars.next();
                }
            } else if let Some(named) = rest.strip_prefix("g<") {
                let end = named.find('>').unwrap_or(named.len());
                out.push_str(group(named[..end].parse().unwrap_or(0)));
                for _ in 0..end + 3 {
                    chars.next();
                }
            } else {
                match chars.next().map(|(_, c)| c) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
        }
        last = whole.end();
    }
    out.push_str(&hay[last..]);
    out
}

/// A match: `group(n)`, `groups()`; true when tested.
#[derive(Debug)]
struct Match {
    groups: Vec<Option<String>>,
}

impl Object for Match {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let value = |g: &Option<String>| g.clone().map_or(Value::from(()), Value::from);
        match method {
            "group" => {
                let i = args
                    .first()
                    .and_then(|v| usize::try_from(v.clone()).ok())
                    .unwrap_or(0);
                self.groups
                    .get(i)
                    .map(value)
                    .ok_or_else(|| bad(format!("no such group: {i}")))
            }
            "groups" => Ok(Value::from(
                self.groups.iter().skip(1).map(value).collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<re.Match {:?}>",
            self.groups.first().cloned().flatten().unwrap_or_default()
        )
    }
}

/// `itertools.chain`, `product`, `combinations`, as lists.
#[derive(Debug)]
struct Itertools;

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    Ok(v.try_iter()?.collect())
}

impl Object for Itertools {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "chain" => {
                let mut out = Vec::new();
                for a in args {
                    out.extend(items(a)?);
                }
                Ok(Value::from(out))
            }
            "product" => {
                let mut out: Vec<Vec<Value>> = vec![Vec::new()];
                for a in args {
                    let pool = items(a)?;
                    out = out
                        .into_iter()
                        .flat_map(|prefix| {
                            pool.iter().map(move |x| {
                                let mut next = prefix.clone();
                                next.push(x.clone());
                                next
                            })
                        })
                        .collect();
                }
                Ok(Value::from(
                    out.into_iter().map(Value::from).collect::<Vec<_>>(),
                ))
            }
            "combinations" => {
                let pool = items(
                    args.first()
                        .ok_or_else(|| bad("combinations(iterable, r)"))?,
                )?;
                let r = args
                    .get(1)
                    .and_then(|v| usize::try_from(v.clone()).ok())
                    .ok_or_else(|| bad("combinations(iterable, r): r must be a number"))?;
                let mut out = Vec::new();
                combine(&pool, r, 0, &mut Vec::new(), &mut out);
                Ok(Value::from(out))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn combine(pool: &[Value], r: usize, from: usize, cur: &mut Vec<Value>, out: &mut Vec<Value>) {
    if cur.len() == r {
        out.push(Value::from(cur.clone()));
        return;
    }
    for i in from..pool.len() {
        cur.push(pool[i].clone());
        combine(pool, r, i + 1, cur, out);
        cur.pop();
    }
}

/// `modules.datetime`: the `date` and `datetime` types.
#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "date" => Some(Value::from_object(DateClass { with_time: false })),
            "datetime" => Some(Value::from_object(DateClass { with_time: true })),
            "timedelta" => Some(Value::from_object(super::timedelta::TimedeltaClass)),
            _ => None,
        }
    }
}

/// `datetime.date` / `datetime.datetime`: callable, with class methods.
#[derive(Debug)]
struct DateClass {
    with_time: bool,
}

fn wall_clock(state: &State, what: &str) -> Error {
    fail(
        state,
        Code::E0157,
        format!("modules.datetime.{what}() reads the clock, and a compiled artifact may not depend on when it was compiled"),
        "pass the date in a var (`var('as_of')`) and build it with modules.datetime.date(...) or strptime".into(),
    )
}

impl Object for DateClass {
    fn call(self: &Arc<Self>, _state: &mut State, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs): (&[Value], Kwargs) = minijinja::value::from_args(args)?;
        let mut parts = [1970i64, 1, 1, 0, 0, 0, 0];
        let names = [
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "microsecond",
        ];
        let max = if self.with_time { 7 } else { 3 };
        for (i, a) in args.iter().enumerate().take(max) {
            parts[i] = i64::try_from(a.clone())?;
        }
        for (i, name) in names.iter().enumerate().take(max) {
            if let Some(v) = kwargs.get::<Option<i64>>(name)? {
                parts[i] = v;
            }
        }
        let tz: Option<Value> = if self.with_time {
            kwargs.get("tzinfo")?
        } else {
            None
        };
        kwargs.assert_all_used()?;
        let offset = match tz.filter(|t| !t.is_none()) {
            None => None,
            Some(t) => Some(super::pytz::offset_of(&t).ok_or_else(|| {
                bad("modules.datetime.datetime(): tzinfo must be a modules.pytz time zone (UTC or a fixed offset)")
            })?),
        };
        Date::new(parts, self.with_time)
            .map(|d| Date { offset, ..d })
            .map(Value::from_object)
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "now" | "utcnow" | "today" => {
                let class = if self.with_time { "datetime" } else { "date" };
                Err(wall_clock(state, &format!("{class}.{method}")))
            }
            "strptime" => {
                let s = text_arg(args, 0, "date_string")?;
                let f = text_arg(args, 1, "format")?;
                parse_with_format(&s, &f)
                    .map(|p| Value::from_object(Date::from_parts(p, self.with_time)))
            }
            "fromisoformat" => {
                let s = text_arg(args, 0, "date_string")?;
                let f = if s.len() > 10 {
                    if s.contains('T') {
                        "%Y-%m-%dT%H:%M:%S"
                    } else {
                        "%Y-%m-%d %H:%M:%S"
                    }
                } else {
                    "%Y-%m-%d"
                };
                let s = if s.len() > 19 { &s[..19] } else { &s };
                parse_with_format(s, f)
                    .map(|p| Value::from_object(Date::from_parts(p, self.with_time)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A date, or a date and time (no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    parts: [i64; 7],
    with_time: bool,
    /// The UTC offset in minutes of an aware datetime (`tzinfo=`).
    offset: Option<i64>,
}

/// `dt` (a datetime of `modules.datetime`) with the UTC offset `offset`
/// minutes, as pytz's `localize` makes it: the wall time is kept.
pub(super) fn localized(dt: &Value, offset: i64) -> Option<Value> {
    let d = dt.downcast_object_ref::<Date>()?;
    Some(Value::from_object(Date {
        offset: Some(offset),
        with_time: true,
        ..*d
    }))
}

impl Date {
    fn new(parts: [i64; 7], with_time: bool) -> Result<Date, Error> {
        let [y, m, d, h, mi, s, us] = parts;
        let ok = (1..=9999).contains(&y)
            && (1..=12).contains(&m)
            && d >= 1
            && d <= days_in_month(y, m)
            && (0..24).contains(&h)
            && (0..60).contains(&mi)
            && (0..60).contains(&s)
            && (0..1_000_000).contains(&us);
        if !ok {
            return Err(bad(format!(
                "modules.datetime: {y}-{m}-{d} {h}:{mi}:{s}.{us} is not a valid date and time"
            )));
        }
        Ok(Date {
            parts,
            with_time,
            offset: None,
        })
    }

    /// This date moved by `micros` microseconds; a date without a time
    /// moves by whole days only, as Python's `date + timedelta`.
    pub(super) fn shifted(&self, micros: i64) -> Result<Date, Error> {
        let [y, m, d, h, mi, s, us] = self.parts;
        let day_micros = 86_400_000_000i64;
        let mut total = days_from_civil(y, m, d) * day_micros;
        if self.with_time {
            total += ((h * 60 + mi) * 60 + s) * 1_000_000 + us + micros;
        } else {
            total += micros.div_euclid(day_micros) * day_micros;
        }
        let (days, rest) = (total.div_euclid(day_micros), total.rem_euclid(day_micros));
        let (y, m, d) = civil_from_days(days);
        let secs = rest / 1_000_000;
        let parts = [
            y,
            m,
            d,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            rest % 1_000_000,
        ];
        Date::new(parts, self.with_time).map(|moved| Date {
            offset: self.offset,
            ..moved
        })
    }

    fn from_parts(parts: [i64; 7], with_time: bool) -> Date {
        Date {
            parts,
            with_time,
            offset: None,
        }
    }

    fn weekday(&self) -> i64 {
        // 1970-01-01 was a Thursday (Monday is 0).
        (days_from_civil(self.parts[0], self.parts[1], self.parts[2]) + 3).rem_euclid(7)
    }

    fn strftime(&self, format: &str) -> String {
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let [y, m, d, h, mi, s, us] = self.parts;
        let month = MONTHS[(m - 1).clamp(0, 11) as usize];
        let day = DAYS[self.weekday() as usize];
        let mut out = String::new();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&format!("{y:04}")),
                Some('y') => out.push_str(&format!("{:02}", y % 100)),
                Some('m') => out.push_str(&format!("{m:02}")),
                Some('d') => out.push_str(&format!("{d:02}")),
                Some('H') => out.push_str(&format!("{h:02}")),
                Some('M') => out.push_str(&format!("{mi:02}")),
                Some('S') => out.push_str(&format!("{s:02}")),
                Some('f') => out.push_str(&format!("{us:06}")),
                Some('j') => out.push_str(&format!(
                    "{:03}",
                    days_from_civil(y, m, d) - days_from_civil(y, 1, 1) + 1
                )),
                Some('B') => out.push_str(month),
                Some('b') => out.push_str(&month[..3]),
                Some('A') => out.push_str(day),
                Some('a') => out.push_str(&day[..3]),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }

    fn isoformat(&self, sep: &str) -> String {
        if !self.with_time {
            return self.strftime("%Y-%m-%d");
        }
        let mut out = self.strftime(&format!("%Y-%m-%d{sep}%H:%M:%S"));
        if self.parts[6] != 0 {
            out.push_str(&format!(".{:06}", self.parts[6]));
        }
        if let Some(offset) = self.offset {
            out.push_str(&super::pytz::iso_offset(offset));
        }
        out
    }
}

/// `strptime` for `%Y %m %d %H %M %S` and literal characters.
fn parse_with_format(s: &str, format: &str) -> Result<[i64; 7], Error> {
    let mut parts = [1900i64, 1, 1, 0, 0, 0, 0];
    let mut rest = s;
    let mut chars = format.chars();
    let fail = || {
        bad(format!(
            "modules.datetime.strptime: {s:?} does not match {format:?}"
        ))
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            rest = rest.strip_prefix(c).ok_or_else(fail)?;
            continue;
        }
        let (slot, width) = match chars.next() {
            Some('Y') => (0, 4),
            Some('m') => (1, 2),
            Some('d') => (2, 2),
            Some('H') => (3, 2),
            Some('M') => (4, 2),
            Some('S') => (5, 2),
            _ => {
                return Err(bad(format!(
                "modules.datetime.strptime: stackc reads %Y %m %d %H %M %S only, not {format:?}"
            )))
            }
        };
        let len = rest
            .chars()
            .take(width)
            .take_while(char::is_ascii_digit)
            .count();
        if len == 0 {
            return Err(fail());
        }
        parts[slot] = rest[..len].parse().map_err(|_| fail())?;
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(fail());
    }
    Date::new(parts, true).map(|d| d.parts)
}

impl Object for Date {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = match key.as_str()? {
            "year" => 0,
            "month" => 1,
            "day" => 2,
            "hour" if self.with_time => 3,
            "minute" if self.with_time => 4,
            "second" if self.with_time => 5,
            "microsecond" if self.with_time => 6,
            "tzinfo" if self.with_time => {
                return Some(self.offset.map_or(Value::from(()), super::pytz::tz_value))
            }
            _ => return None,
        };
        Some(Value::from(self.parts[i]))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => Ok(Value::from(self.strftime(&text_arg(args, 0, "format")?))),
            "isoformat" => {
                let sep = args
                    .first()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "T".into());
                Ok(Value::from(self.isoformat(&sep)))
            }
            "weekday" => Ok(Value::from(self.weekday())),
            "timestamp" => {
                // A naive datetime's timestamp is in the machine's local
                // time in Python: not something an artifact may depend on.
                let offset = self.offset.ok_or_else(|| {
                    bad("timestamp() of a datetime without tzinfo depends on the machine's time zone: give it tzinfo=modules.pytz.utc")
                })?;
                let [y, m, d, h, mi, sec, us] = self.parts;
                let secs =
                    days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60;
                Ok(Value::from(secs as f64 + us as f64 / 1e6))
            }
            "replace" => {
                // Only `tzinfo=` (pytz's `localize` spelt the datetime way).
                let (kwargs,): (Kwargs,) = minijinja::value::from_args(args)?;
                let tz: Value = kwargs.get("tzinfo")?;
                kwargs.assert_all_used()?;
                let offset = if tz.is_none() {
                    None
                } else {
                    Some(super::pytz::offset_of(&tz).ok_or_else(|| {
                        bad("replace(tzinfo=...): tzinfo must be a modules.pytz time zone")
                    })?)
                };
                Ok(Value::from_object(Date { offset, ..**self }))
            }
            "isoweekday" => Ok(Value::from(self.weekday() + 1)),
            "date" => Ok(Value::from_object(Date {
                parts: [self.parts[0], self.parts[1], self.parts[2], 0, 0, 0, 0],
                with_time: false,
                offset: None,
            })),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // str() of a Python date or datetime.
        f.write_str(&self.isoformat(" "))
    }
}

#[cfg(test)]
#[path = "modules_tests.rs"]
mod tests;
