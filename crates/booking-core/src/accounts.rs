//! Clinic owners' accounts for the dashboard: who may sign in to which clinic, their sessions, and
//! the rules around them (password policy, session lifetime, sign-in throttling). Password hashing
//! itself is the adapter's job (the api uses argon2); this module only sees the encoded hash.
//!
//! Sessions are bearer tokens held in a cookie. Only the SHA-256 of a token is stored, so a copy of
//! the database does not let anyone sign in. Every session carries the tenant of its owner: the
//! dashboard takes the clinic from the session, never from a URL or a form.

use std::fmt;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ParseError;
use crate::ids::TenantId;
use crate::ports::{Random, StoreResult};

/// How long a session lives without use; every use pushes the expiry forward (sliding).
pub const SESSION_IDLE_TTL: SignedDuration = SignedDuration::from_hours(12);
/// How often a session's expiry is pushed forward (not on every request).
pub const SESSION_TOUCH_EVERY: SignedDuration = SignedDuration::from_mins(5);
/// Sign-in attempts are counted in windows this long, each starting at its first attempt…
pub const LOGIN_FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// …and past this many from one client address for one account, that address may not try that
/// account again until the window ends. Counted per address and account together, so that a
/// stranger's wrong guesses never lock the owner out of their own account from their own
/// address.
pub const MAX_LOGIN_FAILURES: u32 = 5;
/// Past this many attempts from one client address, whatever the accounts, that address may not
/// try any until the window ends: a password check costs memory and time, and one address must
/// not spend it freely.
pub const MAX_ADDRESS_ATTEMPTS: u32 = 20;
/// Password length bounds, in characters (NIST SP 800-63B: at least 8; we ask for 10).
pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// An owner account's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId(Uuid);

