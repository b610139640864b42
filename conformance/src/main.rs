//! `verimqtt-conformance`: runs the conformance suite against a broker and reports which
//! normative statements it breaks, with the bytes that show it.
//!
//! ```text
//! verimqtt-conformance [--profile FILE] [--broker mqtt|mqtts|ws|wss://[user[:pw]@]host[:port][/path]]
//!                      [--username NAME] [--password PW] [--username2 NAME] [--password2 PW] [--cafile FILE] [--cert FILE --key FILE]
//!                      [--insecure] [--version 3|5] [--filter TEXT]... [--without FEATURE]...
//!                      [--topic-prefix LEVELS] [--max-packet-size BYTES] [--report out.json]
//!                      [--markdown out.md] [--expected conformance/expected/<broker>.json]
//!                      [--jobs N] [--list]
//! ```
//!
//! Flags override the environment (`MQTT_BROKER`, ...), which overrides the profile (see
//! `profile.rs`). Without a broker named anywhere, it starts the embedded verimqtt broker on
//! an ephemeral loopback port. Exit status: 0 when every scenario passed (or, with `--expected`,
//! when every outcome is the expected one), 1 otherwise, 2 when the run could not start.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use verimqtt::runtime::client::TlsSettings;
use verimqtt_conformance::expected::Expected;
use verimqtt_conformance::report::Report;
use verimqtt_conformance::runner::Outcome;
use verimqtt_conformance::suite::{self, Instance};
use verimqtt_conformance::{Feature, Profile, Scenario, scenarios_dir, serve_embedded_if_asked};
use verimqtt_spec::catalogue::SpecVersion;

#[derive(Debug, Parser)]
#[command(name = "verimqtt-conformance", about = "Runs the MQTT conformance suite against a broker")]
struct Cli {
    /// What the suite knows of the broker (URL, credentials, TLS, features it lacks, topic
    /// prefix, limits), a TOML file; default: `MQTT_PROFILE`.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The broker under test: mqtt|mqtts|ws|wss://[user[:password]@]host[:port][/path].
    /// Default: the profile's, `MQTT_BROKER`, else the embedded verimqtt broker.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    #[command(flatten)]
    tls: TlsSettings,
    /// Only one protocol version: 3 (MQTT 3.1.1) or 5 (MQTT 5.0).
    #[arg(long, value_parser = ["3", "5"])]
    version: Option<String>,
    /// Only scenario runs whose name (`<area>/<scenario>@<version>`) contains this; repeatable.
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// A feature the broker lacks (retain, wildcards, qos1, qos2, wills, persistent_sessions,
    /// shared_subscriptions, subscription_identifiers, topic_aliases): scenarios needing it are
    /// skipped; repeatable.
    #[arg(long, value_name = "FEATURE")]
    without: Vec<String>,
    /// Writes the report as JSON.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Writes the report as Markdown.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Compares the outcomes with a broker's known deviations; any difference fails the run.
    #[arg(long, value_name = "FILE")]
    expected: Option<PathBuf>,
    /// Scenario runs at once (default: the profile's, else 32); 1 for a rate-limited broker.
    #[arg(long)]
    jobs: Option<usize>,
    /// The user name every CONNECT carries that names none (for a broker that requires one).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// The password that goes with the user name.
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,
    /// A second user, for the scenarios about two users (skipped without one).
    #[arg(long, value_name = "NAME")]
    username2: Option<String>,
    /// The password that goes with the second user name.
    #[arg(long, value_name = "PASSWORD")]
    password2: Option<String>,
    /// The topic levels the broker allows the test account: every topic of the suite goes
    /// under them.
    #[arg(long, value_name = "LEVELS")]
    topic_prefix: Option<String>,
    /// The largest packet the broker accepts: runs that would send more are skipped.
    #[arg(long, value_name = "BYTES")]
    max_packet_size: Option<usize>,
    /// Where the scenarios are (default: the suite's own).
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Lists the scenario runs instead of running them.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    serve_embedded_if_asked();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("verimqtt-conformance: {error}");
            ExitCode::from(2)
        }
    }
}

