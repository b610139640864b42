//! The listeners of `verimqtt broker` without a configuration file: `--listen ADDRESS` and
//! mosquitto's `-p PORT`, each repeatable.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use verimqtt::runtime::config::ListenerConfig;

/// The addresses one `--listen` value names: an IP address and a port, or a host name and a
/// port, resolved at start to each of its addresses (as mosquitto's `listener PORT HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress(Vec<SocketAddr>);

/// Reads a `--listen` value; a host name that does not resolve is an error naming it.
pub fn parse(text: &str) -> Result<ListenAddress, String> {
    if let Ok(address) = text.parse() {
        return Ok(ListenAddress(vec![address]));
    }
    let usage = "an IP address or a host name, and a port: \"0.0.0.0:1883\", \"[::]:1883\", \"localhost:1883\"";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("no port: expected {usage}"));
    };
    let port: u16 = port.parse().map_err(|_| format!("{port:?} is not a port: expected {usage}"))?;
    let addresses: Vec<SocketAddr> =
        (host, port).to_socket_addrs().map_err(|error| format!("cannot resolve {host:?}: {error}"))?.collect();
    if addresses.is_empty() {
        return Err(format!("{host:?} resolves to no address"));
    }
    Ok(ListenAddress(addresses))
}

/// A TCP listener on each address of each `--listen`, then on 127.0.0.1 for each `-p` (as
/// mosquitto 2's `-p` without a configuration, which listens on ::1 as well).
pub fn listeners(listen: &[ListenAddress], ports: &[u16]) -> Vec<ListenerConfig> {
    let ports = ports.iter().map(|&port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    listen.iter().flat_map(|address| address.0.iter().copied()).chain(ports).map(ListenerConfig::tcp).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binds(listen: &[ListenAddress], ports: &[u16]) -> Vec<String> {
        listeners(listen, ports).iter().map(|listener| listener.bind.to_string()).collect()
    }

    #[test]
    fn ip_addresses_of_both_families_are_taken_as_they_are() {
        let listen = [parse("0.0.0.0:1883").unwrap(), parse("[::]:8883").unwrap()];
        assert_eq!(binds(&listen, &[1884]), ["0.0.0.0:1883", "[::]:8883", "127.0.0.1:1884"]);
    }

    #[test]
    fn a_host_name_gives_a_listener_on_each_of_its_addresses() {
        let resolved: Vec<SocketAddr> = ("localhost", 1883).to_socket_addrs().unwrap().collect();
        let listen = parse("localhost:1883").unwrap();
        assert!(!resolved.is_empty() && resolved.iter().all(|address| address.ip().is_loopback()));
        assert_eq!(listen, ListenAddress(resolved));
    }

    #[test]
    fn a_value_without_a_port_or_with_a_bad_one_is_an_error_saying_what_is_wrong() {
        assert!(parse("localhost").unwrap_err().starts_with("no port"));
        assert!(parse("0.0.0.0").unwrap_err().starts_with("no port"));
        assert!(parse("localhost:65536").unwrap_err().starts_with("\"65536\" is not a port"));
        assert!(parse("[::1]:mqtt").unwrap_err().starts_with("\"mqtt\" is not a port"));
    }
}
