//! `verimqtt pub` and `verimqtt sub`: the async client with mosquitto_pub's and
//! mosquitto_sub's flags, so habits carry over.

use verimqtt::codec::{ProtocolVersion, ReasonCode};

pub mod connection;
mod json;
mod output;
pub mod properties;
pub mod publish;
pub mod subscribe;

/// Why `verimqtt pub` or `sub` stopped without success: the line to print (none with
/// --quiet) and the exit code, mosquitto_pub's and mosquitto_sub's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: Option<String>,
    pub exit_code: u8,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message: Some(message), exit_code: 1 }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::from(message.to_owned())
    }
}

impl Failure {
    /// The broker refused the CONNECT: the exit code is the CONNACK's code, a 3.1.1 return
    /// code (1 to 5) or a 5.0 reason code, shown as the version names it.
    pub fn refused(code: ReasonCode, version: ProtocolVersion) -> Failure {
        let (exit_code, shown) = match code.v311_connack_return_code().filter(|_| !version.is_v5()) {
            Some(return_code) => (return_code, format!("return code {return_code} ({})", code.name())),
            None => (code.value(), code.to_string()),
        };
        Failure { message: Some(format!("the broker refused the connection: {shown}")), exit_code }
    }

    /// The same failure, without a line to print (--quiet).
    pub fn quiet(self) -> Failure {
        Failure { message: None, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_exits_with_the_connack_code_of_the_version() {
        let v311 = Failure::refused(ReasonCode::NotAuthorized, ProtocolVersion::V311);
        assert_eq!(v311.exit_code, 5);
        assert!(v311.message.unwrap().ends_with("return code 5 (Not authorized)"));
        let v5 = Failure::refused(ReasonCode::NotAuthorized, ProtocolVersion::V5);
        assert_eq!(v5.exit_code, 0x87);
        assert!(v5.message.unwrap().ends_with("0x87 Not authorized"));
    }
}
