//! `calc-cli OP A B`: prints the result; exit code 2 on bad usage.

use std::process::ExitCode;

fn run(args: &[String]) -> Result<i64, String> {
    let [op, a, b] = args else {
        return Err("usage: calc-cli OP A B".to_string());
    };
    let f = calc::op(op).ok_or_else(|| format!("unknown operation `{op}`"))?;
    let num = |s: &String| s.parse::<i64>().map_err(|_| format!("not a number: `{s}`"));
    Ok(f(num(a)?, num(b)?))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("calc-cli: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_add_args() {
        let args = ["add", "2", "3"].map(String::from);
        assert_eq!(super::run(&args), Ok(5));
    }
}
