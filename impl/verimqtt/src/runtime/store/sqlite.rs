//! The store's file: its tables, how records are written in them and read back.
//!
//! A message is kept once, however many sessions it goes to, as the MQTT 5 PUBLISH that
//! would carry it (topic, payload, QoS, RETAIN, properties), encoded and decoded by the
//! codec: one format for the wire and the disk, checked by the same strict decoder. A
//! session's delivery refers to it by number, with what is its own (QoS, RETAIN,
//! Subscription Identifiers, flight). Sessions, messages and retained messages carry the
//! wall clock time they were written, from which expiries go on counting after a restart;
//! `meta` keeps the time of the last commit, the nearest the store knows of when the broker
//! stopped.

use std::collections::HashMap;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use rusqlite::{Connection, OptionalExtension, params};

use crate::broker::{
    DeliveryRecord, FlightRecord, FlightStage, MessageRecord, Recovered, RecoveredSession, SessionRecord, StoreOp,
    SubscriptionRecord, WillRecord,
};
use crate::codec::{
    self, Binary, DecodeOptions, MqttString, Packet, PacketId, Properties, ProtocolVersion, Publish, QoS,
    RetainHandling, SubscriptionId, SubscriptionOptions, Will,
};

use super::{StoreError, SyncPolicy};

/// The format this verimqtt writes and reads; a file of another is refused. Format 1 kept a
/// copy of a message per session.
const FORMAT: u32 = 2;

const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sessions (
        client_id BLOB PRIMARY KEY, version INTEGER NOT NULL, expiry_interval INTEGER NOT NULL,
        awaiting_release BLOB NOT NULL, online INTEGER NOT NULL, written_at INTEGER NOT NULL,
        will BLOB, will_delay INTEGER, will_username BLOB);
    CREATE TABLE subscriptions (
        client_id BLOB NOT NULL, filter BLOB NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
        retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER,
        PRIMARY KEY (client_id, filter));
    CREATE TABLE messages (
        number INTEGER PRIMARY KEY, publish BLOB NOT NULL, publisher BLOB, written_at INTEGER NOT NULL);
    CREATE TABLE deliveries (
        client_id BLOB NOT NULL, entry INTEGER NOT NULL, message INTEGER NOT NULL, qos INTEGER NOT NULL,
        retain INTEGER NOT NULL, subscription_ids BLOB NOT NULL,
        packet_id INTEGER, stage INTEGER, flight_order INTEGER,
        PRIMARY KEY (client_id, entry));
    CREATE TABLE retained (
        topic BLOB PRIMARY KEY, publish BLOB NOT NULL, publisher BLOB, written_at INTEGER NOT NULL);
";

/// A row of a table of messages: a number, the PUBLISH, its publisher, when it was written.
type PublishRow = (i64, Vec<u8>, Option<Vec<u8>>, i64);

/// An open store: the file, and what it held when it was opened until the broker takes it.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    db: Connection,
    sync: SyncPolicy,
    last_sync: Instant,
    recovered: Option<Recovered>,
}

