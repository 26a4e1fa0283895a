//! One-time codes that prove the caller holds the phone the booking is for.
//! Policy (DESIGN.md §5): CSPRNG codes, 10 minutes, single use, 5 checks, a new code invalidates the
//! old, send limits per number, per call and per tenant, stored only as an HMAC-SHA256.

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::ParseError;
use crate::ids::{BookingId, CallId, ChallengeId, TenantId};
use crate::phone::PhoneNumber;
use crate::ports::Random;

/// The keyed hash of a code: HMAC-SHA256(server key, challenge id ‖ code).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeHash(pub [u8; 32]);

impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHash(***)")
    }
}

/// A challenge to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChallenge {
    pub id: ChallengeId,
    pub tenant: TenantId,
    pub booking: BookingId,
    pub call_id: Option<CallId>,
    pub phone: PhoneNumber,
    pub code_hash: CodeHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A challenge as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub id: ChallengeId,
    pub tenant: TenantId,
    pub booking: BookingId,
    pub call_id: Option<CallId>,
    pub phone: PhoneNumber,
    pub code_hash: CodeHash,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong checks so far.
    pub failed_checks: u32,
    pub consumed_at: Option<Timestamp>,
    /// Set when a newer code replaced this one.
    pub superseded_at: Option<Timestamp>,
}

/// How many codes were sent recently, for the send limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendCounts {
    /// Codes sent to this number (by this tenant) since the window start.
    pub to_number: u32,
    /// Codes sent during this call, to any number, ever.
    pub in_call: u32,
    /// Distinct numbers texted a code during this call.
    pub distinct_numbers_in_call: u32,
    /// Codes sent by this tenant since the window start.
    pub by_tenant: u32,
}

/// What counting one check of a code found. The check is counted before the code is compared,
/// in one statement that refuses once `max_checks` were made, so that concurrent guesses cannot
/// get more than `max_checks` comparisons between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckClaim {
    /// This check is counted against this code: its `failed_checks` are the checks made so far,
    /// this one included.
    Counted(Box<Challenge>),
    /// The code already had `max_checks` checks.
    Exhausted,
    /// The code has expired.
    Expired,
    /// No such live code (consumed, replaced by a newer one, or another tenant's).
    Gone,
}

/// What proves that a change to an appointment is wanted by its patient or its clinic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeProof {
    /// The owner, signed in to the dashboard.
    Owner,
    /// The right code of this challenge (for the same booking), checked by the service: the
    /// store consumes it in the change's own unit of work, and refuses the change if it is no
    /// longer live or has expired.
    Code(ChallengeId),
    /// The patient's own link to the appointment (`crate::patient_link`), checked by the
    /// service: live, of this clinic and this appointment, outside the notice window.
    PatientLink,
    /// The patient's confirmed reply to the appointment's reminder, from the number it went to.
    PatientReply,
}

/// How many digits a code has: 4 to 10 (default 6).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct CodeLength(u8);

impl CodeLength {
    pub const MIN: u8 = 4;
    pub const MAX: u8 = 10;

    pub fn new(digits: u8) -> Result<Self, ParseError> {
        if !(Self::MIN..=Self::MAX).contains(&digits) {
            return Err(ParseError::new(
                "code length",
                "must be between 4 and 10 digits",
            ));
        }
        Ok(Self(digits))
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for CodeLength {
    fn default() -> Self {
        Self(6)
    }
}
impl TryFrom<u8> for CodeLength {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}
impl From<CodeLength> for u8 {
    fn from(v: CodeLength) -> u8 {
        v.0
    }
}

/// A send limit: at most `max` codes within `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateWindow {
    pub max: u32,
    pub window: SignedDuration,
}

/// The OTP rules (DESIGN.md §5). Every number is configurable; the defaults are the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpPolicy {
    pub code_length: CodeLength,
    /// How long a code can be used.
    pub validity: SignedDuration,
    /// Wrong checks a code survives; at this many it is dead and a new one must be sent.
    pub max_checks: u32,
    /// Codes to one number (whatever the call) within the window.
    pub per_number: RateWindow,
    /// Codes sent during one call, to any number.
    pub per_call_max_sends: u32,
    /// Different numbers texted a code during one call.
    pub per_call_max_numbers: u32,
    /// Codes sent by one clinic within the window: the SMS-pumping brake.
    pub per_tenant: RateWindow,
    /// Codes sent by one clinic within the `per_tenant` window after which a number that already
    /// had a code in that window gets no more, so that the rest of the budget goes to callers who
    /// have had none: a few hostile callers cannot use it all up and lock everyone out.
    pub per_tenant_pressure: u32,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        Self {
            code_length: CodeLength::default(),
            validity: SignedDuration::from_mins(10),
            max_checks: 5,
            per_number: RateWindow {
                max: 5,
                window: SignedDuration::from_mins(10),
            },
            per_call_max_sends: 5,
            per_call_max_numbers: 3,
            per_tenant: RateWindow {
                max: 200,
                window: SignedDuration::from_hours(1),
            },
            per_tenant_pressure: 100,
        }
    }
}

