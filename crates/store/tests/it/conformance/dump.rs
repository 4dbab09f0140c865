//! Logical dumps of the server databases: a restore replaces every table in one transaction,
//! and a dump that fails half-way leaves the database as it was. SQLite refuses: it is backed
//! up as a file.

use kunci_domain::accounts::{Account, AccountStore as _};
use kunci_domain::session::Scope;
use kunci_store::{Database, DumpError};

fn account(id: &str, name: &str) -> Account {
    Account {
        id: id.to_owned(),
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
        scopes: vec![Scope::User],
        disabled: false,
        created_at: 1_800_000_000,
        password_changed_at: 1_800_000_000,
    }
}

async fn dump_of(db: &Database) -> Result<String, DumpError> {
    let mut out = Vec::new();
    db.export(11, &mut out, &mut |_, _| {}).await?;
    Ok(String::from_utf8(out).unwrap())
}

async fn names(db: &Database) -> Vec<String> {
    let mut names: Vec<String> = db
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    names.sort();
    names
}

async fn a_restore_replaces_everything_or_nothing(db: Database) {
    db.migrate().await.unwrap();
    db.insert(&account("a1", "alice"), &super::journal(&db, "alice"))
        .await
        .unwrap();
    db.insert(&account("a2", "bob"), &super::journal(&db, "bob"))
        .await
        .unwrap();
    let dump = match dump_of(&db).await {
        Err(DumpError::Sqlite) if db.backend() == kunci_store::Backend::Sqlite => return,
        other => other.unwrap(),
    };
    assert!(
        dump.lines().next().unwrap().contains("\"kunci_dump\":1"),
        "{dump}"
    );

    db.insert(&account("a3", "carol"), &super::journal(&db, "carol"))
        .await
        .unwrap();
    let restored = db
        .import(&mut dump.as_bytes(), &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        restored.rows,
        u64::try_from(dump.lines().count() - 2 - restored.tables).unwrap()
    );
    assert_eq!(names(&db).await, ["alice", "bob"], "carol is replaced");

    // A duplicate row fails the insert of the accounts half-way: nothing changes.
    db.insert(&account("a4", "dave"), &super::journal(&db, "dave"))
        .await
        .unwrap();
    let alice_row = dump
        .lines()
        .find(|l| l.starts_with("[\"a1\""))
        .unwrap()
        .to_owned();
    let duplicated = dump.replacen(&alice_row, &format!("{alice_row}\n{alice_row}"), 1);
    let recounted = bump_count(&duplicated, "accounts");
    assert!(
        matches!(
            db.import(&mut recounted.as_bytes(), &mut |_, _| {}).await,
            Err(DumpError::Sql { .. })
        ),
        "the second alice breaks the primary key"
    );
    assert_eq!(
        names(&db).await,
        ["alice", "bob", "dave"],
        "a failed restore changes nothing"
    );

    // A dump cut short is refused, and changes nothing.
    let cut: String = dump
        .lines()
        .take(dump.lines().count() - 1)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert!(matches!(
        db.import(&mut cut.as_bytes(), &mut |_, _| {}).await,
        Err(DumpError::Malformed(_))
    ));
    assert_eq!(names(&db).await, ["alice", "bob", "dave"]);
}

/// Adds one to the row count the header gives `table` (and to the end line's total).
fn bump_count(dump: &str, table: &str) -> String {
    let mut lines: Vec<String> = dump.lines().map(str::to_owned).collect();
    let mut header: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    for t in header["tables"].as_array_mut().unwrap() {
        if t["name"] == table {
            t["rows"] = (t["rows"].as_u64().unwrap() + 1).into();
        }
    }
    lines[0] = header.to_string();
    let last = lines.len() - 1;
    let mut end: serde_json::Value = serde_json::from_str(&lines[last]).unwrap();
    end["end"]["rows"] = (end["end"]["rows"].as_u64().unwrap() + 1).into();
    lines[last] = end.to_string();
    lines.join("\n") + "\n"
}

crate::backends!(a_restore_replaces_everything_or_nothing);
