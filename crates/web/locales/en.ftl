# kunci's pages in English. Every message here has its twin in id.ftl (a test holds them
# equal); a template asks for one with t("message-id").

## The frame of every page

site-name = kunci
nav-home = Home
nav-account = My account
nav-admin = Console
nav-keys = API keys
nav-sign-in = Sign in
nav-sign-out = Sign out
nav-skip = Skip to the content
signed-in-as = Signed in as { $name }
language-label = Language
language-switch = Bahasa Indonesia
language-switch-hint = Baca halaman ini dalam Bahasa Indonesia

## Home

home-title = Welcome
home-signed-in = You are signed in as { $name }.
home-guest = You are browsing as a guest. Your browser has its own session; nothing else is needed.
home-scopes = Scopes
home-idle-until = Session ends if idle at

## Forbidden

forbidden-title = Forbidden
forbidden-body = This page is not available to you. Either your session does not have the access it needs, or your browser refused the cookies this site needs to keep you signed in.
forbidden-cookies = If cookies are blocked, allow them for this site and start again.
forbidden-start-again = Start again
forbidden-other-account = Sign in as someone else

## Sign in

login-title = Sign in
login-expired = Your session has ended. Sign in again to continue.
login-username = Username
login-password = Password
login-submit = Sign in
login-invalid-credentials = The username or password is wrong.
login-password-too-long = Passwords are at most 256 bytes.
login-locked = Too many failed sign-ins for this account. Try again later.
login-too-many = Too many sign-in attempts from your network. Wait a minute, then try again.
login-busy = This account is being signed in to right now. Try again in a moment.
login-unavailable = Signing in is not possible right now. Try again shortly.

## My account

account-title = My account
account-sessions = Where you are signed in
account-sessions-hint = Every browser and app signed in to your account. End any you do not recognise.
account-col-kind = Device
account-col-created = Signed in
account-col-last-seen = Last active
account-kind-browser = Browser
account-kind-app = App ({ $client })
account-this-one = this one
account-end = End
account-not-me = This wasn't me: end every other session
account-not-me-hint = Ends every session and app login of your account except this browser. Change your password too if someone else knew it.
account-password = Change password
account-password-current = Current password
account-password-new = New password
account-password-confirm = New password again
account-password-hint = At least { $min } characters. Every other session of your account ends.
account-password-submit = Change password
account-password-wrong = The current password is wrong.
account-password-short = The new password needs at least { $min } characters.
account-password-long = The new password is longer than 256 bytes.
account-password-mismatch = The two new passwords are not the same.
account-password-locked = Too many wrong passwords for this account. Try again later.
account-notice-ended = That session has ended.
account-notice-others_ended = Every other session has ended.
account-notice-password_changed = Your password is changed, and every other session has ended.
account-notice-failed = The change could not be made; try again.

## Accounts (administrators)

nav-accounts = Accounts
accounts-title = Accounts
accounts-search = Find a name
accounts-search-submit = Find
accounts-count = { $count ->
    [one] One account
   *[other] { $count } accounts
}
accounts-col-name = Name
accounts-col-access = Access
accounts-col-created = Created
accounts-admin = administrator
accounts-user = user
accounts-active = active
accounts-disabled = disabled
accounts-locked = locked until
accounts-enable = Enable
accounts-disable = Disable
accounts-unlock = Unlock
accounts-pages = Pages of accounts
accounts-previous = Previous
accounts-next = Next
accounts-page = Page { $page } of { $pages }
accounts-empty = No account has that name.
accounts-add = Add an account
accounts-add-admin = Administrator (sees these pages and the API keys)
accounts-add-hint = The password needs at least { $min } characters. Give it to the person another way; they can change it on their own page.
accounts-add-submit = Add account
accounts-error-name = A name is 1 to 64 characters of a–z, 0–9 and . _ @ + - (compared in lowercase).
accounts-error-exists = An account of that name exists already.
accounts-error-short = The password needs at least { $min } characters.
accounts-error-long = The password is longer than 256 bytes.
accounts-notice-added = The account was added.
accounts-notice-disabled = The account is disabled: its sign-ins are refused.
accounts-notice-enabled = The account can sign in again.
accounts-notice-unlocked = The name is unlocked; its failed sign-ins are forgotten.
accounts-notice-not_locked = That name was not locked.
accounts-notice-not_yourself = You cannot disable your own account here: another administrator can, or `kunci user disable`.

