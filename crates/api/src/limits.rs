//! Request body limits, shared by the server's defaults and the routes that need more.

/// Request bodies: Vapi's end-of-call reports carry whole transcripts.
pub const VAPI_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Everything else.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;