impl Store {
    /// Opens the store at `path`, creating it if there is no file, and reads what it holds.
    /// A file that is not a verimqtt store, is damaged, or has another format is an error.
    pub fn open(path: &Path, sync: SyncPolicy) -> Result<Store, StoreError> {
        let sqlite = |source| StoreError::Sqlite { path: path.to_owned(), source };
        let db = Connection::open(path).map_err(sqlite)?;
        let journal: String = db.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0)).map_err(sqlite)?;
        if journal != "wal" {
            let what = format!("SQLite cannot keep a write-ahead log for it (journal mode {journal})");
            return Err(StoreError::Corrupt { path: path.to_owned(), what });
        }
        let synchronous = if sync == SyncPolicy::Always { "FULL" } else { "OFF" };
        db.execute_batch(&format!("PRAGMA synchronous={synchronous}")).map_err(sqlite)?;
        let check: String = db.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(sqlite)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                what: format!("SQLite finds it damaged: {check}"),
            });
        }
        let mut store = Store { path: path.to_owned(), db, sync, last_sync: Instant::now(), recovered: None };
        store.prepare()?;
        store.recovered = Some(store.load()?);
        Ok(store)
    }

    /// What the store held when it was opened, once; afterwards nothing.
    pub fn take_recovered(&mut self) -> Recovered {
        self.recovered.take().unwrap_or_default()
    }

    /// The file the store is in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), what: what.into() }
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// Creates the tables in an empty file; checks the format of one that has them.
    fn prepare(&mut self) -> Result<(), StoreError> {
        let tables: i64 = self
            .db
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        if tables == 0 {
            let transaction =
                self.db.transaction().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
            transaction.execute_batch(SCHEMA).map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
            transaction
                .execute("INSERT INTO meta (key, value) VALUES ('format', ?1)", [FORMAT.to_string()])
                .map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e })?;
            return transaction.commit().map_err(|e| StoreError::Sqlite { path: self.path.clone(), source: e });
        }
        let format: Option<String> = self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| row.get(0))
            .optional()
            .map_err(|_| self.corrupt("not a verimqtt store: it has tables but no format"))?;
        match format {
            Some(found) if found == FORMAT.to_string() => Ok(()),
            Some(found) => Err(StoreError::Incompatible { path: self.path.clone(), found, expected: FORMAT }),
            None => Err(self.corrupt("not a verimqtt store: it has tables but no format")),
        }
    }

    /// Every session with its subscriptions and deliveries, the messages they refer to, and
    /// every retained message: one query per table, whatever the number of sessions.
    fn load(&self) -> Result<Recovered, StoreError> {
        let now = SystemTime::now();
        let mut subscriptions = self.subscriptions()?;
        let mut deliveries = self.deliveries()?;
        let stopped_at = self.last_write()?;
        let mut statement = self
            .db
            .prepare(
                "SELECT client_id, version, expiry_interval, awaiting_release, online, written_at,
                 will, will_delay, will_username FROM sessions",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, u8>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                    row.get::<_, bool>(4)?,
                    row.get::<_, i64>(5)?,
                    (
                        row.get::<_, Option<Vec<u8>>>(6)?,
                        row.get::<_, Option<u32>>(7)?,
                        row.get::<_, Option<Vec<u8>>>(8)?,
                    ),
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut sessions = Vec::new();
        for row in rows {
            let (client_id, version, expiry_interval, awaiting, online, written_at, will) =
                row.map_err(|e| self.sqlite(e))?;
            let client_id = self.string(client_id, "a session's client identifier")?;
            let version = match version {
                4 => ProtocolVersion::V311,
                5 => ProtocolVersion::V5,
                other => return Err(self.corrupt(format!("session {client_id:?}: protocol level {other}"))),
            };
            let awaiting_release = awaiting
                .chunks(2)
                .map(|pair| pair.try_into().ok().map(u16::from_be_bytes).and_then(PacketId::new))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.corrupt(format!("session {client_id:?}: its QoS 2 identifiers")))?;
            let record = SessionRecord {
                subscriptions: subscriptions.remove(&client_id).unwrap_or_default(),
                client_id: client_id.clone(),
                version,
                expiry_interval,
                awaiting_release,
                online,
                will: self.will(will, &client_id)?,
            };
            let deliveries = deliveries.remove(&client_id).unwrap_or_default();
            let offline_since = if online { stopped_at } else { written_at };
            sessions.push(RecoveredSession { record, offline_for: age(offline_since, now), deliveries });
        }
        let mut messages = Vec::new();
        for (number, publish, publisher, written_at) in
            self.publishes("SELECT number, publish, publisher, written_at FROM messages")?
        {
            let message = self.message(publish, publisher, &format!("message {number}"))?;
            messages.push((number as u64, message, age(written_at, now)));
        }
        let mut retained = Vec::new();
        for (_, publish, publisher, written_at) in
            self.publishes("SELECT 0, publish, publisher, written_at FROM retained")?
        {
            retained.push((self.message(publish, publisher, "a retained message")?, age(written_at, now)));
        }
        Ok(Recovered { sessions, messages, retained })
    }

    /// The rows of `query`, a table of messages.
    fn publishes(&self, query: &str) -> Result<Vec<PublishRow>, StoreError> {
        let mut statement = self.db.prepare(query).map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// A session's will from its columns: the message as a PUBLISH, its delay, its user.
    fn will(
        &self,
        (publish, delay, username): (Option<Vec<u8>>, Option<u32>, Option<Vec<u8>>),
        client_id: &MqttString,
    ) -> Result<Option<WillRecord>, StoreError> {
        let Some(publish) = publish else { return Ok(None) };
        let what = format!("session {client_id:?}: its will");
        let MessageRecord { topic, payload, qos, retain, mut properties, .. } = self.message(publish, None, &what)?;
        properties.will_delay_interval = delay;
        let payload = Binary::try_from(payload).map_err(|error| self.corrupt(format!("{what}: {error}")))?;
        let username = username.map(|bytes| self.string(bytes, "a will's user name")).transpose()?;
        Ok(Some(WillRecord { will: Will { topic, payload, qos, retain, properties }, username }))
    }

    /// When the store was last written: the nearest it knows of when the broker stopped.
    fn last_write(&self) -> Result<i64, StoreError> {
        let latest = "SELECT value FROM meta WHERE key = 'written_at'";
        let latest: Option<String> =
            self.db.query_row(latest, [], |row| row.get(0)).optional().map_err(|e| self.sqlite(e))?;
        latest.map_or(Ok(0), |text| text.parse().map_err(|_| self.corrupt(format!("last written at {text:?}"))))
    }

    /// Every session's subscriptions, by client identifier.
    fn subscriptions(&self) -> Result<HashMap<MqttString, Vec<SubscriptionRecord>>, StoreError> {
        let mut statement = self
            .db
            .prepare(
                "SELECT client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id
                 FROM subscriptions",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, u8>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, bool>(4)?,
                    row.get::<_, u8>(5)?,
                    row.get::<_, Option<u32>>(6)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut subscriptions: HashMap<MqttString, Vec<SubscriptionRecord>> = HashMap::new();
        for row in rows {
            let (client_id, filter, qos, no_local, retain_as_published, retain_handling, id) =
                row.map_err(|e| self.sqlite(e))?;
            let client_id = self.string(client_id, "a subscription's client identifier")?;
            let filter = self.string(filter, "a subscription's filter")?;
            let broken = || self.corrupt(format!("session {client_id:?}: subscription {filter:?}"));
            let qos = QoS::from_u8(qos).ok_or_else(broken)?;
            let retain_handling = match retain_handling {
                0 => RetainHandling::SendAtSubscribe,
                1 => RetainHandling::SendIfNewSubscription,
                2 => RetainHandling::DoNotSend,
                _ => return Err(broken()),
            };
            let id = id.map(|id| SubscriptionId::new(id).ok_or_else(broken)).transpose()?;
            let options = SubscriptionOptions { qos, no_local, retain_as_published, retain_handling };
            subscriptions.entry(client_id).or_default().push(SubscriptionRecord { filter, options, id });
        }
        Ok(subscriptions)
    }

    /// Every session's deliveries, by client identifier, in the order of their entries.
    #[expect(clippy::type_complexity, reason = "the shape RecoveredSession::deliveries has")]
    fn deliveries(&self) -> Result<HashMap<MqttString, Vec<(u64, DeliveryRecord, Option<FlightRecord>)>>, StoreError> {
        let mut statement = self
            .db
            .prepare(
                "SELECT client_id, entry, message, qos, retain, subscription_ids, packet_id, stage, flight_order
                 FROM deliveries ORDER BY client_id, entry",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, u8>(3)?,
                    row.get::<_, bool>(4)?,
                    row.get::<_, Vec<u8>>(5)?,
                    (row.get::<_, Option<u16>>(6)?, row.get::<_, Option<u8>>(7)?, row.get::<_, Option<i64>>(8)?),
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut deliveries: HashMap<MqttString, Vec<_>> = HashMap::new();
        for row in rows {
            let (client_id, entry, message, qos, retain, ids, flight) = row.map_err(|e| self.sqlite(e))?;
            let client_id = self.string(client_id, "a delivery's client identifier")?;
            let what = format!("session {client_id:?}: delivery {entry}");
            let qos = QoS::from_u8(qos).ok_or_else(|| self.corrupt(format!("{what}: QoS {qos}")))?;
            let subscription_ids = ids
                .chunks(4)
                .map(|word| word.try_into().ok().map(u32::from_be_bytes).and_then(SubscriptionId::new))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.corrupt(format!("{what}: its Subscription Identifiers")))?;
            let flight = self.flight(flight, &what)?;
            let delivery = DeliveryRecord { message: message as u64, qos, retain, subscription_ids };
            deliveries.entry(client_id).or_default().push((entry as u64, delivery, flight));
        }
        Ok(deliveries)
    }

    /// A delivery's flight from its columns: none, or all three.
    fn flight(
        &self,
        columns: (Option<u16>, Option<u8>, Option<i64>),
        what: &str,
    ) -> Result<Option<FlightRecord>, StoreError> {
        match columns {
            (None, None, None) => Ok(None),
            (Some(packet_id), Some(stage), Some(order)) => {
                let stage = match stage {
                    1 => FlightStage::PubAck,
                    2 => FlightStage::PubRec,
                    3 => FlightStage::PubComp,
                    _ => return Err(self.corrupt(format!("{what}: flight stage {stage}"))),
                };
                let packet_id =
                    PacketId::new(packet_id).ok_or_else(|| self.corrupt(format!("{what}: packet identifier 0")))?;
                Ok(Some(FlightRecord { packet_id, stage, order: order as u64 }))
            }
            _ => Err(self.corrupt(format!("{what}: a flight half written"))),
        }
    }

    fn string(&self, bytes: Vec<u8>, what: &str) -> Result<MqttString, StoreError> {
        MqttString::try_from(String::from_utf8(bytes).map_err(|_| self.corrupt(format!("{what}: not UTF-8")))?)
            .map_err(|error| self.corrupt(format!("{what}: {error}")))
    }

    fn message(&self, publish: Vec<u8>, publisher: Option<Vec<u8>>, what: &str) -> Result<MessageRecord, StoreError> {
        let mut bytes = BytesMut::from(&publish[..]);
        let decoded = codec::decode(&mut bytes, &DecodeOptions::new(ProtocolVersion::V5));
        let Ok(Some(Packet::Publish(publish))) = decoded else {
            return Err(self.corrupt(format!("{what}: not a PUBLISH the codec accepts ({decoded:?})")));
        };
        let publisher = publisher.map(|bytes| self.string(bytes, "a message's publisher")).transpose()?;
        let Publish { topic, payload, qos, retain, properties, .. } = publish;
        Ok(MessageRecord { topic, payload, qos, retain, properties, publisher })
    }

    /// Applies changes in one transaction, waiting for the disk as the policy says.
    pub(crate) fn apply(&mut self, ops: &[(u64, StoreOp)]) -> Result<(), StoreError> {
        let sync_now = match self.sync {
            SyncPolicy::Interval(interval) => self.last_sync.elapsed() >= interval,
            SyncPolicy::Always | SyncPolicy::Never => false,
        };
        if sync_now {
            self.db.execute_batch("PRAGMA synchronous=FULL").map_err(|e| self.sqlite(e))?;
        }
        let written_at = wall_millis(SystemTime::now());
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite { path: path.clone(), source };
        let transaction = self.db.transaction().map_err(sqlite)?;
        for (_, op) in ops {
            apply_one(&transaction, op, written_at).map_err(sqlite)?;
        }
        transaction
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('written_at', ?1)")
            .and_then(|mut statement| statement.execute([written_at.to_string()]))
            .map_err(sqlite)?;
        transaction.commit().map_err(sqlite)?;
        if sync_now {
            self.db.execute_batch("PRAGMA synchronous=OFF").map_err(sqlite)?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }
}

fn apply_one(db: &Connection, op: &StoreOp, written_at: i64) -> rusqlite::Result<()> {
    match op {
        StoreOp::PutSession(record) => {
            let client_id = key(&record.client_id);
            let awaiting: Vec<u8> = record.awaiting_release.iter().flat_map(|id| id.get().to_be_bytes()).collect();
            let version: u8 = if record.version.is_v5() { 5 } else { 4 };
            let will = record.will.as_ref().map(|stored| {
                let will = &stored.will;
                let mut properties = will.properties.clone();
                let delay = properties.will_delay_interval.take();
                let bytes = publish_bytes(&will.topic, will.payload.as_bytes(), will.qos, will.retain, properties);
                (bytes, delay, stored.username.as_ref().map(key))
            });
            let (will, will_delay, will_username) = match &will {
                Some((bytes, delay, username)) => (Some(&bytes[..]), *delay, *username),
                None => (None, None, None),
            };
            db.prepare_cached(
                "INSERT OR REPLACE INTO sessions
                 (client_id, version, expiry_interval, awaiting_release, online, written_at,
                  will, will_delay, will_username)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                client_id,
                version,
                record.expiry_interval,
                awaiting,
                record.online,
                written_at,
                will,
                will_delay,
                will_username
            ])?;
            db.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1")?.execute([client_id])?;
            let mut insert = db.prepare_cached(
                "INSERT INTO subscriptions
                 (client_id, filter, qos, no_local, retain_as_published, retain_handling, subscription_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for subscription in &record.subscriptions {
                let options = subscription.options;
                insert.execute(params![
                    client_id,
                    key(&subscription.filter),
                    options.qos as u8,
                    options.no_local,
                    options.retain_as_published,
                    options.retain_handling as u8,
                    subscription.id.map(|id| id.get()),
                ])?;
            }
        }
        StoreOp::DeleteSession { client_id } => {
            for table in ["sessions", "subscriptions", "deliveries"] {
                db.prepare_cached(&format!("DELETE FROM {table} WHERE client_id = ?1"))?.execute([key(client_id)])?;
            }
        }
        StoreOp::PutMessage { message, record } => {
            db.prepare_cached(
                "INSERT OR REPLACE INTO messages (number, publish, publisher, written_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                *message as i64,
                &message_bytes(record)[..],
                publisher(record),
                written_at
            ])?;
        }
        StoreOp::DeleteMessage { message } => {
            db.prepare_cached("DELETE FROM messages WHERE number = ?1")?.execute([*message as i64])?;
        }
        StoreOp::PutDelivery { client_id, entry, delivery } => {
            let ids: Vec<u8> = delivery.subscription_ids.iter().flat_map(|id| id.get().to_be_bytes()).collect();
            db.prepare_cached(
                "INSERT OR REPLACE INTO deliveries (client_id, entry, message, qos, retain, subscription_ids)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key(client_id),
                *entry as i64,
                delivery.message as i64,
                delivery.qos as u8,
                delivery.retain,
                ids
            ])?;
        }
        StoreOp::PutFlight { client_id, entry, flight } => {
            let stage: u8 = match flight.stage {
                FlightStage::PubAck => 1,
                FlightStage::PubRec => 2,
                FlightStage::PubComp => 3,
            };
            db.prepare_cached(
                "UPDATE deliveries SET packet_id = ?3, stage = ?4, flight_order = ?5
                 WHERE client_id = ?1 AND entry = ?2",
            )?
            .execute(params![
                key(client_id),
                *entry as i64,
                flight.packet_id.get(),
                stage,
                flight.order as i64
            ])?;
        }
        StoreOp::DeleteDelivery { client_id, entry } => {
            db.prepare_cached("DELETE FROM deliveries WHERE client_id = ?1 AND entry = ?2")?
                .execute(params![key(client_id), *entry as i64])?;
        }
        StoreOp::PutRetained(message) => {
            db.prepare_cached(
                "INSERT OR REPLACE INTO retained (topic, publish, publisher, written_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                key(&message.topic),
                &message_bytes(message)[..],
                publisher(message),
                written_at
            ])?;
        }
        StoreOp::DeleteRetained { topic } => {
            db.prepare_cached("DELETE FROM retained WHERE topic = ?1")?.execute([key(topic)])?;
        }
    }
    Ok(())
}

