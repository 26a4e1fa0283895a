//! Applies the embedded migrations to `DATABASE_URL`. Built and run by `cargo xtask migrate`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("xtask-migrate: DATABASE_URL is not set");
        return ExitCode::FAILURE;
    };
    match booking_postgres::run_migrations_blocking(&url) {
        Ok(applied) if applied.is_empty() => {
            eprintln!(
                "    the schema is up to date ({} migrations)",
                booking_postgres::migration_versions().len()
            );
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for version in &applied {
                eprintln!("    applied {version}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask-migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
