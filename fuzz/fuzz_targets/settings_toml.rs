//! `stackc.toml`, any bytes (not only UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    std::fs::write(dir.join("stackc.toml"), data).expect("write stackc.toml");
    if let Err((diagnostics, files)) = stackc::project::load_settings(&dir) {
        common::check_all(&diagnostics, &|f| files.get(f).map(str::to_string));
    }
});
