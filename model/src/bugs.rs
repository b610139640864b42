//! Classic MQTT bugs that can be seeded into the model.
//!
//! Each one shows that a property is not vacuous: with the bug seeded, the checker must find a
//! counterexample to the property the bug is listed against. The bug is a small switch inside
//! the honest code path, where a real implementation would get it wrong.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The broker keeps the QoS 2 packet ids awaiting PUBREL per connection instead of per
    /// session, so a PUBLISH resent after a reconnect is delivered again.
    BrokerForgetsQos2Ids,
    /// The client resends unacknowledged PUBLISH packets with DUP=0.
    ClientResendsWithoutDup,
    /// The client frees a QoS 2 packet id at PUBREC instead of PUBCOMP and reuses it while the
    /// PUBREL is still unacknowledged.
    PacketIdReusedInFlight,
    /// The broker closes a silent connection after 1.0 x keep alive instead of 1.5 x.
    KeepAliveCloseAtOneK,
    /// The broker ignores a normal DISCONNECT and publishes the will anyway.
    WillAfterCleanDisconnect,
    /// The client does not resend its unacknowledged packets when its session is resumed.
    ResendSkippedAfterReconnect,
    /// The broker both sends a QoS 0 message and queues it, so it goes out twice.
    Qos0SentTwice,
    /// On reconnect the broker sends queued messages before resending the unacknowledged ones.
    QueuedBeforeResend,
    /// The client sends a new PINGREQ every keep alive even when the last one is unanswered.
    PingWithoutWaiting,
    /// The broker sets Session Present whenever the client asks to resume, session or not.
    SessionPresentWithoutSession,
    /// The broker drops a persistent session's queued messages when its connection closes.
    OfflineQueueDropped,
    /// The broker ignores the client's Receive Maximum (5.0).
    ReceiveMaximumIgnored,
    /// The broker never closes a connection for keep alive.
    KeepAliveNotEnforced,
    /// The client restarts its session expiry clock whenever a connection closes, including one
    /// whose CONNACK never came (verimqtt's client before issue 16), so it can keep state past
    /// the broker's expiry of the session (5.0).
    ClientExpiryFromEveryClose,
    /// The client resends its unacknowledged PUBLISH packets with every keep alive PINGREQ,
    /// not only on a resumed session (5.0 forbids it).
    ResendOnPing,
    /// On a resumed session the client resends the PUBLISH of a QoS 2 message whose PUBREL it
    /// had already sent, instead of the PUBREL.
    PublishResentAfterPubRel,
    /// The client pings only when it has received nothing for a keep alive, forgetting that it
    /// must also send something within each one.
    PingOnlyWhenSilent,
    /// On a resumed session the broker resends its QoS 1 PUBLISHes before its QoS 2 ones (each
    /// level in order): allowed by MQTT, not by verimqtt's design.
    BrokerResendsQos1First,
    /// With a durable store, the broker sends PUBACK/PUBREC before the store has made the
    /// message durable for the persistent sessions it was routed to, so a restart can lose a
    /// message it acknowledged.
    AckBeforeStore,
    /// A new connection that resumes the session does not cancel a will still waiting out its
    /// delay, which is published anyway (5.0).
    WillNotCancelledOnResume,
    /// The broker's store keeps sessions but not their wills: after a restart the wills of
    /// the connections it ended, and those waiting out a delay, are never published.
    RestartLosesWills,
    /// The broker's store keeps sessions but not the retained messages: after a restart a new
    /// subscription gets none of those committed before it.
    RestartLosesRetained,
    /// The broker routes every message to every subscribed session, whatever its topic.
    TopicIgnored,
    /// With overlapping subscriptions the broker sends the copy at the QoS of the first
    /// matching subscription instead of the highest.
    CopyQosOfFirstMatch,
    /// The broker sends a session's queued messages topic by topic (each topic in order):
    /// allowed by MQTT, not by verimqtt's design.
    QueuedByTopic,
    /// The broker deletes the will on any DISCONNECT, 0x04 Disconnect with Will Message
    /// included (5.0).
    WillDroppedOnDisconnectWithWill,
    /// The broker answers UNSUBSCRIBE with UNSUBACK but keeps the subscription.
    UnsubscribeIgnored,
    /// The broker drops a resumed session's subscriptions (keeping its messages), so the
    /// subscriber, which knows it subscribed, is sent nothing new.
    SubscriptionsForgottenOnResume,
    /// A retained PUBLISH on a topic that already has a retained message neither replaces
    /// nor (with an empty payload) deletes it: the first one stays.
    RetainedKept,
    /// The broker sends a new subscription no retained message.
    RetainedNotSentOnSubscribe,
    /// The client reads a QoS 1 PUBLISH and the one waiting behind it in one go, and sends
    /// their PUBACKs last first (as a receiver that stacks the acknowledgements of a read).
    PubAcksReversedPerRead,
    /// The same with QoS 2 PUBLISHes and their PUBRECs.
    PubRecsReversedPerRead,
    /// The broker does the same with the QoS 1 PUBLISHes of a publisher.
    BrokerPubAcksReversedPerRead,
    /// On a resumed session the client resends its PUBRELs newest first (a stack, not a
    /// queue).
    PubRelsResentNewestFirst,
    /// The broker publishes, on an abnormal close, the will it holds for another client (as a
    /// table of wills indexed by the wrong key would).
    WillOfAnotherClient,
    /// On a resumed session the broker sends what waited in its queue but never resends its
    /// unacknowledged flights.
    BrokerResendSkippedOnResume,
    /// On a resumed session the broker resends its unacknowledged PUBLISHes with DUP=0.
    BrokerResendsWithoutDup,
    /// The broker sends a copy at the published QoS, not lowered to the subscription's grant.
    CopyQosNotLowered,
    /// The broker answers a SUBSCRIBE that adds filters to a subscribed session with SUBACK
    /// but keeps the session's subscriptions as they were (as a broker that takes any
    /// SUBSCRIBE of a subscribed session for a repeat would).
    AddedSubscriptionIgnored,
    /// The broker gives a queued copy the QoS of the subscriptions its session holds when it
    /// sends the copy, not of those that matched when it was routed.
    QueuedCopyRegranted,
    /// The client bounds its unacknowledged QoS 1/2 PUBLISHes by the Receive Maximum it
    /// announced itself, not by the one the broker's CONNACK carried (5.0).
    QuotaFromOwnReceiveMaximum,
    /// The broker takes Retain Handling 1 for 0: a SUBSCRIBE that repeats a subscription the
    /// session has gets the retained messages again (5.0).
    RetainHandling1Ignored,
    /// The broker takes Retain Handling 2 for 0: the subscription gets the retained messages
    /// (5.0).
    RetainHandling2Ignored,
    /// The broker forwards every copy with RETAIN=0, Retain As Published or not (5.0).
    RetainAsPublishedIgnored,
    /// The broker looks for an identical subscription after adding the new one, so a filter
    /// with Retain Handling 1 always finds one and never gets the retained messages (5.0).
    RetainHandlingCheckedAfterSubscribe,
    /// The broker does not check a payload against its Payload Format Indicator: it routes a
    /// message whose payload is not the UTF-8 it claims and acknowledges it as a success (5.0).
    PayloadFormatUnchecked,
    /// The broker does not check its own Receive Maximum: it acknowledges a QoS 1/2 PUBLISH
    /// beyond it instead of closing the connection with DISCONNECT 0x93 (5.0).
    BeyondQuotaTaken,
    /// A sender takes a PUBREC of 0x80 or more for a success: the client releases a QoS 2
    /// message the broker refused, the broker answers a hostile client's refusing PUBREC for
    /// an unknown id with PUBREL 0x92 (5.0).
    RefusedPubRecReleased,
}

