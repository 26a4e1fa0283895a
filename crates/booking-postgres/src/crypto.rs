//! Twilio secrets at rest: XChaCha20-Poly1305 under the operator's master key, a random 24-byte
//! nonce per write, and the row's identity (tenant, account SID, API key SID) as associated
//! data, so that a ciphertext moved to another row does not decrypt. Each row names the key it
//! is under (`key_id`), so keys can rotate: [`rotate_key`] re-encrypts every row.

use std::fmt;

use base64::Engine as _;
use booking_core::TenantId;
use booking_core::ports::StoreError;
use booking_core::tenant::Secret;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::error::Fail;
use crate::schema::tenant_sms_credentials as cred;

/// The operator's master key: 32 bytes and an id naming it in every row it encrypts.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

/// Why a master key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the master key must be 64 hex characters or the base64 of 32 bytes, optionally prefixed by `id:`"
    )]
    Format,
    #[error("a key id is 1 to 32 characters from A-Z, a-z, 0-9, '-' and '_'")]
    Id,
}

impl MasterKey {
    /// Parses `[id:]key`, the key being 64 hex characters or the base64 (standard or URL-safe,
    /// padded or not) of 32 bytes. Without an id, the id is derived from the key (`k` and 8 hex
    /// characters of a hash of it), so the same key always has the same id.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let (id, material) = match s.split_once(':') {
            Some((id, material)) => (Some(id), material),
            None => (None, s),
        };
        let key = decode_key(material.trim()).ok_or(KeyError::Format)?;
        match id {
            Some(id) => Self::from_bytes(id, key),
            None => Ok(Self::with_derived_id(key)),
        }
    }

    /// A key from its bytes and an explicit id.
    pub fn from_bytes(id: &str, key: [u8; 32]) -> Result<Self, KeyError> {
        let valid = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(KeyError::Id);
        }
        Ok(Self {
            id: id.to_owned(),
            key,
        })
    }

    /// A new random key (for `cargo xtask` to hand to an operator, and for tests).
    pub fn generate() -> Self {
        let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        Self::with_derived_id(key)
    }

    fn with_derived_id(key: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"booking-postgres master key id\0")
            .chain_update(key)
            .finalize();
        let id = format!("k{}", hex(&digest[..4]));
        Self { id, key }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key in the form [`MasterKey::parse`] reads (`id:` and 64 hex characters). This is
    /// the secret itself: for printing a newly generated key to the operator, nothing else.
    pub fn export(&self) -> String {
        format!("{}:{}", self.id, hex(&self.key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.key).into())
    }

    /// Seals `plain` for a short trip through a browser (a form's hidden field) and back:
    /// XChaCha20-Poly1305 under this key with a random nonce, bound to `purpose` (associated
    /// data), as URL-safe base64. What it holds cannot be read or changed on the way.
    pub fn seal_note(&self, purpose: &[u8], plain: &[u8]) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = note_aad(purpose);
        // Encryption into a Vec cannot fail for inputs this small.
        let ciphertext = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What [`MasterKey::seal_note`] sealed for `purpose` under this key; `None` for anything
    /// else (changed, sealed for another purpose or under another key, not a note at all).
    pub fn open_note(&self, purpose: &[u8], text: &str) -> Option<Vec<u8>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let aad = note_aad(purpose);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }
}

fn note_aad(purpose: &[u8]) -> Vec<u8> {
    let mut aad = b"booking-postgres/note/v1\0".to_vec();
    aad.extend_from_slice(purpose);
    aad
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, ***)", self.id)
    }
}

impl std::str::FromStr for MasterKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_key(s: &str) -> Option<[u8; 32]> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut key = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            key[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        return Some(key);
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
}

/// The keys a store can use: the current one encrypts; older ones still decrypt (during a
/// rotation, until every row is re-encrypted).
#[derive(Clone, Debug)]
pub(crate) struct Keyring {
    pub(crate) current: MasterKey,
    pub(crate) previous: Vec<MasterKey>,
}

