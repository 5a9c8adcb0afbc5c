use std::process::ExitCode;

// Compiling a large project makes millions of small, short-lived
// allocations from two threads; glibc's allocator spent about a seventh of a
// 10,000-model compile in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack of every thread that compiles. The SQL and Jinja checks refuse
/// input nested deeper than a 2 MiB stack holds; this is the guard behind
/// them, for whatever recursion they do not foresee. Untouched stack pages
/// cost no memory.
const STACK: usize = 256 << 20;

fn main() -> ExitCode {
    // Fails only if the pool was built already, which nothing before this does.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK)
        .build_global();
    let args: Vec<_> = std::env::args_os().collect();
    let status = match std::thread::Builder::new()
        .name("stackc".into())
        .stack_size(STACK)
        .spawn(move || stackc::cli::run(args))
    {
        // A panic has printed its message already: an internal failure.
        Ok(worker) => worker
            .join()
            .unwrap_or(stackc::exit_status::ExitStatus::Error),
        Err(_) => stackc::cli::run(std::env::args_os()),
    };
    status.into()
}