## API keys

keys-title = API keys
keys-add = Add a key
keys-field-key = Key
keys-field-upstream = Upstream
keys-field-priority = Priority
keys-field-group = Quota group
keys-field-group-placeholder = project_number:123 (optional)
keys-field-budget = Daily budget
keys-field-budget-placeholder = (optional)
keys-submit = Add key
keys-no-upstream = No upstream is configured: add an [upstream.<name>] table with its adapter (docs/api-keys.md).
keys-list = Keys
keys-test-hint = Test makes one real call with the key: it spends a call of the key's quota, and an administrator may run at most five a minute.
keys-col-key = Key
keys-col-upstream = Upstream
keys-col-status = Status
keys-col-priority = Priority
keys-col-group = Group
keys-col-uses = Uses
keys-col-last-used = Last used
keys-col-back-at = Back at
keys-col-last-error = Last error
keys-col-actions = Actions
keys-back-in = in { $minutes } min
keys-uses-today = { $used }/{ $budget } today
keys-enable = Enable
keys-disable = Disable
keys-test = Test
keys-test-title = One real call: spends quota
keys-delete = Delete
keys-manage = Change or delete
key-title = Key { $key }
key-change = Change
key-change-hint = An empty quota group or daily budget removes it. Keys of one quota group share its daily quota: when one runs out, all of them rest.
key-save = Save
key-delete = Delete this key
key-delete-what = Requests stop using this key at once, on every instance. Its usage history stays in the audit log. This cannot be undone: to use the key again, add it again.
key-delete-confirm = Yes, delete this key
keys-empty = The pool is empty.
keys-top = Most use
keys-top-account = Account
keys-top-calls = Calls
keys-top-empty = No calls yet.
keys-status-active = active
keys-status-cooling = cooling
keys-status-quota_exceeded = quota spent
keys-status-probing = probing
keys-status-invalid = invalid
keys-status-disabled = disabled

## What a change on the key page says after it

