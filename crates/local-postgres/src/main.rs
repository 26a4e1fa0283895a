//! `local-postgres ephemeral`: starts a throwaway cluster, prints its URL and data directory,
//! and keeps it until standard input closes (or this process dies).
//! `local-postgres ensure DATA_DIR PORT`: starts (or finds) a persistent cluster and prints its URL.

use std::io::Read;
use std::process::ExitCode;

use local_postgres::Cluster;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ephemeral"] => Cluster::ephemeral().map(|cluster| {
            println!("url {}", cluster.url("postgres"));
            println!("data {}", cluster.data_dir().display());
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            drop(cluster);
        }),
        ["ensure", dir, port] => match port.parse::<u16>() {
            Ok(port) => Cluster::ensure(dir, port)
                .map(|cluster| println!("url {}", cluster.url("postgres"))),
            Err(_) => {
                eprintln!("PORT must be a number from 1 to 65535");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: local-postgres ephemeral | local-postgres ensure DATA_DIR PORT");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-postgres: {e}");
            ExitCode::FAILURE
        }
    }
}
