//! `skillos`: see [`skillos::cli`].

fn main() -> std::process::ExitCode {
    skillos::cli::main()
}
