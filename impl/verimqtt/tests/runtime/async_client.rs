//! The async client against our broker over real loopback sockets: every transport (TCP,
//! TLS, WebSocket, WebSocket over TLS) in both versions, subscriptions as streams,
//! reconnection with session resumption through a proxy that loses and cuts connections,
//! giving up, and a clean DISCONNECT.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinSet;
use verimqtt::broker::{AllowAll, Authentication, BrokerOptions, ClientInfo, Policy};
use verimqtt::client::{ClientOptions, CommandError};
use verimqtt::codec::{Connect, Disconnect, MqttString, Packet, ProtocolVersion, QoS, ReasonCode};
use verimqtt::runtime::client::{
    AsyncClient, AsyncClientOptions, ClientError, ConnectError, Message, Reconnect, Subscription,
};
use verimqtt::runtime::{EmbeddedBroker, Listener, Server, Transport};

use crate::client::PATIENCE;
use crate::files::{Pki, acceptor};
use crate::proxy::{Direction, Proxy};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// Reconnects quickly, a bounded number of times.
const QUICK: Reconnect = Reconnect {
    initial_delay: Duration::from_millis(20),
    max_delay: Duration::from_millis(200),
    max_retries: Some(20),
};

fn options(version: ProtocolVersion, client_id: &str) -> AsyncClientOptions {
    let mut options = AsyncClientOptions::new(ClientOptions::new(version, MqttString::try_from(client_id).unwrap()));
    options.reconnect = QUICK;
    options
}

/// Options for a session the broker keeps across connections, resumed if it has one.
fn persistent(version: ProtocolVersion, client_id: &str) -> AsyncClientOptions {
    let mut options = options(version, client_id);
    options.client.clean_start = false;
    if version.is_v5() {
        options.client.session_expiry_interval = 600;
    }
    options
}

async fn connect(url: &str, options: AsyncClientOptions) -> AsyncClient {
    AsyncClient::connect(url, options).await.unwrap_or_else(|error| panic!("cannot connect to {url}: {error}"))
}

/// A broker, a proxy in front of it, and a client connected through the proxy.
async fn behind_proxy(options: AsyncClientOptions) -> (EmbeddedBroker, Proxy, AsyncClient) {
    let broker = EmbeddedBroker::start().unwrap();
    let proxy = Proxy::start(broker.addr()).await;
    let client = connect(&proxy.url(), options).await;
    (broker, proxy, client)
}

async fn next(messages: &mut Subscription) -> Message {
    let next = tokio::time::timeout(PATIENCE, messages.next()).await;
    next.expect("no message in time").expect("the subscription ended")
}

fn localhost() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

/// A broker listening on TCP, TLS, WebSocket and WebSocket over TLS, and the URL of each.
fn broker_on_every_transport(pki: &Pki) -> (EmbeddedBroker, Vec<String>) {
    let server = Server::new(BrokerOptions::default(), AllowAll)
        .listener(Listener::bind(localhost(), Transport::Tcp).unwrap())
        .listener(Listener::bind(localhost(), Transport::Tls(acceptor(pki, false))).unwrap())
        .listener(Listener::bind(localhost(), Transport::WebSocket).unwrap())
        .listener(Listener::bind(localhost(), Transport::SecureWebSocket(acceptor(pki, false))).unwrap());
    let broker = EmbeddedBroker::serve(server).unwrap();
    let ports: Vec<u16> = broker.addrs().iter().map(SocketAddr::port).collect();
    let urls = vec![
        format!("mqtt://127.0.0.1:{}", ports[0]),
        // By name and by address: the certificate holds both.
        format!("mqtts://localhost:{}", ports[1]),
        format!("ws://127.0.0.1:{}/mqtt", ports[2]),
        format!("wss://127.0.0.1:{}/mqtt", ports[3]),
    ];
    (broker, urls)
}