/// Which send limit a new code would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendLimit {
    PerNumber,
    PerCall,
    NumbersPerCall,
    PerTenant,
    /// The clinic's budget is under pressure and this number already had a code this hour.
    PerTenantRepeat,
}

/// What a store reads in a code send's turn (under the tenant's send lock, in the transaction
/// that stores the code), for [`OtpPolicy::decide_send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendTurn {
    /// Counted over the per-number window.
    pub number_counts: SendCounts,
    /// Counted over the per-tenant window.
    pub tenant_counts: SendCounts,
    /// The call already texted this number a code, or it is the booking's own number.
    pub number_known_in_call: bool,
    /// The number replied STOP to the clinic (and has not replied START since).
    pub opted_out: bool,
}

/// Why a store stored no code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendRefused {
    /// The number opted out of the clinic's texts.
    OptedOut,
    Limited(SendLimit),
}

impl OtpPolicy {
    /// Whether the code may be stored and texted, on what the store read in the send's turn: never
    /// to a number that opted out, then within the send limits ([`OtpPolicy::check_send`]).
    pub fn decide_send(&self, turn: &SendTurn) -> Result<(), SendRefused> {
        if turn.opted_out {
            return Err(SendRefused::OptedOut);
        }
        self.check_send(
            &turn.number_counts,
            &turn.tenant_counts,
            turn.number_known_in_call,
        )
        .map_err(SendRefused::Limited)
    }

    /// Whether one more code may be sent. `number_counts` are counted over the per-number window,
    /// `tenant_counts` over the per-tenant window (the same value when the windows are equal);
    /// `number_known_in_call` says whether this number already received a code during the call
    /// (a resend to it does not add a distinct number). The store asks it (through
    /// [`OtpPolicy::decide_send`]) under a lock with counts it read in the same transaction, so that
    /// the limits hold whatever runs at once.
    pub fn check_send(
        &self,
        number_counts: &SendCounts,
        tenant_counts: &SendCounts,
        number_known_in_call: bool,
    ) -> Result<(), SendLimit> {
        if number_counts.to_number >= self.per_number.max {
            return Err(SendLimit::PerNumber);
        }
        if number_counts.in_call >= self.per_call_max_sends {
            return Err(SendLimit::PerCall);
        }
        if !number_known_in_call
            && number_counts.distinct_numbers_in_call >= self.per_call_max_numbers
        {
            return Err(SendLimit::NumbersPerCall);
        }
        if tenant_counts.by_tenant >= self.per_tenant.max {
            return Err(SendLimit::PerTenant);
        }
        if tenant_counts.by_tenant >= self.per_tenant_pressure && tenant_counts.to_number > 0 {
            return Err(SendLimit::PerTenantRepeat);
        }
        Ok(())
    }

    /// A fresh code: `code_length` uniformly random digits from the CSPRNG port.
    pub fn generate_code(&self, random: &dyn Random) -> OtpCode {
        let code = (0..self.code_length.get())
            .map(|_| char::from(b'0' + random.below(10) as u8))
            .collect();
        OtpCode(code)
    }

    /// The code a caller read back, if it has the configured number of digits. One of another
    /// length is no guess at all (no try is used up for it).
    pub fn code_of(&self, attempt: &OtpAttempt) -> Option<OtpCode> {
        (attempt.0.len() == usize::from(self.code_length.get())).then(|| OtpCode(attempt.0.clone()))
    }
}

/// A code as the caller read it back: one to [`OtpAttempt::MAX_DIGITS`] digits, not yet checked
/// against the clinic's code length. The edge that reads the caller's words makes it, once
/// (booking-vapi for the voice model). Debug never shows the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpAttempt(String);

impl OtpAttempt {
    pub const MAX_DIGITS: usize = 12;

    /// Digits as said, in order ("056765"); `None` for anything but one to `MAX_DIGITS` digits.
    pub fn from_digits(digits: &str) -> Option<Self> {
        (!digits.is_empty()
            && digits.len() <= Self::MAX_DIGITS
            && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Self(digits.to_owned()))
    }

    /// A code that reached us as a number, which cannot keep leading zeros (`56765` for
    /// `056765`): padded with zeros to `length`, its only reading.
    pub fn from_number(n: u64, length: CodeLength) -> Option<Self> {
        let digits = format!("{n:0width$}", width = usize::from(length.get()));
        Self::from_digits(&digits)
    }

    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OtpAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OtpAttempt({} digits)", self.0.len())
    }
}

