//! The `relais` binary; see [`relais::cli`].

fn main() -> std::process::ExitCode {
    relais::cli::main()
}
