use std::process::ExitCode;

// Compiling a large project makes millions of small, short-lived
// allocations from two threads; glibc's allocator spent about a seventh of a
// 10,000-model compile in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    stackc::cli::run(std::env::args_os()).into()
}
