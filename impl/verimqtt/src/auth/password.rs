//! One password hash in mosquitto's formats, so that operators can reuse the files
//! `mosquitto_passwd` wrote:
//!
//! - `$6$SALT$HASH`: SHA-512 of the password followed by the salt (mosquitto 1.6 and earlier);
//! - `$7$ITERATIONS$SALT$HASH`: PBKDF2-HMAC-SHA512 (mosquitto 2.0 and later).
//!
//! Salt and hash are standard base64; the hash is 64 bytes. New hashes are always `$7$`,
//! with a random 12-byte salt (what mosquitto expects) and [`NEW_HASH_ITERATIONS`]: a file
//! written here is one mosquitto reads too.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha512};

/// PBKDF2 rounds of a new hash: a hundred times mosquitto_passwd's 101, so guessing
/// passwords from a stolen file costs that much more. Not more, because verifying costs as
/// much as hashing and happens on the broker's driver at each CONNECT with a username (see
/// [`super::FilePolicy`]): about 6 ms of one core in a release build, during which no other
/// client is served.
pub const NEW_HASH_ITERATIONS: u32 = 10_000;

/// Salt bytes of a new hash; mosquitto refuses entries with another length.
const SALT_LEN: usize = 12;

const HASH_LEN: usize = 64;

/// A password hash read from, or written to, a password file.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    /// `$6$`: SHA-512(password ‖ salt).
    Sha512 {
        /// The salt, as decoded from base64.
        salt: Vec<u8>,
        /// The 64-byte digest.
        hash: [u8; HASH_LEN],
    },
    /// `$7$`: PBKDF2-HMAC-SHA512(password, salt, iterations).
    Pbkdf2Sha512 {
        /// The PBKDF2 iteration count.
        iterations: u32,
        /// The salt, as decoded from base64.
        salt: Vec<u8>,
        /// The 64-byte derived key.
        hash: [u8; HASH_LEN],
    },
}

/// Why a string is not a password hash this broker can check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The value does not start with `$`: a plain-text password, not a hash.
    #[error("not a hashed password (expected $6$ or $7$; hash plain-text passwords with `verimqtt passwd`)")]
    NotHashed,
    /// A scheme other than `$6$` and `$7$`; it carries the scheme's name.
    #[error("unknown hash scheme ${0}$ (only $6$ and $7$ are supported)")]
    UnknownScheme(String),
    /// A `$7$` iteration count that is not a number from 1 to `u32::MAX`.
    #[error("the iteration count of a $7$ hash must be a number from 1 to {max}", max = u32::MAX)]
    BadIterations,
    /// A part of the hash is missing; it carries which (e.g. "salt").
    #[error("the {0} is missing")]
    Missing(&'static str),
    /// A part of the hash (carried) is not valid base64.
    #[error("the {0} is not valid base64")]
    NotBase64(&'static str),
    /// The salt is empty.
    #[error("the salt is empty")]
    EmptySalt,
    /// The hash is not 64 bytes long; it carries its length.
    #[error("the hash is {0} bytes long, not 64")]
    WrongHashLength(usize),
    /// Text follows the hash.
    #[error("unexpected text after the hash")]
    TrailingText,
}

impl PasswordHash {
    /// A new `$7$` hash of `password` with a fresh random salt.
    pub fn new(password: &[u8]) -> Result<Self, getrandom::Error> {
        let mut salt = vec![0; SALT_LEN];
        getrandom::fill(&mut salt)?;
        let hash = pbkdf2_sha512(password, &salt, NEW_HASH_ITERATIONS);
        Ok(PasswordHash::Pbkdf2Sha512 { iterations: NEW_HASH_ITERATIONS, salt, hash })
    }

    /// Whether `password` is the one hashed. The comparison takes the same time wherever
    /// the first difference is.
    pub fn verify(&self, password: &[u8]) -> bool {
        let (expected, computed) = match self {
            PasswordHash::Sha512 { salt, hash } => {
                let mut digest = Sha512::new();
                digest.update(password);
                digest.update(salt);
                (hash, digest.finalize().into())
            }
            PasswordHash::Pbkdf2Sha512 { iterations, salt, hash } => (hash, pbkdf2_sha512(password, salt, *iterations)),
        };
        expected.iter().zip(computed.iter()).fold(0, |difference, (a, b)| difference | (a ^ b)) == 0
    }
}

fn pbkdf2_sha512(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    pbkdf2::pbkdf2_hmac_array::<Sha512, HASH_LEN>(password, salt, iterations)
}

impl FromStr for PasswordHash {
    type Err = HashError;

    fn from_str(text: &str) -> Result<Self, HashError> {
        let rest = text.strip_prefix('$').ok_or(HashError::NotHashed)?;
        let mut parts = rest.split('$');
        let scheme = parts.next().unwrap_or_default();
        let iterations = match scheme {
            "6" => None,
            "7" => {
                let iterations = parts.next().ok_or(HashError::Missing("iteration count"))?;
                Some(iterations.parse::<u32>().ok().filter(|&n| n > 0).ok_or(HashError::BadIterations)?)
            }
            other => return Err(HashError::UnknownScheme(other.to_owned())),
        };
        let salt = decode(parts.next(), "salt")?;
        if salt.is_empty() {
            return Err(HashError::EmptySalt);
        }
        let hash = decode(parts.next(), "hash")?;
        let hash: [u8; HASH_LEN] = hash.try_into().map_err(|hash: Vec<u8>| HashError::WrongHashLength(hash.len()))?;
        if parts.next().is_some() {
            return Err(HashError::TrailingText);
        }
        Ok(match iterations {
            None => PasswordHash::Sha512 { salt, hash },
            Some(iterations) => PasswordHash::Pbkdf2Sha512 { iterations, salt, hash },
        })
    }
}

fn decode(part: Option<&str>, name: &'static str) -> Result<Vec<u8>, HashError> {
    let part = part.ok_or(HashError::Missing(name))?;
    BASE64.decode(part).map_err(|_| HashError::NotBase64(name))
}

/// The form a password file holds.
impl fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { salt, hash } => write!(f, "$6${}${}", BASE64.encode(salt), BASE64.encode(hash)),
            PasswordHash::Pbkdf2Sha512 { iterations, salt, hash } => {
                write!(f, "$7${iterations}${}${}", BASE64.encode(salt), BASE64.encode(hash))
            }
        }
    }
}

