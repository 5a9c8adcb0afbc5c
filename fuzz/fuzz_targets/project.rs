//! A whole project through `stackc::compile`. The input is split at lines
//! `====` into the files below, in this order; missing parts are left out.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const FILES: &[&str] = &[
    "stackc.toml",
    "models/staging/stg_a.sql",
    "models/marts/mart_b.sql",
    "models/staging/_schema.yml",
    "macros/m.sql",
    "seeds/codes.csv",
    "migrations/V1__raw.sql",
    "tests/t.sql",
];

fuzz_target!(|text: &str| {
    let dir = common::scratch();
    for (part, path) in text.split("\n====\n").zip(FILES) {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&target, part).expect("write a project file");
    }
    let compilation = stackc::compile(&dir);
    let files = &compilation.files;
    common::check_all(&compilation.diagnostics, &|f| {
        files.get(f).map(str::to_string)
    });
});
