//! The secret in a link we hand out (a patient's appointment link, a waitlist offer, a calendar
//! feed): 128 random bits, written as 22 characters of URL-safe base64 so a text message stays
//! short. Only its SHA-256 is stored; the link itself is shown once, in the text or on the page
//! that made it.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::accounts::TokenHash;
use crate::ports::Random;

/// Length of a link token as written in a URL.
pub const LINK_TOKEN_LEN: usize = 22;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A link token as a URL carries it. Never logged (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    /// A fresh token of 128 random bits.
    pub fn generate(random: &dyn Random) -> Self {
        Self(encode(&random.bytes16()))
    }

    /// A token taken from a URL; `None` unless it has the shape of ours (22 URL-safe base64
    /// characters whose last one carries no stray bits). A token of the right shape may still
    /// be unknown: look its hash up.
    pub fn from_presented(s: &str) -> Option<Self> {
        if s.len() != LINK_TOKEN_LEN || !s.bytes().all(|b| ALPHABET.contains(&b)) {
            return None;
        }
        // 22 characters hold 132 bits; the last character's low 4 bits must be zero.
        let last = ALPHABET.iter().position(|&c| c == s.as_bytes()[21])?;
        (last & 0x0f == 0).then(|| Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks the token up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(***)")
    }
}

fn encode(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(LINK_TOKEN_LEN);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 0x3f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u8);
    impl Random for Fixed {
        fn fill(&self, bytes: &mut [u8]) {
            bytes.fill(self.0);
        }
    }

    #[test]
    fn a_token_is_22_url_safe_characters_and_reads_back() {
        for byte in [0x00, 0x5a, 0xff] {
            let token = LinkToken::generate(&Fixed(byte));
            assert_eq!(token.expose().len(), LINK_TOKEN_LEN);
            assert_eq!(
                LinkToken::from_presented(token.expose()),
                Some(token.clone())
            );
            assert_eq!(
                LinkToken::from_presented(token.expose()).map(|t| t.hash()),
                Some(token.hash())
            );
        }
        // All ones: 21 full characters of '_' and a last one holding the 2 leftover bits.
        assert_eq!(
            LinkToken::generate(&Fixed(0xff)).expose(),
            "_____________________w"
        );
    }

    #[test]
    fn anything_else_is_not_a_token() {
        let good = LinkToken::generate(&Fixed(0x5a)).expose().to_owned();
        for bad in [
            "",
            &good[..21],
            &format!("{good}A"),
            &good.replace(&good[..1], "+"),
            "AAAAAAAAAAAAAAAAAAAAAB", // stray bits in the last character
            "AAAAAAAAAAAAAAAAAAAA/A",
            "AAAAAAAAAAAAAAAAAAAAé",
        ] {
            assert_eq!(LinkToken::from_presented(bad), None, "{bad:?}");
        }
        assert_ne!(good, LinkToken::generate(&Fixed(0x5b)).expose());
    }

    #[test]
    fn debug_hides_the_token() {
        let token = LinkToken::generate(&Fixed(0x11));
        assert_eq!(format!("{token:?}"), "LinkToken(***)");
    }
}