/// Runs the suite; `Ok(false)` when a scenario failed (or an outcome was not the expected one).
fn run(cli: &Cli) -> Result<bool, String> {
    let scenarios =
        Scenario::load_all(&cli.scenarios.clone().unwrap_or_else(scenarios_dir)).map_err(|e| e.to_string())?;
    let all = suite::instances(scenarios);
    let known: BTreeSet<String> = all.iter().map(Instance::name).collect();
    let selected: Vec<Instance> = all.into_iter().filter(|instance| selected(cli, instance)).collect();
    if cli.list {
        for instance in &selected {
            println!("{}  {}", instance.name(), instance.scenario.title);
        }
        return Ok(true);
    }
    let profile = profile(cli)?;
    let expected = cli.expected.as_deref().map(Expected::load).transpose()?;
    // The sentinel connection watches for a restart through the whole run (see `liveness`);
    // 3.1.1 unless only 5.0 runs.
    let only_5 = !selected.is_empty() && selected.iter().all(|instance| instance.version == SpecVersion::V5_0);
    let sentinel_version = if only_5 { SpecVersion::V5_0 } else { SpecVersion::V3_1_1 };
    let (broker, mut settings) = profile.open(sentinel_version)?;
    if let Some(expected) = &expected {
        settings.flaky = expected.flaky_runs();
    }
    eprintln!("running {} scenario runs against {} (run {})", selected.len(), broker.name(), settings.run_id);

    let progress = ProgressBar::new(selected.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let jobs = profile.jobs.unwrap_or(32);
    let results = suite::run_all(&selected, &settings, jobs, &|result| {
        if let Outcome::Failed(_) | Outcome::Flaky { .. } = result.outcome {
            progress.set_message(format!("failed: {}", result.instance.name()));
        }
        progress.inc(1);
    });
    progress.finish_and_clear();
    let report = Report::new(broker.name(), settings.run_id.clone(), started.elapsed().as_millis() as u64, &results);

    for result in &report.results {
        if let Some(rate) = &result.pass_rate {
            println!("FLAKY (passed {rate} runs) {}: {}", result.name, result.title);
            println!("{}", result.detail.as_deref().unwrap_or_default());
        } else if result.outcome == "failed" {
            println!("FAILED {}: {}\n{}", result.name, result.title, result.detail.as_deref().unwrap_or_default());
        }
    }
    println!("{}", report.summary_table());
    println!("{} runs in {:.1} s", report.summary.total(), report.duration_ms as f64 / 1000.0);
    if let Some(path) = &cli.report {
        std::fs::write(path, report.to_json()).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    if let Some(path) = &cli.markdown {
        std::fs::write(path, report.to_markdown()).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    match expected {
        Some(expected) => {
            // Runs skipped for what the run's account allows (a raw CONNECT cannot carry its
            // credentials; no second user was given; topics outside its prefix), not for what
            // the broker lacks: expectations made with another account say nothing of them.
            let of_the_run = [Feature::Anonymous, Feature::SecondUser, Feature::AnyTopic];
            let unmeasured = selected
                .iter()
                .filter(|instance| {
                    instance.scenario.features.iter().any(|feature| {
                        of_the_run.contains(feature)
                            && settings.unsupported.contains(feature)
                            && !profile.without.contains(feature)
                    })
                })
                .map(Instance::name)
                .collect();
            let differences = expected.compare(&report, &known, &unmeasured);
            if differences.is_empty() {
                println!("every outcome is the one expected of {}", expected.broker);
            } else {
                println!("{} outcomes differ from those expected of {}:", differences.len(), expected.broker);
                for difference in &differences {
                    println!("  {difference}");
                }
            }
            Ok(differences.is_empty())
        }
        None => Ok(report.summary.failed + report.summary.flaky == 0),
    }
}

/// The profile, with the environment and then the flags over it.
fn profile(cli: &Cli) -> Result<Profile, String> {
    let mut profile = Profile::from_env(cli.profile.as_deref())?;
    overlay(&mut profile.url, &cli.broker);
    overlay(&mut profile.username, &cli.username);
    overlay(&mut profile.password, &cli.password);
    overlay(&mut profile.second.username, &cli.username2);
    overlay(&mut profile.second.password, &cli.password2);
    overlay(&mut profile.topic_prefix, &cli.topic_prefix);
    overlay(&mut profile.tls.cafile, &cli.tls.cafile);
    overlay(&mut profile.tls.cert, &cli.tls.cert);
    overlay(&mut profile.tls.key, &cli.tls.key);
    overlay(&mut profile.max_packet_size, &cli.max_packet_size);
    overlay(&mut profile.jobs, &cli.jobs);
    profile.tls.insecure |= cli.tls.insecure;
    if cli.tls.cafile.is_some() {
        profile.tls.insecure = false;
    }
    for name in &cli.without {
        profile.without.push(Feature::from_name(name).ok_or_else(|| format!("--without {name}: no such feature"))?);
    }
    Ok(profile)
}

/// A flag's value over the profile's, if the flag is given.
fn overlay<T: Clone>(field: &mut Option<T>, flag: &Option<T>) {
    if flag.is_some() {
        field.clone_from(flag);
    }
}

fn selected(cli: &Cli, instance: &Instance) -> bool {
    let version_matches = match cli.version.as_deref() {
        Some("3") => instance.version == SpecVersion::V3_1_1,
        Some("5") => instance.version == SpecVersion::V5_0,
        _ => true,
    };
    let name = instance.name();
    version_matches && (cli.filter.is_empty() || cli.filter.iter().any(|filter| name.contains(filter.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["verimqtt-conformance", "--version", "5", "--filter", "qos", "--without", "qos2"]);
        assert_eq!(cli.version.as_deref(), Some("5"));
        assert_eq!(cli.filter, ["qos"]);
    }
}