fn publisher(message: &MessageRecord) -> Option<&[u8]> {
    message.publisher.as_ref().map(key)
}

/// A string's bytes, as a key.
fn key(text: &MqttString) -> &[u8] {
    let text: &str = text;
    text.as_bytes()
}

/// The MQTT 5 PUBLISH that carries the message.
fn message_bytes(message: &MessageRecord) -> Bytes {
    let MessageRecord { topic, payload, qos, retain, properties, .. } = message;
    publish_bytes(topic, payload, *qos, *retain, properties.clone())
}

/// An MQTT 5 PUBLISH; a QoS 1 or 2 one needs an identifier, any.
fn publish_bytes(topic: &MqttString, payload: &Bytes, qos: QoS, retain: bool, properties: Properties) -> Bytes {
    let packet_id = PacketId::new(1).filter(|_| qos != QoS::AtMostOnce);
    let mut publish = Publish::new(topic.clone(), qos, packet_id, payload.clone());
    publish.retain = retain;
    publish.properties = properties;
    let mut bytes = BytesMut::new();
    // The broker made the record from a PUBLISH or CONNECT it accepted: it encodes.
    let _ = codec::encode(&Packet::Publish(publish), ProtocolVersion::V5, &mut bytes);
    bytes.freeze()
}

fn wall_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}

