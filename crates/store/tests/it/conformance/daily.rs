//! Uses per API key and day on every SQL backend: counts add up per key and day, and a read
//! from a day on leaves the days before out.

use kunci_domain::apikeys::{DailyUse, DailyUseStore as _};
use kunci_store::Database;

async fn counts_add_up_per_key_and_day(db: Database) {
    db.migrate().await.unwrap();
    db.add("key_a", 20_000, 3).await.unwrap();
    db.add("key_a", 20_000, 2).await.unwrap();
    db.add("key_a", 20_001, 1).await.unwrap();
    db.add("key_b", 19_990, 7).await.unwrap();
    let since = db.since(20_000).await.unwrap();
    assert_eq!(
        since,
        [
            DailyUse {
                key_id: "key_a".into(),
                day: 20_000,
                uses: 5
            },
            DailyUse {
                key_id: "key_a".into(),
                day: 20_001,
                uses: 1
            },
        ]
    );
    assert_eq!(db.since(0).await.unwrap().len(), 3);
}

crate::backends!(counts_add_up_per_key_and_day);
