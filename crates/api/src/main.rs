use anyhow::Context;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!(
            "api: the AI receptionist's booking backend. Configured by environment variables:\n"
        );
        for (name, what) in api::config::VARIABLES {
            println!("  {name:<28} {what}");
        }
        println!(
            "\n`api rotate-key` re-encrypts every tenant's Twilio credentials from the key in\n\
             MASTER_KEY_PREVIOUS (exactly one) to MASTER_KEY, in one transaction, then exits.\n\
             It needs only DATABASE_URL, MASTER_KEY and MASTER_KEY_PREVIOUS."
        );
        return Ok(());
    }
    if std::env::args().nth(1).as_deref() == Some("rotate-key") {
        return rotate_key();
    }
    let config = match api::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    api::logging::init(if config.log_json {
        api::logging::LogFormat::Json
    } else {
        api::logging::LogFormat::Text
    });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(async {
            let running = api::server::start(config).await?;
            running.wait().await;
            tracing::info!("stopped");
            Ok(())
        })
}

/// `api rotate-key`: re-encrypts the stored Twilio credentials under `MASTER_KEY`. The operator
/// first deploys with the new key in `MASTER_KEY` and the old one in `MASTER_KEY_PREVIOUS` (the
/// servers then read both), runs this once, and finally drops `MASTER_KEY_PREVIOUS`.
fn rotate_key() -> anyhow::Result<()> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .with_context(|| format!("{name} is not set"))
    };
    let url = var("DATABASE_URL")?;
    let new = booking_postgres::MasterKey::parse(&var("MASTER_KEY")?)
        .map_err(|e| anyhow::anyhow!("MASTER_KEY: {e}"))?;
    let previous = var("MASTER_KEY_PREVIOUS")?;
    let olds: Vec<&str> = previous
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    let [old] = olds.as_slice() else {
        anyhow::bail!(
            "MASTER_KEY_PREVIOUS must hold exactly one key (the one being replaced), not {}",
            olds.len()
        );
    };
    let old = booking_postgres::MasterKey::parse(old)
        .map_err(|e| anyhow::anyhow!("MASTER_KEY_PREVIOUS: {e}"))?;
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(booking_postgres::rotate_key(&url, &old, &new))
        .map_err(|e| anyhow::anyhow!("rotation failed, nothing was changed: {e}"))?;
    println!(
        "re-encrypted {} tenants' credentials from key {} to key {} ({} already under it)",
        report.rotated,
        old.id(),
        new.id(),
        report.already_current
    );
    Ok(())
}