impl Bug {
    pub const ALL: [Bug; 48] = [
        Bug::BrokerForgetsQos2Ids,
        Bug::ClientResendsWithoutDup,
        Bug::PacketIdReusedInFlight,
        Bug::KeepAliveCloseAtOneK,
        Bug::WillAfterCleanDisconnect,
        Bug::ResendSkippedAfterReconnect,
        Bug::Qos0SentTwice,
        Bug::QueuedBeforeResend,
        Bug::PingWithoutWaiting,
        Bug::SessionPresentWithoutSession,
        Bug::OfflineQueueDropped,
        Bug::ReceiveMaximumIgnored,
        Bug::KeepAliveNotEnforced,
        Bug::ClientExpiryFromEveryClose,
        Bug::ResendOnPing,
        Bug::PublishResentAfterPubRel,
        Bug::PingOnlyWhenSilent,
        Bug::BrokerResendsQos1First,
        Bug::AckBeforeStore,
        Bug::WillNotCancelledOnResume,
        Bug::RestartLosesWills,
        Bug::RestartLosesRetained,
        Bug::TopicIgnored,
        Bug::CopyQosOfFirstMatch,
        Bug::QueuedByTopic,
        Bug::WillDroppedOnDisconnectWithWill,
        Bug::UnsubscribeIgnored,
        Bug::SubscriptionsForgottenOnResume,
        Bug::RetainedKept,
        Bug::RetainedNotSentOnSubscribe,
        Bug::PubAcksReversedPerRead,
        Bug::PubRecsReversedPerRead,
        Bug::BrokerPubAcksReversedPerRead,
        Bug::PubRelsResentNewestFirst,
        Bug::WillOfAnotherClient,
        Bug::BrokerResendSkippedOnResume,
        Bug::BrokerResendsWithoutDup,
        Bug::CopyQosNotLowered,
        Bug::AddedSubscriptionIgnored,
        Bug::QueuedCopyRegranted,
        Bug::QuotaFromOwnReceiveMaximum,
        Bug::RetainHandling1Ignored,
        Bug::RetainHandling2Ignored,
        Bug::RetainAsPublishedIgnored,
        Bug::RetainHandlingCheckedAfterSubscribe,
        Bug::PayloadFormatUnchecked,
        Bug::BeyondQuotaTaken,
        Bug::RefusedPubRecReleased,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::BrokerForgetsQos2Ids => "broker-forgets-qos2-ids",
            Bug::ClientResendsWithoutDup => "client-resends-without-dup",
            Bug::PacketIdReusedInFlight => "packet-id-reused-in-flight",
            Bug::KeepAliveCloseAtOneK => "keep-alive-close-at-1k",
            Bug::WillAfterCleanDisconnect => "will-after-clean-disconnect",
            Bug::ResendSkippedAfterReconnect => "resend-skipped-after-reconnect",
            Bug::Qos0SentTwice => "qos0-sent-twice",
            Bug::QueuedBeforeResend => "queued-before-resend",
            Bug::PingWithoutWaiting => "ping-without-waiting",
            Bug::SessionPresentWithoutSession => "session-present-without-session",
            Bug::OfflineQueueDropped => "offline-queue-dropped",
            Bug::ReceiveMaximumIgnored => "receive-maximum-ignored",
            Bug::KeepAliveNotEnforced => "keep-alive-not-enforced",
            Bug::ClientExpiryFromEveryClose => "client-expiry-from-every-close",
            Bug::ResendOnPing => "resend-on-ping",
            Bug::PublishResentAfterPubRel => "publish-resent-after-pubrel",
            Bug::PingOnlyWhenSilent => "ping-only-when-silent",
            Bug::BrokerResendsQos1First => "broker-resends-qos1-first",
            Bug::AckBeforeStore => "ack-before-store",
            Bug::WillNotCancelledOnResume => "will-not-cancelled-on-resume",
            Bug::RestartLosesWills => "restart-loses-wills",
            Bug::RestartLosesRetained => "restart-loses-retained",
            Bug::TopicIgnored => "topic-ignored",
            Bug::CopyQosOfFirstMatch => "copy-qos-of-first-match",
            Bug::QueuedByTopic => "queued-by-topic",
            Bug::WillDroppedOnDisconnectWithWill => "will-dropped-on-disconnect-with-will",
            Bug::UnsubscribeIgnored => "unsubscribe-ignored",
            Bug::SubscriptionsForgottenOnResume => "subscriptions-forgotten-on-resume",
            Bug::RetainedKept => "retained-kept",
            Bug::RetainedNotSentOnSubscribe => "retained-not-sent-on-subscribe",
            Bug::PubAcksReversedPerRead => "pubacks-reversed-per-read",
            Bug::PubRecsReversedPerRead => "pubrecs-reversed-per-read",
            Bug::BrokerPubAcksReversedPerRead => "broker-pubacks-reversed-per-read",
            Bug::PubRelsResentNewestFirst => "pubrels-resent-newest-first",
            Bug::WillOfAnotherClient => "will-of-another-client",
            Bug::BrokerResendSkippedOnResume => "broker-resend-skipped-on-resume",
            Bug::BrokerResendsWithoutDup => "broker-resends-without-dup",
            Bug::CopyQosNotLowered => "copy-qos-not-lowered",
            Bug::AddedSubscriptionIgnored => "added-subscription-ignored",
            Bug::QueuedCopyRegranted => "queued-copy-regranted",
            Bug::QuotaFromOwnReceiveMaximum => "quota-from-own-receive-maximum",
            Bug::RetainHandling1Ignored => "retain-handling-1-ignored",
            Bug::RetainHandling2Ignored => "retain-handling-2-ignored",
            Bug::RetainAsPublishedIgnored => "retain-as-published-ignored",
            Bug::RetainHandlingCheckedAfterSubscribe => "retain-handling-checked-after-subscribe",
            Bug::PayloadFormatUnchecked => "payload-format-unchecked",
            Bug::BeyondQuotaTaken => "beyond-quota-taken",
            Bug::RefusedPubRecReleased => "refused-pubrec-released",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }

    /// The property this bug breaks (see `properties::CATALOGUE`).
    pub fn breaks(self) -> &'static str {
        use crate::properties::names::*;
        match self {
            Bug::BrokerForgetsQos2Ids => QOS2_NOT_DUPLICATED,
            Bug::ClientResendsWithoutDup => DUP_MARKS_RESENDS,
            Bug::PacketIdReusedInFlight => PACKET_IDS_UNIQUE,
            Bug::KeepAliveCloseAtOneK => KEEPALIVE_NOT_EARLY,
            Bug::WillAfterCleanDisconnect => WILL_IFF_ABNORMAL,
            Bug::ResendSkippedAfterReconnect => DELIVERED_WHEN_QUIET,
            Bug::Qos0SentTwice => QOS0_AT_MOST_ONCE,
            Bug::QueuedBeforeResend => ORDER_PRESERVED,
            Bug::PingWithoutWaiting => ONE_PING_OUTSTANDING,
            Bug::SessionPresentWithoutSession => SESSION_PRESENT_IFF_SESSION,
            Bug::OfflineQueueDropped => SESSION_MESSAGES_KEPT,
            Bug::ReceiveMaximumIgnored => RECEIVE_MAXIMUM_RESPECTED,
            Bug::KeepAliveNotEnforced => SILENT_CONNECTION_CLOSED,
            Bug::ClientExpiryFromEveryClose => NO_STALE_RESUME,
            Bug::ResendOnPing => RESEND_ONLY_ON_RESUMPTION,
            Bug::PublishResentAfterPubRel => NO_PUBLISH_AFTER_PUBREL,
            Bug::PingOnlyWhenSilent => KEEPALIVE_DUTY,
            Bug::BrokerResendsQos1First => ORDER_ACROSS_QOS,
            Bug::AckBeforeStore => DELIVERED_WHEN_QUIET,
            Bug::WillNotCancelledOnResume => WILL_IFF_ABNORMAL,
            Bug::RestartLosesWills => WILL_IFF_ABNORMAL,
            Bug::RestartLosesRetained => DELIVERED_WHEN_QUIET,
            Bug::TopicIgnored => ROUTED_TO_SUBSCRIBERS,
            Bug::CopyQosOfFirstMatch => COPY_AT_GRANTED_QOS,
            Bug::QueuedByTopic => ORDER_ACROSS_TOPICS,
            Bug::WillDroppedOnDisconnectWithWill => WILL_IFF_ABNORMAL,
            Bug::UnsubscribeIgnored => ROUTED_TO_SUBSCRIBERS,
            Bug::SubscriptionsForgottenOnResume => DELIVERED_WHEN_QUIET,
            Bug::RetainedKept => RETAINED_IS_LATEST,
            Bug::RetainedNotSentOnSubscribe => DELIVERED_WHEN_QUIET,
            Bug::PubAcksReversedPerRead => PUBACKS_IN_ORDER,
            Bug::PubRecsReversedPerRead => PUBRECS_IN_ORDER,
            Bug::BrokerPubAcksReversedPerRead => PUBACKS_IN_ORDER,
            Bug::PubRelsResentNewestFirst => PUBRELS_IN_ORDER,
            Bug::WillOfAnotherClient => INTEGRITY,
            Bug::BrokerResendSkippedOnResume => BOUNDED_RESPONSE,
            Bug::BrokerResendsWithoutDup => DUP_MARKS_RESENDS,
            Bug::CopyQosNotLowered => COPY_AT_GRANTED_QOS,
            Bug::AddedSubscriptionIgnored => COPY_AT_GRANTED_QOS,
            Bug::QueuedCopyRegranted => COPY_AT_GRANTED_QOS,
            Bug::QuotaFromOwnReceiveMaximum => RECEIVE_MAXIMUM_RESPECTED,
            Bug::RetainHandling1Ignored => RETAINED_AS_HANDLED,
            Bug::RetainHandling2Ignored => RETAINED_AS_HANDLED,
            Bug::RetainAsPublishedIgnored => RETAIN_FLAG_CORRECT,
            Bug::RetainHandlingCheckedAfterSubscribe => DELIVERED_WHEN_QUIET,
            Bug::PayloadFormatUnchecked => INTEGRITY,
            Bug::BeyondQuotaTaken => BEYOND_QUOTA_REFUSED,
            Bug::RefusedPubRecReleased => NO_PUBREL_AFTER_REFUSAL,
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for bug in Bug::ALL {
            assert_eq!(Bug::from_name(bug.name()), Some(bug));
        }
        assert_eq!(Bug::from_name("no-such-bug"), None);
    }
}