/// Names the scheme only: a hash is not for logs either.
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordHash::Sha512 { .. } => f.write_str("PasswordHash($6$)"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => write!(f, "PasswordHash($7$, {iterations} iterations)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by mosquitto_passwd 2.0.11: `-b` for alice, `-H sha512 -b` for bob.
    const ALICE: &str = "$7$101$NctXORHG5KFY1Da4$D6LNeSD0wmaQneZJD0Wx1nT8nq/qoMQYq1pCSO3SdAXTIbhfsH85Ob6G8USoBfjTk6f8/D8ervJYUkmgI7CzCA==";
    const BOB: &str =
        "$6$8wREk+rfp/dW3RrN$eDi2Dusb8BEJUsEhC0K45SadcAmfmoNcVz5MRVqkxI4IfEcyNtKGKgIGFVYf8BaCx4i1EJrGmpfo3NuTWdCyaQ==";

    #[test]
    fn hashes_written_by_mosquitto_passwd_verify() {
        let alice: PasswordHash = ALICE.parse().unwrap();
        assert!(matches!(alice, PasswordHash::Pbkdf2Sha512 { iterations: 101, .. }));
        assert!(alice.verify(b"secret"));
        assert!(!alice.verify(b"Secret"));
        let bob: PasswordHash = BOB.parse().unwrap();
        assert!(bob.verify(b"hunter2"));
        assert!(!bob.verify(b"hunter"));
    }

    #[test]
    fn hashes_print_as_they_were_read() {
        for text in [ALICE, BOB] {
            assert_eq!(text.parse::<PasswordHash>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn a_new_hash_is_salted_pbkdf2_and_verifies() {
        let first = PasswordHash::new(b"pw").unwrap();
        let second = PasswordHash::new(b"pw").unwrap();
        assert_ne!(first, second, "each hash has its own salt");
        assert!(first.verify(b"pw") && second.verify(b"pw"));
        assert!(!first.verify(b"pw "));
        let PasswordHash::Pbkdf2Sha512 { iterations, salt, .. } = &first else { panic!("{first:?}") };
        assert_eq!((*iterations, salt.len()), (NEW_HASH_ITERATIONS, SALT_LEN));
        assert_eq!(first.to_string().parse::<PasswordHash>().unwrap(), first);
    }

    #[test]
    fn malformed_hashes_say_what_is_wrong() {
        let cases = [
            ("secret", HashError::NotHashed),
            ("$5$abc$def", HashError::UnknownScheme("5".into())),
            ("$7$0$NctXORHG5KFY1Da4$AAAA", HashError::BadIterations),
            ("$7$many$NctXORHG5KFY1Da4$AAAA", HashError::BadIterations),
            ("$6$NctXORHG5KFY1Da4", HashError::Missing("hash")),
            ("$6$!!!$AAAA", HashError::NotBase64("salt")),
            ("$6$$AAAA", HashError::EmptySalt),
            ("$6$NctXORHG5KFY1Da4$AAAA", HashError::WrongHashLength(3)),
            (&format!("{BOB}$x"), HashError::TrailingText),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<PasswordHash>(), Err(error), "{text}");
        }
    }

    #[test]
    fn debug_shows_no_hash() {
        let debug = format!("{:?}", ALICE.parse::<PasswordHash>().unwrap());
        assert_eq!(debug, "PasswordHash($7$, 101 iterations)");
    }
}