#[tokio::test]
async fn every_qos_arrives_over_every_transport_in_both_versions() {
    let pki = Pki::generate();
    let (_broker, urls) = broker_on_every_transport(&pki);
    for url in &urls {
        for version in VERSIONS {
            let name = |role: &str| format!("{role}-{}-{version:?}", &url[..url.find(':').unwrap()]);
            let with_tls = |mut options: AsyncClientOptions| {
                options.tls = Some(pki.client_config());
                options
            };
            let subscriber = connect(url, with_tls(options(version, &name("sub")))).await;
            let mut messages = subscriber.subscribe("t/#", QoS::ExactlyOnce).await.unwrap();
            assert_eq!(messages.granted(), [ReasonCode::GrantedQos2]);
            let publisher = connect(url, with_tls(options(version, &name("pub")))).await;
            let sent = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
            for qos in sent {
                publisher.publish(&format!("t/{qos}"), format!("payload {qos}"), qos, false).await.unwrap();
            }
            for qos in sent {
                let message = next(&mut messages).await;
                assert_eq!(
                    (message.topic.as_str(), &message.payload[..], message.qos),
                    (format!("t/{qos}").as_str(), format!("payload {qos}").as_bytes(), qos),
                    "{url} {version:?}"
                );
            }
            publisher.disconnect().await;
            subscriber.disconnect().await;
        }
    }
}

#[tokio::test]
async fn each_matching_subscription_gets_a_message_and_a_dropped_one_unsubscribes() {
    let version = ProtocolVersion::V5;
    let (_broker, proxy, client) = behind_proxy(options(version, "dispatch")).await;
    let mut wide = client.subscribe("a/#", QoS::AtLeastOnce).await.unwrap();
    let mut narrow = client.subscribe("a/b", QoS::AtLeastOnce).await.unwrap();
    let twin = client.subscribe("a/#", QoS::AtMostOnce).await.unwrap();
    let mut other = client.subscribe("b/only", QoS::AtLeastOnce).await.unwrap();

    client.publish("a/b", "overlap", QoS::AtLeastOnce, false).await.unwrap();
    assert_eq!(next(&mut wide).await.payload, "overlap");
    assert_eq!(next(&mut narrow).await.payload, "overlap");
    client.publish("b/only", "before", QoS::AtLeastOnce, false).await.unwrap();
    assert_eq!(next(&mut other).await.payload, "before");

    // "a/#" is still wanted by `wide`: only "b/only" is unsubscribed.
    drop(twin);
    drop(other);
    let unsubscribe = |packet: &Packet| matches!(packet, Packet::Unsubscribe(_));
    let Packet::Unsubscribe(unsubscribe) = proxy.wait_for_packet(Direction::ToBroker, version, unsubscribe).await
    else {
        unreachable!()
    };
    assert_eq!(unsubscribe.filters, ["b/only"]);
    proxy.wait_for_packet(Direction::ToClient, version, |packet| matches!(packet, Packet::UnsubAck(_))).await;

    client.publish("b/only", "after", QoS::AtLeastOnce, false).await.unwrap();
    client.publish("a/marker", "marker", QoS::AtLeastOnce, false).await.unwrap();
    // Everything the broker sent before the marker has come: nothing on "b/only" since.
    assert_eq!(next(&mut wide).await.payload, "marker");
    let delivered: Vec<(String, Vec<u8>)> = proxy
        .packets(Direction::ToClient, version)
        .into_iter()
        .filter_map(|packet| match packet {
            Packet::Publish(publish) => Some((publish.topic.to_string(), publish.payload.to_vec())),
            _ => None,
        })
        .collect();
    let expected = [("a/b", "overlap"), ("b/only", "before"), ("a/marker", "marker")];
    let expected: Vec<(String, Vec<u8>)> =
        expected.iter().map(|(topic, payload)| (topic.to_string(), payload.as_bytes().to_vec())).collect();
    assert_eq!(delivered, expected, "one PUBLISH per message, none after the unsubscription");
    client.disconnect().await;
}

