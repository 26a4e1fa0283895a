//! Structured logs (text or JSON) with a last line of defence: every line passes through a writer
//! that masks anything shaped like a phone number, whatever code produced it.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Masks `+` followed by 8..=15 digits (E.164) down to its last four digits.
pub fn mask_phone_numbers(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if (8..=15).contains(&digits) {
                out.push('+');
                out.extend(std::iter::repeat_n('*', digits - 4));
                out.push_str(&line[i + 1 + digits - 4..i + 1 + digits]);
                i += 1 + digits;
                continue;
            }
        }
        let ch = line[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A writer that masks each buffer before it reaches the real output.
pub struct MaskingWriter<W: Write> {
    inner: W,
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner.write_all(mask_phone_numbers(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Clone, Copy, Default)]
pub struct MaskingStderr;

impl<'a> MakeWriter<'a> for MaskingStderr {
    type Writer = MaskingWriter<io::Stderr>;
    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter {
            inner: io::stderr(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line (production).
    Json,
    /// Human-readable lines.
    Text,
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskingStderr)
        .with_target(false)
        // Colours for a terminal only: a file or a log collector gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = if format == LogFormat::Json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests starting several servers) keeps the first subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_and_keeps_the_rest() {
        assert_eq!(
            mask_phone_numbers("sent to +19254207621 at 10:00, code ok"),
            "sent to +*******7621 at 10:00, code ok"
        );
        assert_eq!(
            mask_phone_numbers("\"to\":\"+447700900123\""),
            "\"to\":\"+********0123\""
        );
        assert_eq!(
            mask_phone_numbers("+1234 and 1+1=2 and é+"),
            "+1234 and 1+1=2 and é+"
        );
    }
}
