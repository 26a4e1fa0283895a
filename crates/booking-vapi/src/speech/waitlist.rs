//! `join_waitlist` said to the model.

use super::*;

fn spoken_day(d: jiff::civil::Date) -> String {
    d.strftime("%A %B %-d").to_string()
}

impl Speak for JoinOutcome {
    fn speak(&self, _zone: &ClinicZone) -> ToolResult {
        match self {
            Self::Joined {
                entry,
                service,
                from,
                to,
                provider,
                part_of_day,
            } => {
                let days = if from == to {
                    format!("on {}", spoken_day(*from))
                } else {
                    format!("between {} and {}", spoken_day(*from), spoken_day(*to))
                };
                let with = provider
                    .as_ref()
                    .map(|p| format!(" with {p}"))
                    .unwrap_or_default();
                let part = part_of_day
                    .map(|p| format!(", in the {}", p.as_str()))
                    .unwrap_or_default();
                let r = done(
                    "waitlisted",
                    format!(
                        "The caller is on the waitlist for {service}{with} {days}{part}. If a time like that frees up, \
                         they get a text with a link to claim it; the first to claim it gets it. Tell them so."
                    ),
                )
                .field("waitlist_id", entry)
                .field("from_date", from.to_string())
                .field("to_date", to.to_string());
                match provider {
                    Some(p) => r.field("provider", p.as_str()),
                    None => r,
                }
            }
            Self::Refused(why) => refused(
                match why {
                    JoinWaitlistRefusal::UnknownService(u) => unknown_service(u),
                    JoinWaitlistRefusal::NoCallerName => {
                        "I need the caller's name to put them on the waitlist; ask for it and call join_waitlist again.".into()
                    }
                    JoinWaitlistRefusal::HiddenNumber => {
                        "The caller's number is hidden, and the waitlist texts the number the caller is calling from; offer to take a message with capture_lead instead.".into()
                    }
                    JoinWaitlistRefusal::DaysOutOfOrder => {
                        "to_date is before from_date; ask the caller for the first and the last day they could come.".into()
                    }
                    JoinWaitlistRefusal::DaysPast { today } => format!(
                        "Those days are over; today is {}. Ask which coming days suit the caller.",
                        spoken_day(*today)
                    ),
                    JoinWaitlistRefusal::BeyondHorizon { last } => format!(
                        "The clinic books only up to {}; ask for days before then.",
                        spoken_day(*last)
                    ),
                    JoinWaitlistRefusal::Provider(p) => provider_problem(p),
                    JoinWaitlistRefusal::AlreadyWaiting => {
                        "The caller is already on the waitlist for this service on some of those days; tell them they will get a text if a time frees up.".into()
                    }
                    JoinWaitlistRefusal::TooManyEntries { max } => format!(
                        "The caller is already on the waitlist {max} times, which is as many as we keep; they will get a text if a time frees up."
                    ),
                },
                &[],
            ),
        }
    }
}
