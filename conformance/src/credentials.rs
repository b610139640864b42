//! The user name and password a broker requires of every client (from the profile, the
//! URL, `--username`/`--password` or `MQTT_USERNAME`/`MQTT_PASSWORD`, see [`crate::profile`]):
//! given to every CONNECT the suite builds that names neither itself, the scenarios', the
//! probe's and the sentinel's. A scenario about user names and passwords names its own and is
//! left as it is; one that sends its CONNECT as raw bytes sends exactly those bytes.

use std::sync::OnceLock;

use verimqtt::codec::{Binary, Connect, MqttString};

type Credentials = (MqttString, Option<Binary>);

static CREDENTIALS: OnceLock<Credentials> = OnceLock::new();

/// A second user, for scenarios about two (`"second_user": true` in a CONNECT template).
static SECOND: OnceLock<Credentials> = OnceLock::new();

/// Sets the credentials for the rest of the process (a user name, and a password if there is
/// one); the first call wins.
pub fn set(username: &str, password: Option<&str>) -> Result<(), String> {
    let _ = CREDENTIALS.set(credentials(username, password)?);
    Ok(())
}

/// Sets the second user's credentials for the rest of the process; the first call wins.
pub fn set_second(username: &str, password: Option<&str>) -> Result<(), String> {
    let _ = SECOND.set(credentials(username, password)?);
    Ok(())
}

fn credentials(username: &str, password: Option<&str>) -> Result<Credentials, String> {
    let username = MqttString::try_from(username).map_err(|error| format!("the user name: {error}"))?;
    let password = password
        .map(|password| Binary::try_from(password.as_bytes()).map_err(|error| format!("the password: {error}")))
        .transpose()?;
    Ok((username, password))
}

/// Gives `connect` the second user's credentials; an error if none were given (a scenario
/// that needs them has the feature `second_user`, and is skipped first).
pub fn apply_second(connect: &mut Connect) -> Result<(), String> {
    let (username, password) = SECOND.get().ok_or("no second user was given")?;
    connect.username = Some(username.clone());
    connect.password.clone_from(password);
    Ok(())
}

/// Gives `connect` the credentials, if any are set and it names neither a user nor a password.
pub fn apply(connect: &mut Connect) {
    if let (Some((username, password)), None, None) = (CREDENTIALS.get(), &connect.username, &connect.password) {
        connect.username = Some(username.clone());
        connect.password.clone_from(password);
    }
}

#[cfg(test)]
mod tests {
    use verimqtt::codec::ProtocolVersion;

    use super::*;

    #[test]
    fn credentials_go_only_where_neither_is_named() {
        set("u", Some("p")).unwrap();
        let mut plain = Connect::new(ProtocolVersion::V5, MqttString::try_from("c").unwrap());
        apply(&mut plain);
        assert_eq!(plain.username.as_ref().map(|name| name.as_str()), Some("u"));
        let mut own = Connect::new(ProtocolVersion::V5, MqttString::try_from("c").unwrap());
        own.password = Some(Binary::new(b"secret".to_vec().into()).unwrap());
        apply(&mut own);
        assert!(own.username.is_none(), "a scenario that names a password keeps its CONNECT as written");
    }
}
