//! A provider's own calendar in the operator API: `"calendar": {"url", "username", "password"}`
//! or `{"url", "token"}` in `POST`/`PATCH /admin/tenants`, `null` to unlink; `GET` shows the
//! address, the sync health and the last sync, never the credentials.

use booking_core::outside_calendar::{
    CalendarCredentials, CalendarLink, CalendarStatus, CalendarUrl,
};
use booking_core::provider::ProviderId;
use booking_core::tenant::{ClinicZone, TenantConfig};
use booking_core::{CalendarId, TenantId};
use serde::{Deserialize, Serialize};

use super::fields::FieldErrors;

/// A provider's calendar as the operator sends it. The credentials are never serialised back,
/// nor printed.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarJson {
    /// The calendar collection's address (HTTPS; plain HTTP only to this machine).
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// A bearer token, instead of a username and password.
    #[serde(default)]
    pub token: Option<String>,
    /// Shown by `GET` and ignored here, so that a provider read back can be sent back as it is
    /// (with no credentials and the same `url`, the link is kept).
    #[serde(default)]
    pub sync_health: Option<serde_json::Value>,
    #[serde(default)]
    pub sync_message: Option<serde_json::Value>,
    #[serde(default)]
    pub last_synced_at: Option<serde_json::Value>,
}

impl std::fmt::Debug for CalendarJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarJson")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What `GET` shows of a provider's calendar link.
#[derive(Debug, Serialize)]
pub struct CalendarView {
    pub url: String,
    /// `ok`, `not_synced_yet`, `unreachable`, `wrong_credentials`, `not_found` or `bad_data`.
    pub sync_health: &'static str,
    /// The health in words, as the owner reads it.
    pub sync_message: String,
    /// When the last sync that worked finished (RFC 3339), `null` before the first.
    pub last_synced_at: Option<String>,
}

impl From<&CalendarStatus> for CalendarView {
    fn from(s: &CalendarStatus) -> Self {
        Self {
            url: s.url.to_string(),
            sync_health: s.health.kind(),
            sync_message: s.health.owner_words(),
            last_synced_at: s.last_synced_at.map(|t| t.to_string()),
        }
    }
}

/// A provider's calendar field as read, before it is matched with the provider's link.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CalendarEdit {
    Link(CalendarUrl, CalendarCredentials),
    /// An address without credentials: the link as it is, if it is to that address.
    Keep(CalendarUrl),
    Unlink,
}

/// The calendar fields of a provider list, read and checked, by position in the list.
#[derive(Debug, Default)]
pub struct CalendarEdits(Vec<(usize, CalendarEdit)>);

/// What to do to the links once the clinic is saved.
#[derive(Debug, PartialEq, Eq)]
pub enum CalendarChange {
    Link(CalendarLink),
    Unlink {
        tenant: TenantId,
        calendar: CalendarId,
    },
}

impl CalendarEdits {
    /// Reads every `providers[i].calendar` (given in the list's order: absent, nothing to do;
    /// `null`, unlink), reporting bad ones in `errs`.
    pub fn read<'a>(
        errs: &mut FieldErrors,
        calendars: impl IntoIterator<Item = Option<&'a Option<CalendarJson>>>,
    ) -> Self {
        let mut out = Vec::new();
        for (i, calendar) in calendars.into_iter().enumerate() {
            let field = |name: &str| format!("providers[{i}].calendar{name}");
            match calendar {
                None => {}
                Some(None) => out.push((i, CalendarEdit::Unlink)),
                Some(Some(c)) => {
                    let url = errs.parse(field(".url"), CalendarUrl::parse(&c.url));
                    let given = [&c.username, &c.password, &c.token]
                        .iter()
                        .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()));
                    if !given {
                        if let Some(url) = url {
                            out.push((i, CalendarEdit::Keep(url)));
                        }
                        continue;
                    }
                    let credentials = errs.parse(
                        field(""),
                        CalendarCredentials::parse(
                            c.username.as_deref(),
                            c.password.as_deref(),
                            c.token.as_deref(),
                        ),
                    );
                    if let (Some(url), Some(credentials)) = (url, credentials) {
                        out.push((i, CalendarEdit::Link(url, credentials)));
                    }
                }
            }
        }
        Self(out)
    }

    /// The changes to make, once `config` (the clinic as it will be saved: its providers in
    /// the order of the list, then the retired ones) is known. `linked` is the provider's
    /// current link, if any. An address without credentials must be the current link's.
    pub fn changes(
        self,
        tenant: TenantId,
        config: &TenantConfig,
        linked: impl Fn(ProviderId) -> Option<CalendarStatus>,
    ) -> Result<Vec<CalendarChange>, FieldErrors> {
        let mut errs = FieldErrors::default();
        let mut out = Vec::new();
        for (i, edit) in self.0 {
            let Some(provider) = config.providers.get(i) else {
                errs.push(format!("providers[{i}].calendar"), "names no provider");
                continue;
            };
            match edit {
                CalendarEdit::Unlink => out.push(CalendarChange::Unlink {
                    tenant,
                    calendar: provider.id,
                }),
                CalendarEdit::Keep(url) => {
                    if linked(provider.id).is_none_or(|s| s.url != url) {
                        errs.push(
                            format!("providers[{i}].calendar"),
                            "a calendar address needs its username and password, or a token",
                        );
                    }
                }
                CalendarEdit::Link(url, credentials) => out.push(CalendarChange::Link(link(
                    tenant,
                    provider.id,
                    url,
                    credentials,
                    &config.zone,
                ))),
            }
        }
        if errs.0.is_empty() {
            Ok(out)
        } else {
            Err(errs)
        }
    }
}