/// Publishes `count` messages at QoS 1 and 2 by turns while the proxies lose the
/// acknowledgements both ways, cuts both connections, and checks that every message arrives
/// after the clients reconnect and resume their sessions: QoS 1 at least once, QoS 2 exactly
/// once.
async fn no_message_is_lost_across_a_reconnection(version: ProtocolVersion) {
    const COUNT: usize = 20;
    let qos_of = |index: usize| if index % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
    let broker = EmbeddedBroker::start().unwrap();
    let (to_publisher, to_subscriber) = (Proxy::start(broker.addr()).await, Proxy::start(broker.addr()).await);
    let subscriber = connect(&to_subscriber.url(), persistent(version, &format!("resume-sub-{version:?}"))).await;
    let mut messages = subscriber.subscribe("r/#", QoS::ExactlyOnce).await.unwrap();
    let publisher = connect(&to_publisher.url(), persistent(version, &format!("resume-pub-{version:?}"))).await;

    to_publisher.swallow(Direction::ToClient, true);
    to_subscriber.swallow(Direction::ToBroker, true);
    let mut publishes = JoinSet::new();
    for index in 0..COUNT {
        let publisher = publisher.clone();
        publishes.spawn(async move { publisher.publish("r/m", format!("m{index}"), qos_of(index), false).await });
    }
    // Each acknowledgement is 4 bytes at least: most PUBLISHes reached the broker, and most
    // deliveries the subscriber, and their acknowledgements were lost, among them some of
    // QoS 2 either way.
    to_publisher.swallowed(Direction::ToClient, 4 * COUNT * 3 / 4).await;
    to_subscriber.swallowed(Direction::ToBroker, 4 * COUNT * 3 / 4).await;
    to_publisher.cut();
    to_subscriber.cut();

    let completed = tokio::time::timeout(PATIENCE, async {
        while let Some(result) = publishes.join_next().await {
            result.unwrap().unwrap();
        }
    });
    completed.await.expect("every publish completes after the reconnection");
    let resent_qos2 = |proxy: &Proxy, direction| {
        proxy.connections(direction, version)[1..]
            .concat()
            .into_iter()
            .any(|packet| matches!(packet, Packet::Publish(publish) if publish.dup && publish.qos == QoS::ExactlyOnce))
    };
    assert!(resent_qos2(&to_publisher, Direction::ToBroker), "the publisher sent QoS 2 messages again with DUP");

    // Every message after the end marker was published behind them all.
    publisher.publish("r/end", "end", QoS::ExactlyOnce, false).await.unwrap();
    let mut received: HashMap<String, usize> = HashMap::new();
    loop {
        let message = next(&mut messages).await;
        if message.topic == "r/end" {
            break;
        }
        *received.entry(String::from_utf8(message.payload.to_vec()).unwrap()).or_default() += 1;
    }
    assert!(resent_qos2(&to_subscriber, Direction::ToClient), "the broker sent QoS 2 messages again with DUP");
    for index in 0..COUNT {
        let times = received.get(&format!("m{index}")).copied().unwrap_or(0);
        match qos_of(index) {
            QoS::ExactlyOnce => assert_eq!(times, 1, "QoS 2 message m{index} arrived {times} times"),
            _ => assert!(times >= 1, "QoS 1 message m{index} was lost"),
        }
    }
    publisher.disconnect().await;
    subscriber.disconnect().await;
}

#[tokio::test]
async fn no_message_is_lost_across_a_reconnection_in_3_1_1() {
    no_message_is_lost_across_a_reconnection(ProtocolVersion::V311).await;
}

#[tokio::test]
async fn no_message_is_lost_across_a_reconnection_in_5() {
    no_message_is_lost_across_a_reconnection(ProtocolVersion::V5).await;
}

#[tokio::test]
async fn subscriptions_are_renewed_when_the_broker_kept_no_session() {
    let version = ProtocolVersion::V311;
    let (broker, proxy, subscriber) = behind_proxy(options(version, "renew-sub")).await;
    let mut messages = subscriber.subscribe("c/#", QoS::AtLeastOnce).await.unwrap();
    proxy.cut();
    // The SUBACK of the new connection.
    let resubscribed = |connections: &[Vec<Packet>]| {
        connections.get(1).is_some_and(|packets| packets.iter().any(|packet| matches!(packet, Packet::SubAck(_))))
    };
    proxy.wait_until(Direction::ToClient, version, resubscribed).await;
    let publisher = connect(&broker.url(), options(version, "renew-pub")).await;
    publisher.publish("c/1", "again", QoS::AtLeastOnce, false).await.unwrap();
    assert_eq!(next(&mut messages).await.payload, "again");
}

