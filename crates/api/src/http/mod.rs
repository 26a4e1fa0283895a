//! Routes. Each module is a thin translation between HTTP and the domain service.

pub mod admin;
pub mod health;
