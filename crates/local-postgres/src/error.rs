//! Why a cluster could not be set up or used.

use std::fmt;

/// Why a cluster could not be set up or used.
#[derive(Debug)]
pub struct Error {
    message: String,
    sqlstate: Option<String>,
    source: Option<std::io::Error>,
}

impl Error {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            sqlstate: None,
            source: None,
        }
    }
    pub(super) fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self {
            message: message.into(),
            sqlstate: None,
            source: Some(source),
        }
    }
    pub(super) fn server(sqlstate: String, message: String) -> Self {
        Self {
            message,
            sqlstate: Some(sqlstate),
            source: None,
        }
    }
    /// The SQLSTATE, when the server refused a statement.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.sqlstate {
            write!(f, " (SQLSTATE {s})")?;
        }
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
