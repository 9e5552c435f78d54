//! Helpers shared by the integration test modules.

use tokio_postgres::Client;

/// Reads every batch ready now for `consumer` on `queue`, finishing each;
/// returns the event payloads in delivery order.
pub(crate) async fn read_batches(client: &Client, queue: &str, consumer: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let batch: Option<i64> = client
            .query_one("select pgq.next_batch($1, $2)", &[&queue, &consumer])
            .await
            .unwrap()
            .get(0);
        let Some(batch) = batch else {
            return seen;
        };
        for row in client
            .query("select ev_data from pgq.get_batch_events($1)", &[&batch])
            .await
            .unwrap()
        {
            seen.push(row.get(0));
        }
        client
            .query_one("select pgq.finish_batch($1)", &[&batch])
            .await
            .unwrap();
    }
}
