ALTER TABLE service_clients DROP COLUMN scopes;
