//! Accounts in the SQL database.

use async_trait::async_trait;
use kunci_domain::accounts::{Account, AccountStore};
use kunci_domain::audit::Journal;
use kunci_domain::session::Scope;
use kunci_domain::store::StoreError;

use super::audit::journaled;
use super::{Database, store_error, with_pool};

type Row = (String, String, String, String, i64, i64, i64);

const COLUMNS: &str =
    "id, username, password_hash, scopes, disabled, created_at, password_changed_at";

fn decode(row: Row) -> Result<Account, StoreError> {
    let scopes = row
        .3
        .split_whitespace()
        .map(|s| s.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|()| StoreError::corrupt("sql", "accounts holds an unknown scope"))?;
    Ok(Account {
        id: row.0,
        username: row.1,
        password_hash: row.2,
        scopes,
        disabled: row.4 != 0,
        created_at: row.5,
        password_changed_at: row.6,
    })
}

fn scopes(account: &Account) -> String {
    account
        .scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Database {
    async fn one_account(&self, column: &str, value: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE {column} = $1");
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(self.sql(sql)).bind(value)
            .fetch_optional(pool).await)
        .map_err(store_error)?;
        row.map(decode).transpose()
    }
}

#[async_trait]
impl AccountStore for Database {
    async fn insert(&self, account: &Account, journal: &Journal) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        journaled!(self, Some(journal), tx => sqlx::query(self.sql(sql.clone()))
            .bind(&account.id).bind(&account.username).bind(&account.password_hash)
            .bind(scopes(account)).bind(i64::from(account.disabled))
            .bind(account.created_at).bind(account.password_changed_at)
            .execute(&mut *tx).await.map(drop).map_err(store_error))
    }

    async fn by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        self.one_account("username", username).await
    }

    async fn by_id(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.one_account("id", id).await
    }

    async fn list(&self) -> Result<Vec<Account>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM accounts ORDER BY username"));
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
            .map_err(store_error)?;
        rows.into_iter().map(decode).collect()
    }

    async fn set_scopes(
        &self,
        username: &str,
        scopes: &[Scope],
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        let text = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        journaled!(self, Some(journal), tx => sqlx::query(
                self.sql("UPDATE accounts SET scopes = $1 WHERE username = $2"))
            .bind(&text).bind(username)
            .execute(&mut *tx).await.map(|r| r.rows_affected() == 1).map_err(store_error))
    }

    async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        journal: &Journal,
    ) -> Result<bool, StoreError> {
        journaled!(self, Some(journal), tx => sqlx::query(
                self.sql("UPDATE accounts SET disabled = $1 WHERE username = $2"))
            .bind(i64::from(disabled)).bind(username)
            .execute(&mut *tx).await.map(|r| r.rows_affected() == 1).map_err(store_error))
    }

    async fn set_password(
        &self,
        username: &str,
        hash: &str,
        now: i64,
        journal: Option<&Journal>,
    ) -> Result<bool, StoreError> {
        journaled!(self, journal, tx => sqlx::query(self.sql(
            "UPDATE accounts SET password_hash = $1, password_changed_at = $2 WHERE username = $3"))
            .bind(hash).bind(now).bind(username)
            .execute(&mut *tx).await.map(|r| r.rows_affected() == 1).map_err(store_error))
    }
}