/// A code in clear. Only ever in memory, in the text to the caller and in the caller's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode(***)")
    }
}

/// HMAC-SHA256 keyed with a server key, over the challenge id and the code: a leaked table of
/// hashes cannot be brute-forced without the key, and a hash cannot be replayed for another
/// challenge.
#[derive(Clone)]
pub struct OtpHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for OtpHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpHasher(***)")
    }
}

impl OtpHasher {
    /// The key must have at least 16 bytes (32 random bytes is what operators should use).
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, ParseError> {
        let key = key.into();
        if key.len() < 16 {
            return Err(ParseError::new("OTP key", "must be at least 16 bytes"));
        }
        Ok(Self { key })
    }

    pub fn hash(&self, challenge: ChallengeId, code: &OtpCode) -> CodeHash {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(challenge.as_uuid().as_bytes());
        mac.update(code.as_str().as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }

    /// Whether `code` is the one hashed into `expected` for this challenge, compared in constant
    /// time.
    pub fn verify(&self, challenge: ChallengeId, code: &OtpCode, expected: &CodeHash) -> bool {
        let actual = self.hash(challenge, code);
        bool::from(actual.0.ct_eq(&expected.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Returns the queued bytes in order, then zeros.
    struct Scripted(Mutex<Vec<u8>>);
    impl Random for Scripted {
        fn fill(&self, bytes: &mut [u8]) {
            let mut q = self.0.lock().unwrap();
            for b in bytes.iter_mut() {
                *b = if q.is_empty() { 0 } else { q.remove(0) };
            }
        }
    }

    /// A counter, so that every value of `below` is reachable.
    struct Counter(Mutex<u64>);
    impl Random for Counter {
        fn fill(&self, bytes: &mut [u8]) {
            let mut n = self.0.lock().unwrap();
            *n += 1;
            let v = n.to_le_bytes();
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = v[i % 8];
            }
        }
    }

    #[test]
    fn code_length_is_bounded() {
        assert!(CodeLength::new(3).is_err());
        assert!(CodeLength::new(11).is_err());
        assert_eq!(CodeLength::new(4).unwrap().get(), 4);
        assert_eq!(CodeLength::new(10).unwrap().get(), 10);
        assert_eq!(CodeLength::default().get(), 6);
        assert!(serde_json::from_str::<CodeLength>("12").is_err());
    }

    #[test]
    fn default_policy_is_the_documented_one() {
        let p = OtpPolicy::default();
        assert_eq!(p.validity, SignedDuration::from_mins(10));
        assert_eq!(p.max_checks, 5);
        assert_eq!(p.per_number.max, 5);
        assert_eq!(p.per_number.window, SignedDuration::from_mins(10));
    }

    #[test]
    fn codes_have_the_configured_length_and_use_every_digit() {
        let policy = OtpPolicy {
            code_length: CodeLength::new(8).unwrap(),
            ..OtpPolicy::default()
        };
        let random = Counter(Mutex::new(0));
        let mut seen = [false; 10];
        for _ in 0..20 {
            let code = policy.generate_code(&random);
            assert_eq!(code.as_str().len(), 8);
            for c in code.as_str().chars() {
                seen[c.to_digit(10).unwrap() as usize] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "digits seen: {seen:?}");
    }

    #[test]
    fn codes_come_from_the_random_port() {
        // below(10) of the little-endian u64 7 is 7, then 3, then zeros.
        let mut bytes = vec![7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend([0; 32]);
        let policy = OtpPolicy {
            code_length: CodeLength::new(4).unwrap(),
            ..OtpPolicy::default()
        };
        let code = policy.generate_code(&Scripted(Mutex::new(bytes)));
        assert_eq!(code.as_str(), "7300");
    }

    #[test]
    fn an_attempt_is_a_code_only_at_the_policys_length() {
        let p = OtpPolicy::default();
        let attempt = |s: &str| OtpAttempt::from_digits(s).unwrap();
        assert_eq!(p.code_of(&attempt("123456")).unwrap().as_str(), "123456");
        assert!(p.code_of(&attempt("12345")).is_none());
        assert!(p.code_of(&attempt("1234567")).is_none());
        assert!(OtpAttempt::from_digits("12345a").is_none());
        assert!(OtpAttempt::from_digits("123 456").is_none());
        assert!(OtpAttempt::from_digits("").is_none());
        assert!(OtpAttempt::from_digits("1234567890123").is_none());
        assert_eq!(format!("{:?}", attempt("123456")), "OtpAttempt(6 digits)");
    }

    #[test]
    fn a_code_sent_as_a_number_gets_its_leading_zeros_back() {
        let six = CodeLength::new(6).unwrap();
        let four = CodeLength::new(4).unwrap();
        assert_eq!(
            OtpAttempt::from_number(56765, six).unwrap().digits(),
            "056765"
        );
        assert_eq!(OtpAttempt::from_number(7, four).unwrap().digits(), "0007");
        // Longer than the policy: kept as is, and refused as a code of the wrong length.
        assert_eq!(
            OtpAttempt::from_number(1234567, six).unwrap().digits(),
            "1234567"
        );
        assert!(OtpAttempt::from_number(1_000_000_000_000, six).is_none());
    }

    #[test]
    fn hash_is_keyed_and_bound_to_the_challenge() {
        let h = OtpHasher::new(vec![1u8; 32]).unwrap();
        let other_key = OtpHasher::new(vec![2u8; 32]).unwrap();
        let c1 = ChallengeId::from_random_bytes([1; 16]);
        let c2 = ChallengeId::from_random_bytes([2; 16]);
        let p = OtpPolicy::default();
        let code = p
            .code_of(&OtpAttempt::from_digits("123456").unwrap())
            .unwrap();
        let wrong = p
            .code_of(&OtpAttempt::from_digits("123457").unwrap())
            .unwrap();
        let stored = h.hash(c1, &code);
        assert!(h.verify(c1, &code, &stored));
        assert!(!h.verify(c1, &wrong, &stored));
        assert!(!h.verify(c2, &code, &stored));
        assert!(!other_key.verify(c1, &code, &stored));
        assert_ne!(h.hash(c1, &code), other_key.hash(c1, &code));
        assert!(OtpHasher::new(vec![0u8; 15]).is_err());
        assert_eq!(format!("{h:?}"), "OtpHasher(***)");
        assert_eq!(format!("{code:?}"), "OtpCode(***)");
    }

    #[test]
    fn send_limits() {
        let p = OtpPolicy::default();
        let ok = SendCounts::default();
        assert_eq!(p.check_send(&ok, &ok, false), Ok(()));
        let c = SendCounts { to_number: 5, ..ok };
        assert_eq!(p.check_send(&c, &ok, true), Err(SendLimit::PerNumber));
        let c = SendCounts { in_call: 5, ..ok };
        assert_eq!(p.check_send(&c, &ok, true), Err(SendLimit::PerCall));
        let c = SendCounts {
            in_call: 3,
            distinct_numbers_in_call: 3,
            ..ok
        };
        assert_eq!(p.check_send(&c, &ok, false), Err(SendLimit::NumbersPerCall));
        assert_eq!(p.check_send(&c, &ok, true), Ok(()));
        let t = SendCounts {
            by_tenant: 200,
            ..ok
        };
        assert_eq!(p.check_send(&ok, &t, false), Err(SendLimit::PerTenant));
        // Under pressure, a number that had a code this hour waits; a new number still gets one.
        let busy = SendCounts {
            by_tenant: 100,
            ..ok
        };
        assert_eq!(p.check_send(&ok, &busy, false), Ok(()));
        let busy_repeat = SendCounts {
            by_tenant: 100,
            to_number: 1,
            ..ok
        };
        assert_eq!(
            p.check_send(&ok, &busy_repeat, false),
            Err(SendLimit::PerTenantRepeat)
        );
        let calm_repeat = SendCounts {
            by_tenant: 99,
            to_number: 4,
            ..ok
        };
        assert_eq!(p.check_send(&ok, &calm_repeat, false), Ok(()));
    }

    #[test]
    fn a_number_that_opted_out_gets_no_code_whatever_the_counts() {
        let p = OtpPolicy::default();
        let quiet = SendTurn {
            number_counts: SendCounts::default(),
            tenant_counts: SendCounts::default(),
            number_known_in_call: true,
            opted_out: false,
        };
        assert_eq!(p.decide_send(&quiet), Ok(()));
        let stopped = SendTurn {
            opted_out: true,
            ..quiet.clone()
        };
        assert_eq!(p.decide_send(&stopped), Err(SendRefused::OptedOut));
        // Over a limit as well: the opt-out is what the caller is told.
        let over = SendCounts {
            to_number: 5,
            ..SendCounts::default()
        };
        let both = SendTurn {
            number_counts: over,
            ..stopped
        };
        assert_eq!(p.decide_send(&both), Err(SendRefused::OptedOut));
        let limited = SendTurn {
            opted_out: false,
            ..both
        };
        assert_eq!(
            p.decide_send(&limited),
            Err(SendRefused::Limited(SendLimit::PerNumber))
        );
    }
}
