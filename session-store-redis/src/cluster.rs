//! Walking every key under the prefix, on one server or on every primary
//! of a cluster (`SCAN` addressed by slot).

use redis::{Cmd, Value};
use sessionward_core::StoreError;

use crate::connection::Conn;
use crate::error::map_err;
use crate::{RedisStore, keys};

impl RedisStore {
    /// Every per-user hash key under the prefix, from every primary.
    pub(crate) async fn scan_keys(&self) -> Result<Vec<String>, StoreError> {
        let pattern = keys::sessions_pattern(&self.inner.prefix);
        let mut found = Vec::new();
        match self.conn() {
            Conn::Standalone(mut conn) => {
                let mut cursor = 0u64;
                loop {
                    let cmd = scan_cmd(cursor, &pattern, self.inner.scan_batch);
                    let (next, batch): (u64, Vec<String>) =
                        self.run(cmd.query_async(&mut conn)).await?;
                    found.extend(batch);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Conn::Cluster(mut conn) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let slots = self
                    .run(conn.route_command(
                        redis::cmd("CLUSTER").arg("SLOTS").clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                    ))
                    .await?;
                for slot in cluster_primary_slots(&slots) {
                    let mut cursor = 0u64;
                    loop {
                        // Addressed by a slot the primary owns: no host names
                        // needed (a node may announce an empty host).
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                            Route::new(slot, SlotAddr::Master),
                        ));
                        let cmd = scan_cmd(cursor, &pattern, self.inner.scan_batch);
                        let reply = self.run(conn.route_command(cmd, routing)).await?;
                        let (next, batch): (u64, Vec<String>) =
                            redis::from_redis_value(reply).map_err(|e| map_err(e.into()))?;
                        found.extend(batch);
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        Ok(found)
    }
}

fn scan_cmd(cursor: u64, pattern: &str, count: usize) -> Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count)
        .arg("TYPE")
        .arg("hash");
    cmd
}

/// One slot owned by each distinct primary in a `CLUSTER SLOTS` reply
/// (primaries told apart by node id, else by address).
fn cluster_primary_slots(reply: &Value) -> Vec<u16> {
    let mut seen: Vec<String> = Vec::new();
    let mut slots = Vec::new();
    let Value::Array(ranges) = reply else {
        return slots;
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        _ => String::new(),
    };
    for range in ranges {
        let Value::Array(parts) = range else { continue };
        let (Some(Value::Int(start)), Some(Value::Array(primary))) = (parts.first(), parts.get(2))
        else {
            continue;
        };
        let Ok(start) = u16::try_from(*start) else {
            continue;
        };
        let node = match text(primary.get(2)) {
            id if !id.is_empty() => id,
            _ => format!("{}:{}", text(primary.first()), text(primary.get(1))),
        };
        if !seen.contains(&node) {
            seen.push(node);
            slots.push(start);
        }
    }
    slots
}