#[tokio::test]
async fn when_retries_are_exhausted_waiting_publishes_and_subscriptions_end_with_the_reason() {
    let version = ProtocolVersion::V5;
    let mut options = persistent(version, "exhausted");
    options.reconnect = Reconnect { max_retries: Some(2), ..QUICK };
    let (_broker, proxy, client) = behind_proxy(options).await;
    let mut messages = client.subscribe("x", QoS::AtLeastOnce).await.unwrap();
    proxy.swallow(Direction::ToClient, true);
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.publish("x", "lost", QoS::AtLeastOnce, false).await }
    });
    proxy.swallowed(Direction::ToClient, 4).await;
    proxy.stop();
    let exhausted = ClientError::RetriesExhausted { attempts: 2 };
    let result = tokio::time::timeout(PATIENCE, pending).await.expect("the publish fails in time").unwrap();
    assert_eq!(result, Err(exhausted.clone()));
    assert_eq!(client.publish("x", "later", QoS::AtLeastOnce, false).await, Err(exhausted.clone()));
    assert!(tokio::time::timeout(PATIENCE, messages.next()).await.unwrap().is_none(), "the subscription ended");
    assert_eq!(exhausted.to_string(), "the connection is lost and 2 reconnection attempts failed");
}

#[tokio::test]
async fn disconnect_sends_disconnect_and_ends_the_client() {
    for version in VERSIONS {
        let (_broker, proxy, client) = behind_proxy(options(version, "leaving")).await;
        client.publish("t", "last words", QoS::AtMostOnce, false).await.unwrap();
        client.disconnect().await;
        proxy.wait_for_packet(Direction::ToBroker, version, |packet| matches!(packet, Packet::Disconnect(_))).await;
        let sent = proxy.packets(Direction::ToBroker, version);
        assert!(matches!(sent.last(), Some(Packet::Disconnect(_))), "{sent:?}");
        assert!(matches!(sent[sent.len() - 2], Packet::Publish(_)), "{sent:?}");
        assert_eq!(client.publish("t", "too late", QoS::AtMostOnce, false).await, Err(ClientError::Closed));
    }
}

#[tokio::test]
async fn disconnect_with_sends_its_packet_and_a_refused_one_ends_nothing() {
    let (_broker, proxy, client) = behind_proxy(options(ProtocolVersion::V5, "farewell")).await;
    let mut keep = Disconnect::new(ReasonCode::Success);
    keep.properties.session_expiry_interval = Some(60);
    let refused = client.disconnect_with(keep).await;
    assert_eq!(refused, Err(ClientError::Command(CommandError::SessionExpiryAfterZero)));
    client.publish("t", "still connected", QoS::AtLeastOnce, false).await.unwrap();
    let mut with_will = Disconnect::new(ReasonCode::DisconnectWithWillMessage);
    with_will.properties.reason_string = Some(MqttString::try_from("bye").unwrap());
    client.disconnect_with(with_will.clone()).await.unwrap();
    proxy
        .wait_for_packet(Direction::ToBroker, ProtocolVersion::V5, |packet| matches!(packet, Packet::Disconnect(_)))
        .await;
    let sent = proxy.packets(Direction::ToBroker, ProtocolVersion::V5);
    assert_eq!(sent.last(), Some(&Packet::Disconnect(with_will)), "{sent:?}");
    assert_eq!(client.disconnect_with(Disconnect::new(ReasonCode::Success)).await, Ok(()), "already ended");
}

#[tokio::test]
async fn the_keep_alive_pings_a_quiet_broker() {
    let version = ProtocolVersion::V311;
    let mut options = options(version, "pinger");
    options.client.keep_alive = 1;
    let (_broker, proxy, client) = behind_proxy(options).await;
    proxy.wait_for_packet(Direction::ToBroker, version, |packet| matches!(packet, Packet::PingReq)).await;
    proxy.wait_for_packet(Direction::ToClient, version, |packet| matches!(packet, Packet::PingResp)).await;
    client.disconnect().await;
}

/// Refuses every CONNECT for bad credentials.
struct RefuseAll;

impl Policy for RefuseAll {
    fn authenticate(&mut self, _connect: &Connect, _listener: verimqtt::broker::ListenerId) -> Authentication {
        Authentication::refused(ReasonCode::BadUserNameOrPassword)
    }

    fn may_publish(&mut self, _client: ClientInfo<'_>, _topic: &str) -> bool {
        true
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, _filter: &str) -> bool {
        true
    }
}

