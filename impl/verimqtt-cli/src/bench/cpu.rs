//! The processor time the tool itself uses, to show whether it, rather than the broker, was
//! the limit: read from /proc/self/stat (Linux; elsewhere none is reported).

/// Clock ticks per second of /proc's times (USER_HZ): 100 on every Linux architecture that
/// tokio runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// Seconds of user and system time of every thread of this process so far.
pub fn process_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// utime and stime of a /proc/PID/stat line: the 14th and 15th fields, counted after the
/// command name in parentheses (which may hold spaces and parentheses itself).
fn parse_stat(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_added() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 3 0 1 1 1";
        assert_eq!(parse_stat(stat), Some(3.25));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_a_time_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_seconds().is_some());
        }
    }
}
