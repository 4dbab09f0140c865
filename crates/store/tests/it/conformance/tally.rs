//! Counts per name and time bucket on every SQL backend, in each table that keeps them: counts
//! add up per name and bucket, and a read from a bucket on leaves the earlier ones out.

use kunci_domain::tally::{Tally, TallyStore as _};
use kunci_store::{Database, SqlTallies, TallyTable};

async fn counts_add_up_per_name_and_bucket(db: Database) {
    db.migrate().await.unwrap();
    for table in [TallyTable::KeyDays, TallyTable::ActivityHours] {
        let tallies = SqlTallies::new(db.clone(), table);
        tallies.add("key_a", 20_000, 3).await.unwrap();
        tallies.add("key_a", 20_000, 2).await.unwrap();
        tallies.add("key_a", 20_001, 1).await.unwrap();
        tallies.add("key_b", 19_990, 7).await.unwrap();
        let tally = |name: &str, bucket, count| Tally {
            name: name.into(),
            bucket,
            count,
        };
        assert_eq!(
            tallies.since(20_000).await.unwrap(),
            [tally("key_a", 20_000, 5), tally("key_a", 20_001, 1)],
            "{table:?}"
        );
        assert_eq!(tallies.since(0).await.unwrap().len(), 3, "{table:?}");
    }
}

crate::backends!(counts_add_up_per_name_and_bucket);
