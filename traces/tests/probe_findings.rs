//! The minimal runs of what the probe found in other brokers, recorded against them by
//! `traces/probe-findings/record` (traces/README.md, "What it found"): each recorded trace
//! still shows its finding, to the monitor that named it and to the spec broker, so the
//! write-ups stay true as the monitors and the spec broker change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;

use verimqtt_spec::trace::read_trace;
use verimqtt_traces::probe::spec::{SpecVerdict, judge};
use verimqtt_traces::probe::{Outcome, Property, finding_probes, monitor};

/// A recorded run (`BROKER/FINDING.vVERSION.jsonl`), the monitor that reports it (if one does)
/// with what its finding says, and what the spec broker's rejection says.
struct Recorded {
    file: &'static str,
    monitor: Option<(Property, &'static str)>,
    spec_rejects: &'static str,
}

const RECORDED: &[Recorded] = &[
    Recorded {
        file: "mosquitto/silent_connection.v5",
        monitor: Some((Property::KeepAlive, "later than 1.5 x Keep Alive (1500 ms) + 1500 ms")),
        spec_rejects: "a close (keep alive), a will or a session's end was overdue",
    },
    Recorded {
        file: "aedes/resend_of_a_copy_to_its_own_publisher.v3",
        monitor: Some((Property::Dup, "sends again a PUBLISH not completed, with DUP 0")),
        spec_rejects: "payload \"m1\", qos 1",
    },
    Recorded {
        file: "aedes/first_copy_of_a_resent_publish.v3",
        monitor: Some((Property::Dup, "has DUP 1, but the broker received the message after")),
        spec_rejects: "payload \"m0\", qos 1",
    },
    Recorded {
        file: "amqtt/copy_above_its_qos.v3",
        monitor: Some((Property::DeliveredQos, "goes out at QoS 2, not 0")),
        spec_rejects: "payload \"m0\", qos 2",
    },
    Recorded {
        file: "amqtt/retained_to_a_filter_it_does_not_match.v3",
        monitor: None,
        spec_rejects: "payload \"m0\", qos 0, retain) to the Client on conn 3",
    },
    Recorded {
        file: "amqtt/silent_connection.v3",
        monitor: Some((Property::KeepAlive, "past 1.5 x Keep Alive (1500 ms) + 1500 ms")),
        spec_rejects: "a close (keep alive), a will or a session's end was overdue",
    },
    Recorded {
        file: "rumqttd/copy_above_its_qos.v3",
        monitor: Some((Property::DeliveredQos, "goes out at QoS 2, not 0")),
        spec_rejects: "payload \"m0\", qos 2",
    },
    Recorded {
        file: "rumqttd/copy_above_its_qos.v5",
        monitor: Some((Property::DeliveredQos, "goes out at QoS 2, not 0")),
        spec_rejects: "payload \"m0\", qos 2",
    },
    Recorded {
        file: "rumqttd/resend_of_a_copy_to_its_own_publisher.v5",
        monitor: None,
        spec_rejects: "payload \"m1\", qos 1, id 1)",
    },
];

#[test]
fn every_recorded_finding_is_still_found() {
    for recorded in RECORDED {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe-findings").join(format!("{}.jsonl", recorded.file));
        let trace = read_trace(&fs::read_to_string(&path).unwrap()).unwrap();
        let verdicts = monitor(&trace);
        let violated: Vec<Property> =
            verdicts.iter().filter(|v| v.outcome() == Outcome::Violation).map(|v| v.property).collect();
        match recorded.monitor {
            Some((property, says)) => {
                assert_eq!(violated, [property], "{}", recorded.file);
                let verdict = verdicts.iter().find(|v| v.property == property).unwrap();
                assert!(
                    verdict.findings.iter().any(|f| f.message.contains(says)),
                    "{}: {:?} should say {says:?}",
                    recorded.file,
                    verdict.findings
                );
            }
            None => assert_eq!(violated, [], "{}", recorded.file),
        }
        match judge(&trace).verdict {
            SpecVerdict::Rejected { what, .. } => {
                assert!(what.contains(recorded.spec_rejects), "{}: {what:?}", recorded.file)
            }
            verdict => panic!("{}: {verdict:?}", recorded.file),
        }
    }
}

/// Every recorded run is the minimal run of a finding `probe --finding` knows.
#[test]
fn every_recorded_run_names_a_finding() {
    let names: Vec<&str> = finding_probes().into_iter().map(|(name, _)| name).collect();
    for recorded in RECORDED {
        let finding = recorded.file.split('/').nth(1).and_then(|file| file.split('.').next()).unwrap();
        assert!(names.contains(&finding), "{finding}");
    }
}