#[tokio::test]
async fn failing_to_connect_says_why() {
    let closed_port = std::net::TcpListener::bind(localhost()).unwrap().local_addr().unwrap();
    let error = AsyncClient::connect(&format!("mqtt://{closed_port}"), options(ProtocolVersion::V5, "c")).await;
    assert!(matches!(error, Err(ConnectError::Io { .. })), "{error:?}");

    let error = AsyncClient::connect("mqtts://127.0.0.1:1", options(ProtocolVersion::V5, "c")).await;
    assert!(matches!(error, Err(ConnectError::TlsNotConfigured(_))), "{error:?}");

    let error = AsyncClient::connect("http://127.0.0.1", options(ProtocolVersion::V5, "c")).await;
    assert!(matches!(error, Err(ConnectError::Url(_))), "{error:?}");

    let mut enhanced = options(ProtocolVersion::V5, "c");
    enhanced.client.authentication_method = Some(MqttString::try_from("SCRAM-SHA-1").unwrap());
    let error = AsyncClient::connect("mqtt://127.0.0.1:1", enhanced).await;
    assert!(matches!(error, Err(ConnectError::EnhancedAuthentication)), "{error:?}");

    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), RefuseAll).unwrap();
    for (version, code) in [
        (ProtocolVersion::V5, ReasonCode::BadUserNameOrPassword),
        (ProtocolVersion::V311, ReasonCode::BadUserNameOrPassword),
    ] {
        let url = format!("mqtt://alice:wrong@{}", broker.addr());
        let error = AsyncClient::connect(&url, options(version, "c")).await;
        assert!(matches!(error, Err(ConnectError::Refused(refused)) if refused == code), "{version:?}: {error:?}");
    }
}

/// Lets everyone in, and nobody publish or subscribe under `secret/`.
struct KeepSecrets;

impl Policy for KeepSecrets {
    fn authenticate(&mut self, _connect: &Connect, _listener: verimqtt::broker::ListenerId) -> Authentication {
        Authentication::ACCEPTED
    }

    fn may_publish(&mut self, _client: ClientInfo<'_>, topic: &str) -> bool {
        !topic.starts_with("secret/")
    }

    fn may_subscribe(&mut self, _client: ClientInfo<'_>, filter: &str) -> bool {
        !filter.starts_with("secret/")
    }
}

#[tokio::test]
async fn refusals_by_the_broker_are_errors() {
    let broker = EmbeddedBroker::start_with(BrokerOptions::default(), KeepSecrets).unwrap();
    for (version, refused) in
        [(ProtocolVersion::V311, ReasonCode::UnspecifiedError), (ProtocolVersion::V5, ReasonCode::NotAuthorized)]
    {
        let client = connect(&broker.url(), options(version, "curious")).await;
        let subscribed = client.subscribe("secret/#", QoS::AtLeastOnce).await;
        assert_eq!(subscribed.err(), Some(ClientError::Rejected(refused)), "{version:?}");
        let filters = ["open/#", "secret/x"].map(|filter| verimqtt::codec::Subscription {
            filter: MqttString::try_from(filter).unwrap(),
            options: verimqtt::codec::SubscriptionOptions::new(QoS::AtMostOnce),
        });
        let partly = client.subscribe_many(filters.to_vec()).await;
        assert_eq!(partly.err(), Some(ClientError::Rejected(refused)), "one refused filter fails the subscription");
        let published = client.publish("secret/x", "psst", QoS::AtLeastOnce, false).await;
        match version {
            ProtocolVersion::V5 => assert_eq!(published, Err(ClientError::Rejected(ReasonCode::NotAuthorized))),
            // 3.1.1 acknowledges a refused PUBLISH as any other [MQTT-3.3.5-2].
            ProtocolVersion::V311 => assert_eq!(published, Ok(())),
        }
        client.disconnect().await;
    }
}

