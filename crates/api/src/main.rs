use anyhow::Context;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!(
            "api: the AI receptionist's booking backend. Configured by environment variables:\n"
        );
        for (name, what) in api::config::VARIABLES {
            println!("  {name:<28} {what}");
        }
        return Ok(());
    }
    let config = match api::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    api::logging::init(config.log_json);
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
