//! Tests of `modules` (re, itertools, datetime).

use super::*;
use minijinja::Environment;

fn render(src: &str) -> Result<String, String> {
    let mut env = Environment::new();
    env.add_global("modules", Value::from_object(Modules));
    env.render_str(src, ()).map_err(|e| e.to_string())
}

#[test]
fn re_does_what_packages_ask_of_it() {
    assert_eq!(
        render("{{ modules.re.sub('[ -]+', '_', 'a b-c') }}").unwrap(),
        "a_b_c"
    );
    assert_eq!(
        render(r"{{ modules.re.sub('(\\w+)@(\\w+)', '\\2 at \\1', 'me@host') }}").unwrap(),
        "host at me"
    );
    assert_eq!(
        render("{{ modules.re.findall('[0-9]+', 'a1b22c333') | join(',') }}").unwrap(),
        "1,22,333"
    );
    assert_eq!(
        render("{{ 'y' if modules.re.match('a', 'ba') else 'n' }}{{ modules.re.search('a(.)', 'bab').group(1) }}").unwrap(),
        "nb"
    );
    assert_eq!(
        render("{{ modules.re.split(',\\s*', 'a, b,c') | join('|') }}").unwrap(),
        "a|b|c"
    );
    assert_eq!(render("{{ modules.re.escape('a.b') }}").unwrap(), "a\\.b");
}

#[test]
fn datetime_builds_and_formats_dates_without_the_clock() {
    assert_eq!(
        render("{{ modules.datetime.date(1997, 9, 29) }}").unwrap(),
        "1997-09-29"
    );
    assert_eq!(
        render("{{ modules.datetime.datetime(1997, 9, 29, 6, 14) }}").unwrap(),
        "1997-09-29 06:14:00"
    );
    assert_eq!(
        render("{{ modules.datetime.date(2024, 2, 29).strftime('%A %d %B %Y, day %j') }}").unwrap(),
        "Thursday 29 February 2024, day 060"
    );
    assert_eq!(
        render("{% set d = modules.datetime.datetime.strptime('2024-03-01', '%Y-%m-%d') %}{{ d.year }}/{{ d.month }} {{ d.isoformat() }}").unwrap(),
        "2024/3 2024-03-01T00:00:00"
    );
    assert!(render("{{ modules.datetime.date(2023, 2, 29) }}").is_err());
    assert!(render("{{ modules.datetime.datetime.now() }}").is_err());
}

#[test]
fn itertools_gives_lists() {
    assert_eq!(
        render("{{ modules.itertools.chain([1, 2], [3]) | join(',') }}").unwrap(),
        "1,2,3"
    );
    assert_eq!(
        render("{% for a, b in modules.itertools.product(['x', 'y'], [1, 2]) %}{{ a }}{{ b }} {% endfor %}").unwrap(),
        "x1 x2 y1 y2 "
    );
    assert_eq!(
        render("{{ modules.itertools.combinations([1, 2, 3], 2) | length }}").unwrap(),
        "3"
    );
}

#[test]
fn python_patterns_the_engine_spells_differently() {
    let cases = [
        // A `{` that opens no repetition is a literal, as in Python.
        (r"{{ modules.re.search('({{\\s*ref)', 'from {{ ref(x) }}').group(1) }}", "{{ ref"),
        (r"{{ modules.re.sub('a{2}', 'b', 'aaa') }}", "ba"),
        // Case folding, and verbose mode keeps `\s` matching a space.
        (r"{{ modules.re.search('(?i)WITH\\s', 'with x').group(0) }}|", "with |"),
        (
            "{{ modules.re.search('(?x)\n  # a comment [ with { brackets\n  (from)\\s+(\\w+)', 'select from t').group(2) }}",
            "t",
        ),
        (r"{{ modules.re.findall('[\\w.]+', 'a.b c') | join('|') }}", "a.b|c"),
    ];
    for (src, want) in cases {
        assert_eq!(render(src).as_deref(), Ok(want), "{src}");
    }
}
