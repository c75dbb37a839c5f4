//! `big-app`: exercises the whole graph and prints a deterministic report.

use clap::Parser;

/// Command line of big-app.
#[derive(Debug, Parser)]
#[command(name = "big-app", about = "prints a deterministic report")]
struct Cli {
    /// Text to process.
    #[arg(long, default_value = "alpha-1 beta-22 gamma-333 alpha-4 the quick brown fox jumps over the lazy dog")]
    text: String,
    /// How many times the text is repeated before compression.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!("big-app report");
    for line in big_core::report(&cli.text)? {
        println!("{line}");
    }
    let repeated = vec![cli.text.as_str(); cli.repeat].join(" ");
    for line in big_codec::report(&repeated)? {
        println!("{line}");
    }
    let summary = serde_json::json!({ "repeat": cli.repeat, "chars": repeated.len() });
    println!("summary: {summary}");
    Ok(())
}
