use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: glibc keeps what a burst freed (the readiness of every
/// service computed at once) in its per-thread arenas, so an idle server stayed at its peak;
/// mimalloc gives freed pages back (docs/performance.md has the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = preflight::cli::Cli::parse();
    // One TLS crypto provider for the whole process (native TLS, PostgreSQL TLS): aws-lc-rs.
    // Several crates in the tree could bring their own, so rustls cannot pick one by itself.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(preflight::cli::run(cli));
    // Bounded: dropping the runtime waits for every task, and a task that never stops (seen
    // once: a database pool's maintenance task spinning after `backup verify`, its timers gone
    // with the runtime) must not keep a finished command from exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}