notice-added = The key was added.
notice-updated = The key was updated.
notice-deleted = The key was deleted.
notice-duplicate = This key is in the pool already.
notice-bad_format = That does not look like a key of this upstream.
notice-bad_upstream = No upstream of that name is configured.
notice-bad_input = Priority and daily budget are whole numbers (the budget at least 1); a quota group is at most 128 characters, without control characters.
notice-unknown = There is no such key.
notice-failed = The change could not be made; see the log.
notice-test_served = Test: the upstream answered; the key works.
notice-test_invalid = Test: the upstream refused the key; it is marked invalid.
notice-test_quota_exceeded = Test: the key's quota is spent; it rests until the time shown.
notice-test_cooling = Test: the upstream throttled or failed; the key rests a little.
notice-test_client_error = Test: the upstream refused the request itself (check the upstream's configuration); the key is not blamed.
notice-test_unreachable = Test: the upstream could not be reached.
notice-test_untestable = Keys of this upstream cannot be tested: set its test_path.
notice-confirm_delete = Tick the confirmation to delete the key.
notice-test_limited = Too many tests: each spends quota. Wait a minute.

## The title of an API error (problem+json), by its stable code

problem-not_found = No such resource.
problem-method_not_allowed = This method is not allowed on this resource.
problem-not_ready = The service is not ready.
problem-unauthenticated = Authentication is required.
problem-session_expired = The session has ended; log in again.
problem-insufficient_scope = This needs a scope the session does not have.
problem-store_unavailable = A store this request needs is unavailable; try again shortly.
problem-bad_signature = The request signature does not verify.
problem-stale_timestamp = The request timestamp is more than 300 seconds from the server's clock.
problem-replayed_nonce = This nonce was used before; sign every request anew.
problem-payload_too_large = The request body is too large.
problem-uri_too_long = The request URI is too long.
problem-headers_too_large = The request headers are too large.
problem-csrf_failed = The request lacks a valid CSRF token or comes from another site.
problem-invalid_credentials = The username or password is wrong.
problem-password_too_long = Passwords are at most 256 bytes.
problem-invalid_request = The request body is not valid for this resource.
problem-token_expired = The access token has expired; refresh it and retry.
problem-invalid_token = The access token is not valid.
problem-invalid_grant = The refresh token is not valid; log in again.
problem-account_locked = Too many failed logins for this account; try again later.
problem-rate_limited = Too many requests; slow down.
problem-no_api_key_available = No API key is available for this upstream right now.
problem-upstream_config_error = The upstream refused the request as malformed: check its configuration.
problem-upstream_throttled = The upstream is throttling us; try again later.
problem-upstream_unavailable = The upstream could not be reached.
problem-duplicate_api_key = This key is in the pool already.
problem-invalid_api_key = The key does not have the format this upstream uses.
problem-internal_error = Something went wrong on our side.

## Dates

date-never = —
# A time on a page, in UTC (the page's script shows it in the reader's own time zone).
date-time = { $day } { $month } { $year }, { $hour }:{ $minute } UTC
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec

## The console's own navigation

console-nav = Console
console-overview = Overview
console-signing-keys = Signing keys
console-clients = Service clients
console-audit = Audit log

## Signing keys

signing-title = Signing keys
signing-intro = One key ring signs the session tokens, the CSRF tokens and the access tokens. Each purpose has one active key; after a rotation the previous key keeps verifying what it signed until its window ends, and is then retired by the schedule.
signing-col-kid = Key id
signing-col-purpose = Signs
signing-col-created = Created
signing-col-since = In this state since
signing-col-verifications = Verifications
signing-purpose-cookie = session and CSRF tokens
signing-purpose-jwt = access tokens (JWT)
signing-state-active = active
signing-state-verify = verifies only
signing-state-retired = retired
signing-age = { $days ->
    [0] less than a day old
    [one] one day old
   *[other] { $days } days old
}
signing-retire = Retire
signing-rotate-title = Rotate
signing-rotate-what = A rotation makes a new active key. The previous one keeps verifying, so a rotation signs nobody out. Every instance uses the new key within two seconds.
signing-rotate-cookie = Rotate the session key
signing-rotate-jwt = Rotate the access-token key
signing-notice-rotated_cookie = The session key was rotated. The previous key still verifies.
signing-notice-rotated_jwt = The access-token key was rotated. The previous key still verifies and stays in the JWKS.
signing-notice-retired = The key is retired: it verifies nothing any more, on every instance.
signing-notice-not_verify = Only a key that verifies only can be retired: an active key is replaced by a rotation first.
signing-retire-title = Retire { $kid }?
signing-retire-what-title = What retiring ends
signing-retire-cookie = Every session token and CSRF token signed by { $kid } stops verifying at once. Signed-in browsers keep their sessions: at their next request they get a token from the active key. A form opened before and signed by { $kid } is refused once; sending it again works.
signing-retire-jwt = Every access token signed by { $kid } is refused at once, here and by every service that checks kunci's JWKS. Apps must refresh (their refresh tokens keep working); until then their calls get 401. Browser sessions are not affected.
signing-retire-count = { $count ->
    [0] This key has served no verification.
    [one] This key has served one verification.
   *[other] This key has served { $count } verifications.
}
signing-retire-instead = The schedule retires the key by itself when its window ends. Retire it now only if it may have leaked.
signing-retire-confirm = I understand that { $kid } stops verifying at once.

## Service clients

clients-title = Service clients
clients-intro = A service client is another program (a billing job, a deploy job, a backend) that calls kunci's API with requests signed by its secret, each usable once. Revoked names stay taken, so an old secret never comes back under a new client.
clients-scope-admin = administrator
clients-scope-user = user routes
clients-revoked = revoked
clients-revoke = Revoke
clients-empty = No service client yet.
clients-add = Add a client
clients-add-admin = Administrator (may also call the admin API, for example to import API keys)
clients-add-hint = 1 to 64 lowercase letters, digits, - and _. The secret is shown once, on the next page.
clients-add-submit = Add client
clients-error-name = A client name is 1 to 64 lowercase letters, digits, - and _, starting with a letter or a digit.
clients-error-exists = A client of that name exists already (a revoked name stays taken).
clients-added-title = { $name } was added
clients-added-once = Copy the secret now and keep it in the client's secret store: it is shown this once and cannot be shown again. docs/signed-requests.md says how to sign a request with it.
clients-secret = Secret
clients-notice-revoked = The client is revoked: its requests are refused from now on, on every instance.
clients-notice-not_active = That client is not active (unknown or revoked already).
clients-revoke-title = Revoke { $name }?
clients-revoke-what-title = What revoking does
clients-revoke-what = Every request signed by { $name } is refused from its next request on, on every instance. The name stays taken; to replace the secret, add a new client and move the caller to it first.
clients-revoke-confirm = I understand that { $name } stops working at once and cannot be restored.

## Audit log

audit-title = Audit log
audit-intro = Every change to accounts, keys, clients and settings, every sign-in and every refusal, newest first. Each entry is chained to the one before it, so an edit, a deletion or an insertion shows when the chain is verified. Times are in UTC.
audit-filter = Filter the audit log
audit-col-at = When
audit-col-actor = Actor
audit-col-action = Action
audit-col-target = Target
audit-col-outcome = Outcome
audit-col-kid = Verified by
audit-any = any
audit-from = From (day)
audit-until = Until (day, included)
audit-filter-submit = Show
audit-filter-clear = Show everything
audit-outcome-allowed = allowed
audit-outcome-started = started
audit-outcome-denied = denied
audit-outcome-failed = failed
audit-export-ndjson = Export as NDJSON
audit-export-csv = Export as CSV
audit-verify = Verify the chain
audit-pages = Pages of the audit log
audit-newest = Newest
audit-older = Older
audit-empty = The audit log is empty.
audit-empty-filtered = No entry matches this filter.
audit-error-actor = An actor is the name the log gives it, such as user:alice, cli or client:deploy.
audit-error-action = An action is a dotted name such as account.created, or a prefix ending in a dot such as account. for all of them.
audit-error-outcome = The outcome is allowed, started, denied or failed.
audit-error-date = A day is written as 2026-11-30.
audit-verify-intact = The chain is intact: { $entries } entries, up to entry { $head }.
audit-verify-head = Its head is { $mac }. Keep it somewhere else too: it also shows a rollback of the whole database.
audit-verify-unknown = { $count ->
    [one] One action has an unknown outcome: its intent has no outcome after it (the process stopped in between). Check whether it took effect.
   *[other] { $count } actions have an unknown outcome: their intent has no outcome after it (the process stopped in between). Check whether they took effect.
}
audit-verify-broken = The chain is broken:
audit-verify-broken-next = Someone with access to the database changed the log. Keep a copy of the database as it is now, and compare it with a backup.
audit-broken-edited = entry { $first } was edited or forged (its MAC does not match its content).
audit-broken-ip_edited = the IP hash of entry { $first } was edited.
audit-broken-missing = entries { $first } to { $second } were deleted.
audit-broken-out_of_place = entry { $first } does not follow entry { $second }: an entry was deleted, inserted or moved between them.
audit-broken-truncated = the log ends at entry { $first } but its head records entry { $second }: the entries after it were deleted.
audit-broken-beyond_head = entries follow the recorded head ({ $first }): they were written outside kunci.
audit-broken-head_edited = the head of the chain was edited or removed.

## Overview

overview-health = Health
overview-up = answers
overview-down = down
overview-optional = (kunci runs without it, in a fallback)
overview-degraded = Running in a documented fallback:
overview-doctor = The same checks with what to do, and those of HTTPS and cookies as the deployment answers: run kunci doctor on the server.
overview-counts = At a glance
overview-accounts = accounts
overview-accounts-detail = { $admins ->
    [one] one administrator
   *[other] { $admins } administrators
}, { $disabled } disabled
overview-locked = locked after failed sign-ins
overview-keys = API keys
overview-clients = active service clients
overview-signing-verify = signing keys that only verify
overview-logins = Sign-ins, last 24 hours
overview-logins-title = Sign-ins per hour (UTC)
overview-logins-ok = succeeded
overview-logins-refused = refused
overview-logins-cut = More sign-ins than the chart reads: it shows the newest 100,000.
overview-hour = Hour (UTC)
chart-as-table = The same figures as a table

## One account, for administrators

account-admin-sessions = Sessions and app logins
account-admin-col-ends = Ends at the latest
account-admin-no-sessions = This account is signed in nowhere.
account-admin-end-all = End every session and app login
account-admin-end-all-hint = Every browser of this account is signed out at its next request, and its apps' refresh tokens stop working. Use it when the account may be in someone else's hands.
account-admin-is-admin = This account is an administrator: it sees the console and may change everything in it.
account-admin-is-user = This account is a user: its own page, and the site's own pages.
account-admin-make-admin = Make administrator
account-admin-make-user = Take the administrator's access away
account-admin-notice-ended = The session is ended.
account-admin-notice-all_ended = Every session and app login of this account is ended.
account-admin-notice-made_admin = The account is an administrator from its next sign-in on.
account-admin-notice-made_user = The administrator's access is taken away, and every session and app login of the account is ended.
account-admin-notice-not_yourself = You cannot take your own administrator's access away: another administrator can, or kunci user scope.

## What a key looks like

key-format-expected = A key of this upstream is:
key-format-prefixed = “{ $prefix }” followed by { $rest } letters, digits, - or _ ({ $total } characters in all).
key-format-pattern = a key that matches the pattern { $pattern } (set by the operator).
key-format-printable = 8 to 512 printable characters, without spaces.
key-error-bad_request = The upstream found the request malformed.
key-error-refused = The upstream refused the key (invalid, blocked or over its quota).
key-error-not_found = The upstream did not know the address.
key-error-too_many = The upstream said: too many requests for now.
key-error-upstream_failed = The upstream failed or took too long.
key-error-unreachable = The upstream could not be reached.

## Importing keys from a file

import-title = Import keys from a file
import-file = Text file, one key per line
import-hint = Blank lines and lines starting with # are skipped. Every key is checked, stored sealed and audited as if added alone; keys already in the pool are left as they are.
import-submit = Import
import-summary = { $added ->
    [0] No key was added to { $upstream }.
    [one] One key was added to { $upstream }.
   *[other] { $added } keys were added to { $upstream }.
}
import-duplicates = { $count ->
    [one] One line holds a key that is in the pool already.
   *[other] { $count } lines hold keys that are in the pool already.
}
import-invalid = { $count ->
    [one] One line is not a key of this upstream's format.
   *[other] { $count } lines are not keys of this upstream's format.
}
import-failed = { $count ->
    [one] One key could not be stored (see the server's log); import the file again later.
   *[other] { $count } keys could not be stored (see the server's log); import the file again later.
}
import-col-line = Line
import-col-result = Result
import-result-added = added
import-result-duplicate = in the pool already
import-result-invalid = not a key
import-result-failed = not stored
import-error-upstream = Choose one of the upstreams in the list.
import-error-priority = The priority is a whole number.
import-error-not_text = Choose a text file (UTF-8), one key per line.
import-error-empty = The file holds no key.
import-error-too_long = The file has more than 10,000 lines: split it.

## Password reset links

reset-title = Set a new password
reset-for = For the account { $name }. The link works once, for an hour from when it was made.
reset-hint = At least { $min } characters. Every session and app login of the account ends, and you sign in with the new password.
reset-submit = Set the password
reset-dead = This link does not work: it was used already, it has expired (links last an hour), or a newer one replaced it. Ask an administrator for a new one.
reset-error-short = The new password needs at least { $min } characters.
reset-error-long = The new password is longer than 256 bytes.
reset-error-mismatch = The two new passwords differ.
login-after-reset = Your new password is set. Sign in with it.
account-admin-password = Password
account-admin-reset-hint = A one-time link sets a new password within the hour. Give it to the person another way (it is shown once); an earlier link of this account stops working.
account-admin-reset = Make a password-reset link
account-admin-reset-made = A reset link for this account, valid for an hour and for one use:

## Lockouts

console-lockouts = Lockouts
lockouts-title = Lockouts
lockouts-intro = After too many failed sign-ins, a name is locked for a while; a browser that signed in before keeps its own budget (its device cookie), and is locked on its own. A locked name that is no account's means someone is guessing names. Unlocking forgets the failed attempts too.
lockouts-col-what = Locked
lockouts-col-until = Until
lockouts-device = A browser's device cookie
lockouts-no-account = no such account
lockouts-empty = Nothing is locked.
lockouts-cut = Only the { $limit } locks that end last are listed.
lockouts-notice-unlocked = Unlocked: its failed attempts are forgotten.
lockouts-notice-not_locked = That was not locked (any more).

## Notification mails (in environment.default_language)

mail-title-account_locked = an account was locked after repeated failed sign-ins
mail-title-api_keys_exhausted = every API key of an upstream is spent
mail-title-api_keys_recovered = API keys of an upstream are available again
mail-title-api_key_invalid = an API key was refused as invalid
mail-title-refresh_token_reuse = a refresh token was used twice: its app login was ended
mail-title-signing_key_rotated = a signing key was rotated
mail-title-backup_failed = a scheduled backup failed
mail-field-kind = Event
mail-field-subject = About
mail-field-at = At
mail-field-actor = By
mail-field-client_id = App
mail-field-error = Error
mail-field-family = App login
mail-field-key_id = Key
mail-field-previous = Previous key
mail-field-purpose = Signs
mail-field-reason = Why
mail-field-scope = Locked
mail-field-until = Until
mail-field-upstream = Upstream

## Use of the keys over 30 days

usage-title = Use over the last 30 days
usage-hint = How often the pool handed out a key, per day (UTC): one chart per quota group, and one per upstream for its keys without a group.
usage-group = Quota group { $group }
usage-ungrouped = Keys of { $upstream } without a group
usage-of-key = Uses of { $key } per day
usage-uses = uses
usage-day = Day (UTC)
chart-empty = nothing in this period.
overview-requests = Requests and upstream calls, last 24 hours
overview-requests-title = Requests per hour (UTC), every instance
overview-requests-answered = answered
overview-requests-failed = failed on our side (5xx)
overview-upstream-title = Upstream calls per hour (UTC)
overview-upstream-served = served
overview-upstream-limited = throttled, over quota or unreachable
overview-upstream-refused = key or request refused

## The doctor's findings on the overview

overview-posture = Posture
overview-posture-passed = { $count ->
    [one] One check passes
   *[other] { $count } checks pass
}
overview-level-pass = passes
overview-level-warn = warning
overview-level-fail = failure
doctor-key_file_private = The master key file is readable by its owner only.
doctor-key_file_missing = KUNCI_MASTER_KEY_FILE names { $path }, which does not exist.
doctor-key_file_loose = { $path } holds a master key and is readable by group or others: chmod 600 it.
doctor-instance_key_deployed = A development master key lies in instance/.masterkey ({ $environment } never reads it): delete it unless it is this deployment's key.
doctor-env_file_deployed = A plaintext secrets file, { $name }, lies on this deployed machine: encrypt it with kunci env encrypt and delete it.
doctor-env_file = A plaintext secrets file, { $name }: encrypt it with kunci env encrypt and delete it.
doctor-env_files_none = No plaintext .env file lies in the project folder.
doctor-backup_leftover = { $path } is what a killed backup left behind (it may hold the database in clear): remove it.
doctor-config_secret = The secret { $key } is written in { $file }: move it into the encrypted env file.
doctor-redis_url = data.redis_url is not a Redis URL.
doctor-redis_unreachable = Redis did not answer at start: its persistence was not checked.
doctor-redis_config_refused = Redis refused CONFIG GET: its persistence was not checked.
doctor-redis_persists = Redis keeps the sessions on disk.
doctor-redis_memory_only = Redis keeps the sessions in memory only: a Redis restart signs everyone out (appendonly yes, or save).
doctor-rotation_off = Automatic rotation of the signing keys is off (security.key_rotation_days = 0).
doctor-no_active_key = There is no active { $purpose } key yet.
doctor-key_overdue = The active { $purpose } key is { $days } days old, while rotation is every { $rotation }: rotate it, and check the schedule runs.
doctor-key_age = The active { $purpose } key is { $days } days old.
doctor-backups_off = No scheduled backups (backup.interval_hours = 0).
doctor-no_backup_yet = No scheduled backup has been made yet.
doctor-backup_overdue = The newest backup is { $hours } hours old, while backups are due every { $interval }: see the log for backup_failed.
doctor-backup_fresh = The newest backup is { $hours } hours old.
doctor-backup_other_key = The newest backup was made under another master key: make one under this deployment's key.
overview-posture-clean = No check warns or fails.
doctor-admins_have_mfa = Every administrator has a second factor.
doctor-admins_without_mfa = Administrators who sign in with a password alone: { $names }.
