//! `cargo xtask call`: one whole phone call played against the running dev server, as Vapi
//! would send it: the assistant-request, the model's tool calls, the end-of-call report. Then
//! the texts the caller and the owner got, read back from the SMS stand-in.

mod dev;
mod script;
mod show;
#[cfg(test)]
mod tests;

pub use script::{Options, run};