fn link(
    tenant: TenantId,
    calendar: CalendarId,
    url: CalendarUrl,
    credentials: CalendarCredentials,
    zone: &ClinicZone,
) -> CalendarLink {
    CalendarLink {
        tenant,
        calendar,
        url,
        credentials,
        zone: zone.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant_dto::fields::double_option;
    use serde::Deserialize;

    /// A provider's calendar field, as the provider list carries it.
    #[derive(Deserialize)]
    struct Provider {
        #[serde(default, deserialize_with = "double_option")]
        calendar: Option<Option<CalendarJson>>,
    }

    fn read(json: &str) -> (CalendarEdits, FieldErrors) {
        let list: Vec<Provider> = serde_json::from_str(json).expect("json");
        let mut errs = FieldErrors::default();
        let edits = CalendarEdits::read(&mut errs, list.iter().map(|p| p.calendar.as_ref()));
        (edits, errs)
    }

    #[test]
    fn https_or_loopback_with_a_password_pair_or_a_token() {
        let (edits, errs) = read(
            r#"[{"calendar": {"url": "https://cal.example.com/dav/a/", "username": "a", "password": "pw"}},
                {"calendar": {"url": "http://127.0.0.1:5232/b/work/", "token": "t0k"}},
                {"calendar": null},
                {},
                {"calendar": {"url": "https://cal.example.com/dav/e/", "sync_health": "ok", "last_synced_at": null}}]"#,
        );
        assert!(errs.0.is_empty(), "{errs:?}");
        assert_eq!(edits.0.len(), 4);
        assert!(matches!(
            edits.0[0].1,
            CalendarEdit::Link(_, CalendarCredentials::Password { .. })
        ));
        assert!(matches!(
            edits.0[1].1,
            CalendarEdit::Link(_, CalendarCredentials::Token(_))
        ));
        assert_eq!(edits.0[2], (2, CalendarEdit::Unlink));
        assert!(matches!(edits.0[3], (4, CalendarEdit::Keep(_))));
    }

    #[test]
    fn bad_calendars_are_named_by_field() {
        let (_, errs) = read(
            r#"[{"calendar": {"url": "http://cal.example.com/a/", "username": "a", "password": "pw"}},
                {"calendar": {"url": "https://cal.example.com/b/", "username": "b"}},
                {"calendar": {"url": "https://cal.example.com/c/", "username": "c", "password": "p", "token": "t"}},
                {"calendar": {"url": "https://u:p@cal.example.com/d/", "token": "t"}}]"#,
        );
        let fields: Vec<(&str, &str)> = errs
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(fields.len(), 4, "{fields:?}");
        assert_eq!(fields[0].0, "providers[0].calendar.url");
        assert!(fields[0].1.contains("https"), "{fields:?}");
        assert_eq!(fields[1].0, "providers[1].calendar");
        assert!(fields[1].1.contains("password"), "{fields:?}");
        assert_eq!(fields[2].0, "providers[2].calendar");
        assert_eq!(fields[3].0, "providers[3].calendar.url");
        let unknown = serde_json::from_str::<Vec<Provider>>(
            r#"[{"calendar": {"url": "https://x.example/", "secret": "s"}}]"#,
        );
        assert!(unknown.is_err());
    }
}
