use std::process::ExitCode;

fn main() -> ExitCode {
    let code = stackc::cli::run(std::env::args_os());
    ExitCode::from(code)
}