#[tokio::test]
async fn a_client_certificate_opens_a_listener_that_requires_one() {
    let pki = Pki::generate();
    let listener = Listener::bind(localhost(), Transport::Tls(acceptor(&pki, true))).unwrap();
    let broker = EmbeddedBroker::serve(Server::new(BrokerOptions::default(), AllowAll).listener(listener)).unwrap();
    let url = format!("mqtts://127.0.0.1:{}", broker.addr().port());
    let mut certified = options(ProtocolVersion::V5, "certified");
    certified.tls = Some(pki.client_config_with_certificate());
    connect(&url, certified).await.disconnect().await;
    let mut anonymous = options(ProtocolVersion::V5, "anonymous");
    anonymous.tls = Some(pki.client_config());
    let stranger = Pki::generate();
    let mut foreign = options(ProtocolVersion::V5, "foreign");
    foreign.tls = Some(stranger.client_config_for(&pki));
    for refused in [anonymous, foreign] {
        let refused = AsyncClient::connect(&url, refused).await;
        assert!(matches!(refused, Err(ConnectError::Io { .. } | ConnectError::Closed(_))), "{refused:?}");
    }
}

#[tokio::test]
async fn a_subscription_dropped_while_disconnected_is_unsubscribed_on_reconnection() {
    let version = ProtocolVersion::V5;
    let mut options = persistent(version, "forgetful");
    // Time enough to drop the subscription while the connection is down.
    options.reconnect = Reconnect { initial_delay: Duration::from_secs(1), max_delay: Duration::from_secs(1), ..QUICK };
    let (_broker, proxy, client) = behind_proxy(options).await;
    let subscription = client.subscribe("gone/#", QoS::AtLeastOnce).await.unwrap();
    proxy.cut();
    // A QoS 0 message needs a connection: its refusal says the client saw the cut.
    while client.publish("probe", "", QoS::AtMostOnce, false).await != Err(ClientError::NotConnected) {}
    drop(subscription);
    let unsubscribed_on_reconnection = |connections: &[Vec<Packet>]| {
        connections.get(1).is_some_and(|packets| {
            packets
                .iter()
                .any(|packet| matches!(packet, Packet::Unsubscribe(unsubscribe) if unsubscribe.filters == ["gone/#"]))
        })
    };
    proxy.wait_until(Direction::ToBroker, version, unsubscribed_on_reconnection).await;
    client.disconnect().await;
}

#[tokio::test]
async fn what_a_resumed_session_brings_before_subscribing_again_is_not_lost() {
    let broker = EmbeddedBroker::start().unwrap();
    for version in VERSIONS {
        let id = format!("resumer-{version:?}");
        let first = connect(&broker.url(), persistent(version, &id)).await;
        let subscription = first.subscribe("s/#", QoS::AtLeastOnce).await.unwrap();
        // Disconnected first, the subscription stays in the session when dropped.
        first.disconnect().await;
        drop(subscription);
        let publisher = connect(&broker.url(), options(version, &format!("{id}-publisher"))).await;
        publisher.publish("s/1", "while away", QoS::AtLeastOnce, false).await.unwrap();
        // The broker sends it right after the CONNACK, before the SUBACK of this subscription.
        let again = connect(&broker.url(), persistent(version, &id)).await;
        let mut messages = again.subscribe("s/#", QoS::AtLeastOnce).await.unwrap();
        assert_eq!(next(&mut messages).await.payload, "while away", "{version:?}");
        again.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_application_slows_the_publisher_down_and_loses_nothing() {
    // Small queues everywhere: the subscription holds 8 messages, the broker congests its
    // session at 50. Without backpressure, 3,000 messages published as fast as possible to
    // an application that reads one every few hundred microseconds would be dropped.
    let limits = BrokerOptions { max_queued_messages: 100, ..BrokerOptions::default() };
    let broker = EmbeddedBroker::start_with(limits, AllowAll).unwrap();
    const MESSAGES: usize = 3000;
    for version in VERSIONS {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let mut slow = options(version, "slow");
            slow.subscription_capacity = 8;
            let subscriber = connect(&broker.url(), slow).await;
            let mut messages = subscriber.subscribe("slow/#", qos).await.unwrap();
            let publisher = connect(&broker.url(), options(version, "fast")).await;
            let flood = tokio::spawn(async move {
                for n in 0..MESSAGES {
                    publisher.publish("slow/x", n.to_string(), qos, false).await.unwrap();
                }
                publisher
            });
            for n in 0..MESSAGES {
                let message = next(&mut messages).await;
                assert_eq!(message.payload, n.to_string(), "{version} {qos:?}: lost or out of order");
                if n % 100 < 10 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            flood.await.unwrap().disconnect().await;
            subscriber.disconnect().await;
        }
    }
}
