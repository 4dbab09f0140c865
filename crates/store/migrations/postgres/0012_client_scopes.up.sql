-- Service clients have scopes (SPEC §6): `user` (the default, what every client created
-- before had) or `user admin`, space-separated, as `kunci client add NAME --scope` gave.
ALTER TABLE service_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT 'user';