/// How long ago a row written at `written_at` was, by the wall clock; zero if the clock
/// went back.
fn age(written_at: i64, now: SystemTime) -> Duration {
    Duration::from_millis(u64::try_from(wall_millis(now).saturating_sub(written_at)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> MqttString {
        MqttString::try_from(text).unwrap()
    }

    fn message(topic: &str, qos: QoS, retain: bool) -> MessageRecord {
        let mut properties = Properties::default();
        properties.content_type = Some(string("text/plain"));
        properties.message_expiry_interval = Some(60);
        properties.user_properties.push((string("k"), string("v")));
        MessageRecord {
            topic: string(topic),
            payload: Bytes::from_static(b"payload"),
            qos,
            retain,
            properties,
            publisher: Some(string("publisher")),
        }
    }

    fn delivery(message: u64, qos: QoS) -> DeliveryRecord {
        DeliveryRecord { message, qos, retain: false, subscription_ids: vec![SubscriptionId::new(7).unwrap()] }
    }

    #[test]
    fn what_is_written_is_read_back_as_it_was() {
        let path = std::env::temp_dir().join(format!("verimqtt-store-{}.db", std::process::id()));
        let mut will = Will {
            topic: string("last/words"),
            payload: Binary::from_static(b"gone").unwrap(),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::default(),
        };
        will.properties.will_delay_interval = Some(9);
        will.properties.response_topic = Some(string("reply/here"));
        let options = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::SendIfNewSubscription,
        };
        let record = SessionRecord {
            client_id: string("keeper"),
            version: ProtocolVersion::V5,
            expiry_interval: 3600,
            subscriptions: vec![SubscriptionRecord {
                filter: string("a/+"),
                options,
                id: Some(SubscriptionId::new(7).unwrap()),
            }],
            awaiting_release: vec![PacketId::new(3).unwrap(), PacketId::new(5).unwrap()],
            online: true,
            will: Some(WillRecord { will, username: Some(string("alice")) }),
        };
        let flight = FlightRecord { packet_id: PacketId::new(4).unwrap(), stage: FlightStage::PubComp, order: 2 };
        let client_id = string("keeper");
        let put = |entry, delivery| StoreOp::PutDelivery { client_id: client_id.clone(), entry, delivery };
        let ops = [
            StoreOp::PutSession(record.clone()),
            StoreOp::PutMessage { message: 1, record: message("a/1", QoS::ExactlyOnce, false) },
            put(1, delivery(1, QoS::ExactlyOnce)),
            StoreOp::PutFlight { client_id: client_id.clone(), entry: 1, flight },
            StoreOp::PutMessage { message: 2, record: message("a/2", QoS::ExactlyOnce, false) },
            put(2, delivery(2, QoS::AtLeastOnce)),
            put(3, delivery(2, QoS::AtMostOnce)),
            StoreOp::DeleteDelivery { client_id: client_id.clone(), entry: 3 },
            StoreOp::PutMessage { message: 3, record: message("a/3", QoS::AtLeastOnce, false) },
            put(4, delivery(3, QoS::AtLeastOnce)),
            StoreOp::DeleteDelivery { client_id, entry: 4 },
            StoreOp::DeleteMessage { message: 3 },
            StoreOp::PutRetained(message("r", QoS::AtLeastOnce, true)),
        ];
        let numbered: Vec<(u64, StoreOp)> = (1..).zip(ops).collect();
        Store::open(&path, SyncPolicy::Always).unwrap().apply(&numbered).unwrap();

        let recovered = Store::open(&path, SyncPolicy::Never).unwrap().take_recovered();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let [session] = &recovered.sessions[..] else { panic!("{recovered:?}") };
        assert_eq!(session.record, record);
        assert_eq!(
            session.deliveries,
            [(1, delivery(1, QoS::ExactlyOnce), Some(flight)), (2, delivery(2, QoS::AtLeastOnce), None)]
        );
        let messages: Vec<_> =
            recovered.messages.iter().map(|(number, message, _)| (*number, message.clone())).collect();
        assert_eq!(
            messages,
            [(1, message("a/1", QoS::ExactlyOnce, false)), (2, message("a/2", QoS::ExactlyOnce, false))]
        );
        let retained: Vec<_> = recovered.retained.iter().map(|(message, _)| message.clone()).collect();
        assert_eq!(retained, [message("r", QoS::AtLeastOnce, true)]);
    }
}
