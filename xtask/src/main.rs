fn main() -> anyhow::Result<()> {
    anyhow::bail!("usage: cargo xtask <dev|call|test|migrate|db|bench>")
}