impl Keyring {
    /// Every key, the current one first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The ids of every key, comma-separated (ids never hold a comma), for SQL.
    pub(crate) fn ids_csv(&self) -> String {
        self.all()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

/// The secret half of an SMS account, as encrypted.
#[derive(serde::Serialize, serde::Deserialize)]
struct SecretFields {
    auth_token: String,
    api_key_secret: Option<String>,
}

/// What identifies a credentials row; bound to its ciphertext as associated data.
#[derive(Clone, Copy)]
pub(crate) struct RowIdentity<'a> {
    pub(crate) tenant: TenantId,
    pub(crate) account_sid: &'a str,
    pub(crate) api_key_sid: Option<&'a str>,
}

impl RowIdentity<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"booking-postgres/tenant_sms_credentials/v1\0".to_vec();
        aad.extend_from_slice(self.tenant.as_uuid().as_bytes());
        aad.extend_from_slice(self.account_sid.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.api_key_sid.unwrap_or("").as_bytes());
        aad
    }
}

pub(crate) struct Sealed {
    pub(crate) key_id: String,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

pub(crate) fn seal_secrets(
    key: &MasterKey,
    row: &RowIdentity<'_>,
    auth_token: &Secret,
    api_key_secret: Option<&Secret>,
) -> Result<Sealed, StoreError> {
    let plain = serde_json::to_vec(&SecretFields {
        auth_token: auth_token.expose().to_owned(),
        api_key_secret: api_key_secret.map(|s| s.expose().to_owned()),
    })
    .map_err(|e| StoreError::Internal(format!("could not encode credentials: {e}")))?;
    seal(key, row, &plain)
}

fn seal(key: &MasterKey, row: &RowIdentity<'_>, plain: &[u8]) -> Result<Sealed, StoreError> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = row.aad();
    let ciphertext = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| StoreError::Internal("could not encrypt credentials".into()))?;
    Ok(Sealed {
        key_id: key.id.clone(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

fn open(
    key: &MasterKey,
    row: &RowIdentity<'_>,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    if nonce.len() != 24 {
        return Err(StoreError::Internal(
            "stored credentials have a malformed nonce".into(),
        ));
    }
    let aad = row.aad();
    key.cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
        .map_err(|_| {
            StoreError::Internal(format!(
                "stored credentials of tenant {} do not decrypt under master key {} (wrong key, or a tampered row)",
                row.tenant, key.id
            ))
        })
}

/// Decrypts a row's secrets: (auth token, API key secret).
pub(crate) fn open_secrets(
    keys: &Keyring,
    row: &RowIdentity<'_>,
    key_id: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<(Secret, Option<Secret>), StoreError> {
    let key = keys.find(key_id).ok_or_else(|| {
        StoreError::Internal(format!(
            "the credentials of tenant {} are under master key {key_id}, which this server does not have \
             (configured: {})",
            row.tenant, keys.current.id
        ))
    })?;
    let plain = open(key, row, nonce, ciphertext)?;
    let fields: SecretFields = serde_json::from_slice(&plain)
        .map_err(|e| StoreError::Internal(format!("decrypted credentials are malformed: {e}")))?;
    Ok((
        Secret::new(fields.auth_token),
        fields.api_key_secret.map(Secret::new),
    ))
}

/// What identifies a calendar link's credentials; bound to their ciphertext as associated
/// data, so that credentials moved to another clinic's or calendar's row do not decrypt.
#[derive(Clone, Copy)]
pub(crate) struct CalendarIdentity {
    pub(crate) tenant: TenantId,
    pub(crate) calendar: booking_core::CalendarId,
}

impl CalendarIdentity {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"booking-postgres/calendar_links/v1\0".to_vec();
        aad.extend_from_slice(self.tenant.as_uuid().as_bytes());
        aad.extend_from_slice(self.calendar.as_uuid().as_bytes());
        aad
    }
}

/// A calendar link's credentials, as encrypted (the user name too: nothing of them is shown).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum CalendarSecret {
    Password { username: String, password: String },
    Token { token: String },
}

pub(crate) fn seal_calendar_credentials(
    key: &MasterKey,
    row: &CalendarIdentity,
    credentials: &booking_core::outside_calendar::CalendarCredentials,
) -> Result<Sealed, StoreError> {
    use booking_core::outside_calendar::CalendarCredentials as C;
    let secret = match credentials {
        C::Password { username, password } => CalendarSecret::Password {
            username: username.clone(),
            password: password.expose().to_owned(),
        },
        C::Token(token) => CalendarSecret::Token {
            token: token.expose().to_owned(),
        },
    };
    let plain = serde_json::to_vec(&secret)
        .map_err(|e| StoreError::Internal(format!("could not encode credentials: {e}")))?;
    seal_with_aad(key, &row.aad(), &plain)
}

pub(crate) fn open_calendar_credentials(
    keys: &Keyring,
    row: &CalendarIdentity,
    key_id: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<booking_core::outside_calendar::CalendarCredentials, StoreError> {
    use booking_core::outside_calendar::CalendarCredentials as C;
    let key = keys.find(key_id).ok_or_else(|| {
        StoreError::Internal(format!(
            "the calendar credentials of tenant {} are under master key {key_id}, which this server does not have",
            row.tenant
        ))
    })?;
    let plain = open_with_aad(key, &row.aad(), nonce, ciphertext).map_err(|_| {
        StoreError::Internal(format!(
            "stored calendar credentials of tenant {} do not decrypt under master key {} (wrong key, or a tampered row)",
            row.tenant, key.id
        ))
    })?;
    let secret: CalendarSecret = serde_json::from_slice(&plain)
        .map_err(|e| StoreError::Internal(format!("decrypted credentials are malformed: {e}")))?;
    Ok(match secret {
        CalendarSecret::Password { username, password } => C::Password {
            username,
            password: Secret::new(password),
        },
        CalendarSecret::Token { token } => C::Token(Secret::new(token)),
    })
}

fn seal_with_aad(key: &MasterKey, aad: &[u8], plain: &[u8]) -> Result<Sealed, StoreError> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = key
        .cipher()
        .encrypt(&nonce, Payload { msg: plain, aad })
        .map_err(|_| StoreError::Internal("could not encrypt credentials".into()))?;
    Ok(Sealed {
        key_id: key.id.clone(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

fn open_with_aad(
    key: &MasterKey,
    aad: &[u8],
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, StoreError> {
    if nonce.len() != 24 {
        return Err(StoreError::Internal(
            "stored credentials have a malformed nonce".into(),
        ));
    }
    key.cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| StoreError::Internal("credentials do not decrypt".into()))
}

/// The text every key's check value holds.
const CHECK_TEXT: &[u8] = b"booking-postgres master key check";

fn check_aad(key_id: &str) -> Vec<u8> {
    let mut aad = b"booking-postgres/master_key_checks/v1\0".to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    aad
}

/// A check value for `key`: a known text sealed under it, stored once per key id, so that a
/// later key of the same id but other bytes is told apart even before any clinic's credentials
/// exist.
pub(crate) fn seal_check(key: &MasterKey) -> Result<Sealed, StoreError> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = check_aad(&key.id);
    let ciphertext = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: CHECK_TEXT,
                aad: &aad,
            },
        )
        .map_err(|_| StoreError::Internal("could not encrypt a key check".into()))?;
    Ok(Sealed {
        key_id: key.id.clone(),
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Whether `key` opens a check value stored under its id.
pub(crate) fn opens_check(key: &MasterKey, nonce: &[u8], ciphertext: &[u8]) -> bool {
    nonce.len() == 24
        && key
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &check_aad(&key.id),
                },
            )
            .is_ok_and(|plain| plain == CHECK_TEXT)
}

/// What [`rotate_key`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows re-encrypted from the old key to the new one.
    pub rotated: u64,
    /// Rows already under the new key (a rotation that was run before).
    pub already_current: u64,
}

/// Re-encrypts every credentials row under `new`, in one transaction. Rows must be under `old`
/// or already under `new`; a row under any other key aborts the rotation with nothing changed.
/// Running it twice is harmless. Afterwards the servers must be given `new` as their master key
/// (with `old` among the previous keys while they restart, if they run during the rotation).
pub async fn rotate_key(
    database_url: &str,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<RotationReport, StoreError> {
    if old.id == new.id {
        return Err(StoreError::Internal(format!(
            "the old and new master keys have the same id ({}); give the new key another id",
            old.id
        )));
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("could not connect to the database: {e}")))?;
    conn.transaction::<_, Fail, _>(async |conn| {
        type Row = (uuid::Uuid, String, Option<String>, String, Vec<u8>, Vec<u8>);
        let rows: Vec<Row> = cred::table
            .select((
                cred::tenant_id,
                cred::account_sid,
                cred::api_key_sid,
                cred::key_id,
                cred::nonce,
                cred::ciphertext,
            ))
            .order(cred::tenant_id)
            .for_update()
            .load(conn)
            .await?;
        let mut report = RotationReport::default();
        for (tenant, account_sid, api_key_sid, key_id, nonce, ciphertext) in rows {
            let identity = RowIdentity {
                tenant: TenantId::from_uuid(tenant),
                account_sid: &account_sid,
                api_key_sid: api_key_sid.as_deref(),
            };
            if key_id == new.id {
                // Must really be under the new key, not merely named so.
                open(new, &identity, &nonce, &ciphertext)?;
                report.already_current += 1;
                continue;
            }
            if key_id != old.id {
                return Err(StoreError::Internal(format!(
                    "the credentials of tenant {tenant} are under master key {key_id}, neither {} nor {}; nothing was changed",
                    old.id, new.id
                ))
                .into());
            }
            let plain = open(old, &identity, &nonce, &ciphertext)?;
            let sealed = seal(new, &identity, &plain)?;
            diesel::update(cred::table.filter(cred::tenant_id.eq(tenant)))
                .set((
                    cred::key_id.eq(&sealed.key_id),
                    cred::nonce.eq(&sealed.nonce),
                    cred::ciphertext.eq(&sealed.ciphertext),
                    cred::updated_at.eq(chrono::Utc::now()),
                ))
                .execute(conn)
                .await?;
            report.rotated += 1;
        }
        rotate_calendar_credentials(conn, old, new, &mut report).await?;
        Ok(report)
    })
    .await
    .map_err(Fail::into_store)
}

/// The calendar links' credentials, re-encrypted like the Twilio ones (see [`rotate_key`]).
async fn rotate_calendar_credentials(
    conn: &mut AsyncPgConnection,
    old: &MasterKey,
    new: &MasterKey,
    report: &mut RotationReport,
) -> Result<(), Fail> {
    use crate::store::calendar_tables::calendar_links as l;
    type Row = (uuid::Uuid, uuid::Uuid, String, Vec<u8>, Vec<u8>);
    let rows: Vec<Row> = l::table
        .select((
            l::tenant_id,
            l::calendar_id,
            l::key_id,
            l::nonce,
            l::ciphertext,
        ))
        .order((l::tenant_id, l::calendar_id))
        .for_update()
        .load(conn)
        .await?;
    for (tenant, calendar, key_id, nonce, ciphertext) in rows {
        let identity = CalendarIdentity {
            tenant: TenantId::from_uuid(tenant),
            calendar: booking_core::CalendarId::from_uuid(calendar),
        };
        if key_id == new.id {
            open_with_aad(new, &identity.aad(), &nonce, &ciphertext)?;
            report.already_current += 1;
            continue;
        }
        if key_id != old.id {
            return Err(StoreError::Internal(format!(
                "the calendar credentials of tenant {tenant} are under master key {key_id}, neither {} nor {}; nothing was changed",
                old.id, new.id
            ))
            .into());
        }
        let plain = open_with_aad(old, &identity.aad(), &nonce, &ciphertext)?;
        let sealed = seal_with_aad(new, &identity.aad(), &plain)?;
        diesel::update(
            l::table
                .filter(l::tenant_id.eq(tenant))
                .filter(l::calendar_id.eq(calendar)),
        )
        .set((
            l::key_id.eq(&sealed.key_id),
            l::nonce.eq(&sealed.nonce),
            l::ciphertext.eq(&sealed.ciphertext),
        ))
        .execute(conn)
        .await?;
        report.rotated += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn keys_parse_from_hex_and_base64_with_or_without_an_id() {
        let a = MasterKey::parse(HEX).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(a.key);
        let b = MasterKey::parse(&b64).unwrap();
        assert_eq!(a.key, b.key);
        assert_eq!(a.id(), b.id(), "the derived id depends on the key only");
        assert!(a.id().starts_with('k') && a.id().len() == 9, "{}", a.id());
        let named = MasterKey::parse(&format!("2025-q1:{HEX}")).unwrap();
        assert_eq!(named.id(), "2025-q1");
        assert_eq!(MasterKey::parse(&named.export()).unwrap().key, a.key);
        assert!(
            !format!("{named:?}").contains("0001"),
            "Debug shows no key material"
        );
    }

    #[test]
    fn a_note_opens_only_unchanged_for_its_purpose_under_its_key() {
        let key = MasterKey::parse(HEX).unwrap();
        let note = key.seal_note(b"calendar discovery", b"app-password");
        assert!(!note.contains("app-password"));
        assert_eq!(
            key.open_note(b"calendar discovery", &note).as_deref(),
            Some(&b"app-password"[..])
        );
        assert_eq!(key.open_note(b"another purpose", &note), None);
        assert_eq!(
            MasterKey::generate().open_note(b"calendar discovery", &note),
            None
        );
        let mut changed = note.clone().into_bytes();
        let last = changed.len() - 3;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        assert_eq!(key.open_note(b"calendar discovery", &changed), None);
        assert_eq!(key.open_note(b"calendar discovery", "not a note"), None);
        assert_ne!(
            note,
            key.seal_note(b"calendar discovery", b"app-password"),
            "fresh nonce"
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "abc",
            &HEX[..62],
            &format!("{HEX}00"),
            "bad id:00",
            &format!("bad id:{HEX}"),
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad:?} parsed");
        }
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        assert_eq!(MasterKey::parse(&short).unwrap_err(), KeyError::Format);
    }

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_row() {
        let key = MasterKey::generate();
        let keys = Keyring {
            current: key.clone(),
            previous: vec![],
        };
        let tenant = TenantId::from_uuid(uuid::Uuid::new_v4());
        let row = RowIdentity {
            tenant,
            account_sid: "AC123",
            api_key_sid: Some("SK9"),
        };
        let sealed = seal_secrets(
            &key,
            &row,
            &Secret::new("token-xyz"),
            Some(&Secret::new("sk-secret")),
        )
        .unwrap();
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"token-xyz"));
        let (token, api) = open_secrets(
            &keys,
            &row,
            &sealed.key_id,
            &sealed.nonce,
            &sealed.ciphertext,
        )
        .unwrap();
        assert_eq!(token.expose(), "token-xyz");
        assert_eq!(api.unwrap().expose(), "sk-secret");

        let other_row = RowIdentity {
            tenant: TenantId::from_uuid(uuid::Uuid::new_v4()),
            ..row
        };
        assert!(
            open_secrets(
                &keys,
                &other_row,
                &sealed.key_id,
                &sealed.nonce,
                &sealed.ciphertext
            )
            .is_err()
        );
        let other_key = Keyring {
            current: MasterKey::generate(),
            previous: vec![],
        };
        assert!(
            open_secrets(
                &other_key,
                &row,
                &sealed.key_id,
                &sealed.nonce,
                &sealed.ciphertext
            )
            .is_err()
        );
    }
}