impl OwnerId {
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address used as a sign-in name: trimmed and lower-cased, so that "Ann@Clinic.com"
/// and "ann@clinic.com " are one account.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_lowercase();
        if s.len() > 254 {
            return Err(ParseError::new("email", "is longer than 254 characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ParseError::new("email", "must look like name@example.com"));
        };
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ParseError::new("email", "must look like name@example.com"));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell accounts apart in a log, not enough to read the address.
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first = local.chars().next().unwrap_or('?');
        write!(f, "Email({first}…@{domain})")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a password is acceptable for a new account: 10 to 256 characters, not all the same
/// character. (Length is what matters; no composition rules, per NIST SP 800-63B.)
pub fn check_password_policy(password: &str) -> Result<(), ParseError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(ParseError::new(
            "password",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(ParseError::new(
            "password",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(ParseError::new(
            "password",
            "must not be one character repeated",
        ));
    }
    Ok(())
}

/// An owner account as stored. `password_hash` is an encoded hash (PHC string), never a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Owner {
    pub id: OwnerId,
    pub tenant: TenantId,
    pub email: Email,
    pub password_hash: String,
    pub created_at: Timestamp,
    /// When the owner finished (or skipped) the first-sign-in walk-through.
    pub onboarded_at: Option<Timestamp>,
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owner")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("email", &self.email)
            .field("onboarded_at", &self.onboarded_at)
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of a session token: what the store keeps and looks sessions up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A session token as the browser holds it: 32 random bytes, hex-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate(random: &dyn Random) -> Self {
        let mut b = [0u8; 32];
        random.fill(&mut b);
        Self(hex(&b))
    }
    /// A token presented by a browser; `None` unless it has the shape of ours (64 hex digits).
    pub fn from_presented(s: &str) -> Option<Self> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(s.to_ascii_lowercase()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// A fresh per-session CSRF token (32 random bytes, hex).
pub fn csrf_token(random: &dyn Random) -> String {
    let mut b = [0u8; 32];
    random.fill(&mut b);
    hex(&b)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// A signed-in browser.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: TokenHash,
    pub owner: OwnerId,
    /// The clinic this session may see: its owner's, copied at sign-in.
    pub tenant: TenantId,
    /// The token every form of this session must echo.
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token_hash", &self.token_hash)
            .field("owner", &self.owner)
            .field("tenant", &self.tenant)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new session for `owner` at `now`.
    pub fn start(owner: &Owner, token: &SessionToken, csrf: String, now: Timestamp) -> Self {
        Self {
            token_hash: token.hash(),
            owner: owner.id,
            tenant: owner.tenant,
            csrf_token: csrf,
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_IDLE_TTL,
        }
    }
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
    /// The new expiry if this use should push it forward (`None`: not worth a write yet).
    pub fn slide(&self, now: Timestamp) -> Option<Timestamp> {
        (now.duration_since(self.last_seen_at) >= SESSION_TOUCH_EVERY)
            .then(|| now + SESSION_IDLE_TTL)
    }
}

/// Where a sign-in comes from, as the throttle counts it: an IPv4 address, or the /64 prefix of
/// an IPv6 address (one subscriber line usually holds a whole /64, so counting single IPv6
/// addresses would give each attacker billions of fresh allowances).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientAddress(String);

impl ClientAddress {
    pub fn from_ip(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(v4) => Self(v4.to_string()),
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let s = v6.segments();
                    Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientAddress({})", self.0)
    }
}

/// The sign-in attempts counted in the current windows, the one being made included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInAttempts {
    /// From this address, for any account.
    pub from_address: u32,
    /// From this address, for this account.
    pub for_account: u32,
}

/// Whether a sign-in attempt may have its password checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInVerdict {
    Check,
    /// Too many attempts for this account from this address.
    AccountThrottled,
    /// Too many attempts from this address.
    AddressThrottled,
}

/// The verdict on an attempt, given the counts that include it.
pub fn sign_in_verdict(attempts: SignInAttempts) -> SignInVerdict {
    if attempts.for_account > MAX_LOGIN_FAILURES {
        SignInVerdict::AccountThrottled
    } else if attempts.from_address > MAX_ADDRESS_ATTEMPTS {
        SignInVerdict::AddressThrottled
    } else {
        SignInVerdict::Check
    }
}

/// Owner accounts, sessions and sign-in failures. Not part of [`crate::ports::Store`]: only the
/// dashboard needs it.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `Duplicate` when the email is already used (by any clinic); `NotFound` when the tenant
    /// does not exist.
    async fn create_owner(&self, owner: &Owner) -> StoreResult<Owner>;
    async fn owner_by_email(&self, email: &Email) -> StoreResult<Option<Owner>>;
    async fn owner(&self, id: OwnerId) -> StoreResult<Option<Owner>>;
    async fn set_owner_onboarded(&self, id: OwnerId, at: Timestamp) -> StoreResult<()>;
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// The session with this token hash if it has not expired at `now`.
    async fn session_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Option<Session>>;
    /// Pushes the expiry forward after a use.
    async fn touch_session(
        &self,
        hash: &TokenHash,
        seen_at: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    async fn delete_session(&self, hash: &TokenHash) -> StoreResult<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> StoreResult<u64>;
    /// Counts one sign-in attempt from `address` for `email` at `now`, before its password is
    /// checked, and returns the counts of the current windows with it included. A window starts
    /// at its first attempt and lasts [`LOGIN_FAILURE_WINDOW`]. Concurrent attempts are counted
    /// one after another by the store, so each sees a distinct count: however many arrive at
    /// once, no more than the limits get a check.
    async fn count_sign_in_attempt(
        &self,
        address: &ClientAddress,
        email: &Email,
        now: Timestamp,
    ) -> StoreResult<SignInAttempts>;
    /// The attempt's password was right: the account's count for this address starts again,
    /// and the address's count loses this attempt.
    async fn sign_in_succeeded(&self, address: &ClientAddress, email: &Email) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);
    impl Random for Counter {
        fn fill(&self, bytes: &mut [u8]) {
            for b in bytes {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ann@Clinic.COM ").unwrap().as_str(),
            "ann@clinic.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@clinic.com",
            "ann@clinic",
            "a b@clinic.com",
            "a@b@c.com",
            "ann@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            format!("{:?}", Email::parse("ann@clinic.com").unwrap()),
            "Email(a…@clinic.com)"
        );
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("aaaaaaaaaaaa").is_err());
        assert!(check_password_policy(&"x".repeat(300)).is_err());
        assert!(check_password_policy("correct horse").is_ok());
        // Characters, not bytes.
        assert!(check_password_policy("ééééééééé").is_err());
    }

    #[test]
    fn tokens_are_random_hex_and_stored_only_hashed() {
        let r = Counter(std::sync::atomic::AtomicU8::new(0));
        let a = SessionToken::generate(&r);
        let b = SessionToken::generate(&r);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert_eq!(
            SessionToken::from_presented(a.expose()).unwrap().hash(),
            a.hash()
        );
        assert_ne!(a.hash(), b.hash());
        assert_ne!(&a.hash().0[..], a.expose().as_bytes());
        assert!(SessionToken::from_presented("zz").is_none());
        assert!(SessionToken::from_presented(&"g".repeat(64)).is_none());
        assert!(!format!("{a:?}").contains(a.expose()));
        let c = csrf_token(&r);
        assert_eq!(c.len(), 64);
        assert_ne!(c, a.expose());
    }

    #[test]
    fn sessions_expire_and_slide() {
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let owner = Owner {
            id: OwnerId::from_random_bytes([1; 16]),
            tenant: TenantId::from_random_bytes([2; 16]),
            email: Email::parse("ann@clinic.com").unwrap(),
            password_hash: "$argon2id$...".into(),
            created_at: now,
            onboarded_at: None,
        };
        let r = Counter(std::sync::atomic::AtomicU8::new(9));
        let s = Session::start(&owner, &SessionToken::generate(&r), csrf_token(&r), now);
        assert_eq!(s.tenant, owner.tenant);
        assert!(s.is_live(now + SignedDuration::from_hours(11)));
        assert!(!s.is_live(now + SESSION_IDLE_TTL));
        assert_eq!(s.slide(now + SignedDuration::from_secs(10)), None);
        let later = now + SignedDuration::from_mins(30);
        assert_eq!(s.slide(later), Some(later + SESSION_IDLE_TTL));
    }

    #[test]
    fn sign_in_is_throttled_per_address_and_account() {
        let v = |from_address, for_account| {
            sign_in_verdict(SignInAttempts {
                from_address,
                for_account,
            })
        };
        assert_eq!(v(1, 1), SignInVerdict::Check);
        assert_eq!(v(5, 5), SignInVerdict::Check);
        assert_eq!(v(6, 6), SignInVerdict::AccountThrottled);
        assert_eq!(v(20, 1), SignInVerdict::Check);
        assert_eq!(v(21, 1), SignInVerdict::AddressThrottled);
    }

    #[test]
    fn client_addresses_count_ipv6_by_their_64_prefix() {
        let a = |s: &str| ClientAddress::from_ip(s.parse().unwrap());
        assert_eq!(a("203.0.113.7").as_str(), "203.0.113.7");
        assert_eq!(a("::ffff:203.0.113.7").as_str(), "203.0.113.7");
        assert_eq!(a("2001:db8:1:2:aaaa::1"), a("2001:db8:1:2:ffff::9"));
        assert_ne!(a("2001:db8:1:2::1"), a("2001:db8:1:3::1"));
        assert_eq!(a("2001:db8:1:2::1").as_str(), "2001:db8:1:2::/64");
    }
}
