//! Notification episodes on every SQL backend: one start and one end per episode, whoever asks.

use kunci_domain::notify::EpisodeStore as _;
use kunci_store::Database;

async fn an_episode_changes_once_each_way(db: Database) {
    db.migrate().await.unwrap();
    assert!(
        !db.transition("pool:google", false, 1).await.unwrap(),
        "no end without a start"
    );
    assert!(
        db.transition("pool:google", true, 2).await.unwrap(),
        "starts"
    );
    assert!(
        !db.transition("pool:google", true, 3).await.unwrap(),
        "already open"
    );
    assert!(
        db.transition("pool:other", true, 3).await.unwrap(),
        "episodes are independent"
    );
    assert!(
        db.transition("pool:google", false, 4).await.unwrap(),
        "ends"
    );
    assert!(
        !db.transition("pool:google", false, 5).await.unwrap(),
        "already ended"
    );
    assert!(
        db.transition("pool:google", true, 6).await.unwrap(),
        "a new episode"
    );
}

async fn concurrent_callers_see_one_change(db: Database) {
    db.migrate().await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.transition("pool:race", true, i).await.unwrap() })
        })
        .collect();
    let mut changed = 0;
    for task in tasks {
        changed += usize::from(task.await.unwrap());
    }
    assert_eq!(changed, 1);
}

crate::backends!(
    an_episode_changes_once_each_way,
    concurrent_callers_see_one_change
);
