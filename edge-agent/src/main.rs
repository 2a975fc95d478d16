//! `edge-agent run` and `edge-agent ctl`; see `edge_agent::cli`.

fn main() -> std::process::ExitCode {
    edge_agent::cli::main()
}
