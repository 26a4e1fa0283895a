//! Printing what the assistant said and what was texted.

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::script::HOSTILE_PROMPT;
use crate::http::truncate;

/// What the model would say of a tool's message: the sentences meant for the model itself
/// ("call verify_otp with it", "Ask the caller to …") are left out.
pub(super) fn spoken_part(message: &str) -> String {
    let for_the_model = |s: &str| {
        s.split_whitespace()
            .any(|w| w.contains('_') && w.chars().any(|c| c.is_ascii_lowercase()))
            || s.trim_start().starts_with("Ask the caller")
    };
    let kept: Vec<&str> = message
        .split_inclusive(". ")
        .filter(|s| !for_the_model(s))
        .map(str::trim)
        .collect();
    if kept.is_empty() {
        message.to_owned()
    } else {
        kept.join(" ")
    }
}

pub(super) fn show_assistant(reply: &Value, hostile: bool) -> Result<()> {
    println!("   Vapi → assistant-request");
    if let Some(err) = reply.get("error").and_then(Value::as_str) {
        bail!("the api refused the call: {err}");
    }
    let assistant = reply.get("assistant").ok_or_else(|| {
        anyhow!(
            "no assistant in the reply: {}",
            truncate(&reply.to_string(), 300)
        )
    })?;
    let tools: Vec<&str> = assistant
        .pointer("/model/tools")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    t.pointer("/function/name")
                        .or_else(|| t.get("name"))
                        .and_then(Value::as_str)
                })
                .collect()
        })
        .unwrap_or_default();
    let system: String = assistant
        .pointer("/model/messages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
                .filter_map(|m| m.get("content").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    println!(
        "      ← an assistant with {} tools: {}",
        tools.len(),
        tools.join(", ")
    );
    println!(
        "        system prompt: {} characters; it ends with: {:?}",
        system.chars().count(),
        tail(&system, 160)
    );
    if hostile {
        match system.find(HOSTILE_PROMPT) {
            Some(at) => {
                let after = system[at + HOSTILE_PROMPT.len()..].chars().count();
                println!(
                    "        the tenant's hostile text is in the prompt, followed by {after} characters of our booking protocol"
                );
                if after == 0 {
                    bail!("the tenant's prompt comes last: nothing of the protocol follows it");
                }
            }
            None => {
                println!("        the tenant's hostile text is not quoted verbatim in the prompt")
            }
        }
        for needed in [
            "check_availability",
            "reserve_slot",
            "send_otp",
            "verify_otp",
            "send_confirmation_sms",
            "capture_lead",
        ] {
            if !tools.contains(&needed) {
                bail!("the hostile prompt took the tool {needed} away");
            }
        }
    }
    println!();
    Ok(())
}

pub(super) fn section(title: &str) {
    println!();
    println!("── {title} ──");
    println!();
}

pub(super) fn tail(s: &str, n: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let count = one_line.chars().count();
    if count <= n {
        one_line
    } else {
        let t: String = one_line.chars().skip(count - n).collect();
        format!("…{t}")
    }
}

pub(super) fn spoken_or(spoken: &str, start: &str) -> String {
    if spoken.is_empty() {
        start.to_owned()
    } else {
        spoken.to_owned()
    }
}

/// The code in a text: the first run of 4 to 10 digits after the word "code", in a text that
/// has that word.
pub(super) fn find_code(body: &str) -> Option<String> {
    let at = body.to_ascii_lowercase().find("code")?;
    body[at..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| (4..=10).contains(&run.len()))
        .map(str::to_owned)
}

pub(super) fn spell(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(" ")
}
