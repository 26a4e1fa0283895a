//! A clinic: who it is, where its clock is, what it offers, when it is open, and how it texts.

mod config;
mod hours;
mod names;
mod rules;
mod sms;

pub use config::{CalledNumber, SmsHealth, SystemPrompt, Tenant, TenantConfig};
pub use hours::{ClinicZone, DateOverride, DayHours, OpenRange, WeeklyHours};
pub use names::{ClinicName, Service, ServiceName};
pub use rules::{BookingRules, HotLeadThreshold, Minutes};
pub use sms::{KeywordReplies, Secret, SmsAccount, SmsSender};
