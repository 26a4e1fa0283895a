//! The HTTP service. `main.rs` reads the configuration and starts it; tests start it the same way
//! on a free port.

pub mod auth;
pub mod cached_tenants;
pub mod calendar_sync;
pub mod call_tenant;
pub mod config;
pub mod dashboard;
pub mod end_of_call;
pub mod error;
pub mod gateway;
pub mod held_reports;
pub mod http;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod patient;
pub mod server;
pub mod state;
pub mod tenant_dto;
pub mod tool_calls;
