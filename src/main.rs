use clap::Parser as _;

fn main() -> std::process::ExitCode {
    ragc::cli::run(ragc::cli::Cli::parse())
}
