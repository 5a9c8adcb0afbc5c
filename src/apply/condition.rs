//! A test's `error_if` / `warn_if`: a comparison of the failing-row count
//! with a number, as dbt writes them (`!= 0`, `> 10`, `>= 5`).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    op: Op,
    value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        // Longest operators first, so `>=` is not read as `>`.
        let ops = [
            ("!=", Op::Ne),
            ("<>", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (op, rest) = ops
            .iter()
            .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (*op, rest)))
            .ok_or_else(|| format!("`{text}` is not a comparison like `!= 0` or `> 10`"))?;
        let value = rest
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("`{text}` is not a comparison with a whole number"))?;
        Ok(Condition { op, value })
    }

    pub fn holds(self, count: i64) -> bool {
        match self.op {
            Op::Eq => count == self.value,
            Op::Ne => count != self.value,
            Op::Lt => count < self.value,
            Op::Le => count <= self.value,
            Op::Gt => count > self.value,
            Op::Ge => count >= self.value,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        write!(f, "{op} {}", self.value)
    }
}

/// The outcome of a test by dbt's rule: severity `error` checks `error_if`
/// and then `warn_if`; severity `warn` only `warn_if`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Warn(Condition),
    Error(Condition),
}

pub fn verdict(
    severity_error: bool,
    error_if: Condition,
    warn_if: Condition,
    failures: i64,
) -> Verdict {
    if severity_error && error_if.holds(failures) {
        Verdict::Error(error_if)
    } else if warn_if.holds(failures) {
        Verdict::Warn(warn_if)
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Condition {
        Condition::parse(s).unwrap()
    }

    #[test]
    fn parses_and_evaluates() {
        assert!(c("!= 0").holds(1) && !c("!= 0").holds(0));
        assert!(c("> 10").holds(11) && !c("> 10").holds(10));
        assert!(c(">=10").holds(10) && !c(">=10").holds(9));
        assert!(c("<5").holds(4) && c("<= 5").holds(5));
        assert!(c("= 3").holds(3) && c("== 3").holds(3) && c("<> 3").holds(4));
        assert_eq!(c(" >=  7 ").to_string(), ">= 7");
        for bad in ["", "0", "> x", "~ 3", ">= 1.5"] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dbt_rule_for_severity() {
        let (e, w) = (c("> 10"), c("!= 0"));
        assert_eq!(verdict(true, e, w, 0), Verdict::Pass);
        assert_eq!(verdict(true, e, w, 3), Verdict::Warn(w));
        assert_eq!(verdict(true, e, w, 11), Verdict::Error(e));
        // A `warn` test never errors, whatever error_if says.
        assert_eq!(verdict(false, e, w, 11), Verdict::Warn(w));
    }
}
