use std::fmt;

/// A value from outside (a request, a tool argument, a row) that is not what its type allows.
/// The message is written to be read by a person: an operator, or the model that passed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    what: &'static str,
    problem: String,
}

impl ParseError {
    pub fn new(what: &'static str, problem: impl Into<String>) -> Self {
        Self {
            what,
            problem: problem.into(),
        }
    }
    /// The kind of value: "phone number", "time zone"...
    pub fn what(&self) -> &'static str {
        self.what
    }
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.what, self.problem)
    }
}
